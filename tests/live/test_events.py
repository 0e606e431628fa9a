"""Every write adds its event rows in the same transaction, with a gap-free `seq` per incident."""

from __future__ import annotations

from fastapi.testclient import TestClient

from app.db import Database
from tests.helpers import events


def _types(db: Database, incident_id: int) -> list[tuple[int, str]]:
    return [(seq, type_) for seq, type_, _ in events(db, incident_id)]


def test_each_write_adds_its_events(api: TestClient, db: Database) -> None:
    incident_id = api.post("/api/v1/incidents", json={"title": "Storm"}).json()["id"]
    assert _types(db, incident_id) == [(1, "incident.opened"), (2, "log.appended")]

    api.post(f"/api/v1/incidents/{incident_id}/log", json={"kind": "decision", "text": "Go."})
    assert _types(db, incident_id)[2:] == [(3, "log.appended")]
    assert events(db, incident_id)[2][2]["number"] == 2

    api.patch(f"/api/v1/incidents/{incident_id}", json={"level": "red"})
    assert _types(db, incident_id)[3:] == [(4, "log.appended"), (5, "incident.updated")]
    assert events(db, incident_id)[4][2] == {"level": "red"}

    api.patch(f"/api/v1/incidents/{incident_id}", json={"level": "green", "phase": "response"})
    assert _types(db, incident_id)[5:] == [
        (6, "log.appended"),
        (7, "log.appended"),
        (8, "incident.updated"),
    ]
    assert events(db, incident_id)[7][2] == {"level": "green", "phase": "response"}

    api.patch(f"/api/v1/incidents/{incident_id}", json={"phase": "closed"})
    assert _types(db, incident_id)[8:] == [(9, "log.appended"), (10, "incident.updated")]
    assert events(db, incident_id)[9][2] == {"phase": "closed"}

    # The log.appended events name every entry exactly once.
    appended = [
        data["number"] for _, type_, data in events(db, incident_id) if type_ == "log.appended"
    ]
    assert appended == [1, 2, 3, 4, 5, 6]


def test_refused_writes_add_no_events(api: TestClient, db: Database) -> None:
    incident_id = api.post("/api/v1/incidents", json={"title": "Storm"}).json()["id"]
    url = f"/api/v1/incidents/{incident_id}"
    refused = [
        api.post(f"{url}/log", json={"kind": "decision", "text": ""}),
        api.post(f"{url}/log", json={"kind": "decision", "text": "x", "corrects": 42}),
        api.post(
            f"{url}/log", json={"kind": "decision", "text": "x", "classification": "restricted"}
        ),
        api.patch(url, json={}),
        api.patch(url, json={"level": "yellow"}),  # no change, nothing to tell anyone
        api.post("/api/v1/incidents", json={"title": ""}),
    ]
    assert [r.status_code for r in refused] == [422, 422, 403, 422, 200, 422]
    api.patch(url, json={"phase": "closed"})
    before = events(db, incident_id)
    assert api.post(f"{url}/log", json={"kind": "decision", "text": "late"}).status_code == 409
    assert api.patch(url, json={"level": "red"}).status_code == 409
    assert events(db, incident_id) == before
    assert [seq for seq, _, _ in before] == [1, 2, 3, 4]


def test_seq_is_per_incident(api: TestClient, db: Database) -> None:
    first = api.post("/api/v1/incidents", json={"title": "One"}).json()["id"]
    second = api.post("/api/v1/incidents", json={"title": "Two"}).json()["id"]
    for n in range(3):
        api.post(f"/api/v1/incidents/{first}/log", json={"kind": "action", "text": f"a{n}"})
        api.post(f"/api/v1/incidents/{second}/log", json={"kind": "action", "text": f"b{n}"})
    assert [seq for seq, _ in _types(db, first)] == [1, 2, 3, 4, 5]
    assert [seq for seq, _ in _types(db, second)] == [1, 2, 3, 4, 5]
