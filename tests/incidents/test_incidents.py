"""Incidents over the JSON API: open, list, get, change level and phase, close; and the errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from tests.factories import Account
from tests.helpers import (
    all_entries,
    assert_problem,
    bearer,
    error_fields,
    log,
    open_incident,
    parse_time,
)


def test_open_incident_with_defaults(api: TestClient) -> None:
    before = datetime.now(UTC)
    response = api.post("/api/v1/incidents", json={"title": "  Storm Ingunn  "})
    assert response.status_code == 201, response.text
    incident = response.json()
    assert isinstance(incident["id"], int)
    assert incident["title"] == "Storm Ingunn"
    assert incident["category"] == "other"
    assert incident["level"] == "yellow"
    assert incident["phase"] == "alert"
    assert incident["exercise"] is False
    assert incident["closed"] is False
    assert incident["closed_at"] is None
    assert incident["opened_by"] == "Siri Staff"
    assert before - timedelta(seconds=1) <= parse_time(incident["opened_at"]) <= datetime.now(UTC)
    assert incident["log_count"] == 1  # the system entry that records the opening


def test_open_incident_with_every_field(api: TestClient) -> None:
    incident = open_incident(
        api, title="Vannforurensning", category="water_supply", level="red", exercise=True
    )
    assert (incident["category"], incident["level"], incident["exercise"]) == (
        "water_supply",
        "red",
        True,
    )
    fetched = api.get(f"/api/v1/incidents/{incident['id']}")
    assert fetched.status_code == 200
    assert fetched.json() == incident


def test_the_opening_is_logged_by_the_system(api: TestClient) -> None:
    incident = open_incident(api, level="red")
    [entry] = all_entries(api, incident["id"])
    assert entry["number"] == 1
    assert entry["system"] is True
    assert entry["kind"] == "system"
    assert entry["author"] is None
    assert entry["withheld"] is False
    assert "Siri Staff" in entry["text"]  # the system says who did it, without being its author


def test_list_incidents(api: TestClient) -> None:
    first = open_incident(api, title="Flom i Elvdal")
    second = open_incident(api, title="Dataangrep", category="digital_security")
    response = api.get("/api/v1/incidents")
    assert response.status_code == 200
    listed = {item["id"]: item for item in response.json()}
    assert listed == {first["id"]: first, second["id"]: second}


def test_closed_incidents_are_listed_after_open_ones(api: TestClient) -> None:
    closed = open_incident(api, title="Old")
    assert (
        api.patch(f"/api/v1/incidents/{closed['id']}", json={"phase": "closed"}).status_code == 200
    )
    still_open = open_incident(api, title="New")
    ids = [item["id"] for item in api.get("/api/v1/incidents").json()]
    assert ids == [still_open["id"], closed["id"]]


def test_change_level_writes_a_system_entry(api: TestClient, incident_id: int) -> None:
    log(api, incident_id, kind="decision", text="Call in the crisis staff.")
    response = api.patch(f"/api/v1/incidents/{incident_id}", json={"level": "red"})
    assert response.status_code == 200, response.text
    assert response.json()["level"] == "red"
    assert response.json()["log_count"] == 3

    entries = all_entries(api, incident_id)
    assert [e["number"] for e in entries] == [1, 2, 3]
    change = entries[-1]
    assert change["system"] is True
    assert change["kind"] == "system"
    assert change["author"] is None
    assert change["text"]


def test_change_level_and_phase_at_once(api: TestClient, incident_id: int) -> None:
    response = api.patch(
        f"/api/v1/incidents/{incident_id}", json={"level": "green", "phase": "response"}
    )
    assert response.status_code == 200, response.text
    assert (response.json()["level"], response.json()["phase"]) == ("green", "response")
    entries = all_entries(api, incident_id)
    assert [(e["number"], e["system"]) for e in entries] == [(1, True), (2, True), (3, True)]
    assert api.get(f"/api/v1/incidents/{incident_id}").json()["phase"] == "response"


def test_a_change_to_the_same_value_logs_nothing(api: TestClient, incident_id: int) -> None:
    response = api.patch(f"/api/v1/incidents/{incident_id}", json={"level": "yellow"})
    assert response.status_code == 200
    assert response.json()["log_count"] == 1


def test_an_empty_change_is_refused(api: TestClient, incident_id: int) -> None:
    assert_problem(api.patch(f"/api/v1/incidents/{incident_id}", json={}), 422, "invalid")
    assert len(all_entries(api, incident_id)) == 1


@pytest.mark.parametrize(
    "change", [{"level": "purple"}, {"phase": "over"}, {"level": "red", "title": "renamed"}]
)
def test_an_invalid_change_is_refused(
    api: TestClient, incident_id: int, change: dict[str, str]
) -> None:
    assert_problem(api.patch(f"/api/v1/incidents/{incident_id}", json=change), 422, "invalid")
    assert api.get(f"/api/v1/incidents/{incident_id}").json()["level"] == "yellow"


def test_closing_ends_all_writes(api: TestClient, incident_id: int) -> None:
    log(api, incident_id, text="Last word before closing.")
    closed = api.patch(f"/api/v1/incidents/{incident_id}", json={"phase": "closed"})
    assert closed.status_code == 200, closed.text
    body = closed.json()
    assert body["closed"] is True
    assert body["phase"] == "closed"
    assert body["closed_at"] is not None
    last = all_entries(api, incident_id)[-1]
    assert (last["number"], last["system"]) == (3, True)

    write = api.post(
        f"/api/v1/incidents/{incident_id}/log", json={"kind": "decision", "text": "Too late"}
    )
    problem = assert_problem(write, 409, "incident-closed")
    assert "closed" in problem["detail"]
    assert_problem(
        api.patch(f"/api/v1/incidents/{incident_id}", json={"level": "red"}), 409, "incident-closed"
    )
    assert_problem(
        api.patch(f"/api/v1/incidents/{incident_id}", json={"phase": "response"}),
        409,
        "incident-closed",
    )
    # Nothing half-written, and the closed log can still be read and proven.
    assert [e["number"] for e in all_entries(api, incident_id)] == [1, 2, 3]
    assert api.get(f"/api/v1/incidents/{incident_id}").json()["log_count"] == 3
    verified = api.get(f"/api/v1/incidents/{incident_id}/log/verify").json()
    assert verified["ok"] is True
    assert verified["head"]["number"] == 3


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"title": "Flom", "category": "flood"}, "category"),
        ({"title": "Flom", "level": "orange"}, "level"),
        ({"title": "Flom", "level": "RED"}, "level"),
        ({"title": "Flom", "exercise": "maybe"}, "exercise"),
        ({"title": ""}, "title"),
        ({"title": "   "}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"title": "Flom\x00"}, "title"),
        ({"title": "Flom\x1b[31m"}, "title"),
        ({"title": 17}, "title"),
        ({}, "title"),
        ({"title": "Flom", "phase": "closed"}, "phase"),
    ],
)
def test_invalid_incident_is_refused(api: TestClient, body: dict[str, object], field: str) -> None:
    problem = assert_problem(api.post("/api/v1/incidents", json=body), 422, "invalid")
    assert field in error_fields(problem)
    assert api.get("/api/v1/incidents").json() == []


def test_malformed_json_is_a_bad_request(api: TestClient) -> None:
    response = api.post(
        "/api/v1/incidents",
        content=b'{"title": "Flom",',
        headers={"content-type": "application/json"},
    )
    assert_problem(response, 400, "malformed-json")
    assert api.get("/api/v1/incidents").json() == []


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/incidents/999"),
        ("PATCH", "/api/v1/incidents/999"),
        ("GET", "/api/v1/incidents/999/log"),
        ("POST", "/api/v1/incidents/999/log"),
        ("GET", "/api/v1/incidents/999/log/1"),
        ("GET", "/api/v1/incidents/999/log/verify"),
        ("GET", "/api/v1/incidents/999/log/export"),
    ],
)
def test_unknown_incident_is_not_found(api: TestClient, method: str, path: str) -> None:
    body = {"kind": "decision", "text": "x"} if method == "POST" else {"level": "red"}
    response = api.request(method, path, json=body if method != "GET" else None)
    problem = assert_problem(response, 404, "not-found")
    assert problem["instance"] == path


def test_unknown_api_address_is_a_problem(api: TestClient) -> None:
    assert_problem(api.get("/api/v1/nothing-here"), 404, "not-found")
    assert_problem(api.delete("/api/v1/incidents"), 405)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer smv_not-a-real-token"},
        {"Authorization": "Bearer "},
        {"Authorization": "Basic c2lyaTpwYXNzd29yZA=="},
        {"Authorization": "smv_no-scheme"},
    ],
    ids=["missing", "unknown", "empty", "basic", "no-scheme"],
)
def test_no_valid_token_is_unauthorized(
    client: TestClient, staff: Account, headers: dict[str, str]
) -> None:
    created = client.post("/api/v1/incidents", json={"title": "Storm"}, headers=bearer(staff.token))
    incident = created.json()
    requests = [
        ("GET", "/api/v1/incidents", None),
        ("POST", "/api/v1/incidents", {"title": "Flom"}),
        ("GET", f"/api/v1/incidents/{incident['id']}", None),
        ("PATCH", f"/api/v1/incidents/{incident['id']}", {"level": "red"}),
        ("GET", f"/api/v1/incidents/{incident['id']}/log", None),
        ("POST", f"/api/v1/incidents/{incident['id']}/log", {"kind": "decision", "text": "x"}),
        ("GET", f"/api/v1/incidents/{incident['id']}/log/verify", None),
        ("GET", f"/api/v1/incidents/{incident['id']}/log/export", None),
        ("GET", "/api/v1/incidents/999", None),
    ]
    for method, path, body in requests:
        response = client.request(method, path, headers=headers, json=body)
        assert_problem(response, 401, "unauthorized")
        assert response.headers["www-authenticate"] == "Bearer", path
    # and nothing was written on the way
    listed = client.get("/api/v1/incidents", headers=bearer(staff.token)).json()
    assert [(i["id"], i["level"], i["log_count"]) for i in listed] == [
        (incident["id"], "yellow", 1)
    ]
