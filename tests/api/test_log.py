"""The decision log over the JSON API: numbering, paging, times, text rules, corrections."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from itertools import pairwise
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.actions import transaction
from app.db import Database
from app.incidents.service import get_incident
from app.log.models import Classification, EntryKind
from app.log.service import lock_incident, write_entry
from tests import factories
from tests.api.conftest import all_entries, log
from tests.factories import Account
from tests.helpers import GENESIS, assert_problem, check_chain, error_fields, parse_time


def _post(api: TestClient, incident_id: int, body: Any) -> Any:
    return api.post(f"/api/v1/incidents/{incident_id}/log", json=body)


def test_an_entry_as_written(api: TestClient, incident_id: int) -> None:
    before = datetime.now(UTC)
    entry = log(api, incident_id, kind="decision", text="Evacuate Nordbyen school.")
    after = datetime.now(UTC)
    assert entry["incident_id"] == incident_id
    assert entry["number"] == 2
    assert entry["kind"] == "decision"
    assert entry["text"] == "Evacuate Nordbyen school."
    assert entry["author"]["name"] == "Siri Staff"
    assert isinstance(entry["author"]["id"], int)
    assert entry["system"] is False
    assert entry["withheld"] is False
    assert entry["classification"] == "internal"
    assert entry["corrects"] is None
    assert entry["corrected_by"] == []
    recorded = parse_time(entry["recorded_at"])
    assert before - timedelta(seconds=1) <= recorded <= after + timedelta(seconds=1)
    assert parse_time(entry["occurred_at"]) == recorded  # defaults to now
    assert len(entry["hash"]) == len(entry["content_digest"]) == 64
    assert api.get(f"/api/v1/incidents/{incident_id}/log/2").json() == entry


@pytest.mark.parametrize("kind", ["decision", "information", "action", "message_in", "message_out"])
def test_every_person_kind_can_be_logged(api: TestClient, incident_id: int, kind: str) -> None:
    assert log(api, incident_id, kind=kind)["kind"] == kind


def test_numbers_run_without_gaps_and_chain(api: TestClient, incident_id: int) -> None:
    written = [log(api, incident_id, text=f"Entry {n}") for n in range(5)]
    assert [e["number"] for e in written] == [2, 3, 4, 5, 6]
    entries = all_entries(api, incident_id)
    assert [e["number"] for e in entries] == [1, 2, 3, 4, 5, 6]
    assert entries[0]["prev_hash"] == GENESIS
    for prev, entry in pairwise(entries):
        assert entry["prev_hash"] == prev["hash"]
    check_chain(entries)
    # A failed write in between does not use up a number.
    assert_problem(_post(api, incident_id, {"kind": "decision", "text": ""}), 422)
    assert log(api, incident_id)["number"] == 7
    verified = api.get(f"/api/v1/incidents/{incident_id}/log/verify").json()
    assert verified["ok"] is True
    assert verified["checked"] == 7
    assert verified["problems"] == []
    assert verified["head"] == {"number": 7, "hash": all_entries(api, incident_id)[-1]["hash"]}


def test_each_incident_has_its_own_numbers(api: TestClient, incident_id: int) -> None:
    other = api.post("/api/v1/incidents", json={"title": "Second"}).json()["id"]
    log(api, incident_id)
    log(api, incident_id)
    assert log(api, other)["number"] == 2
    assert [e["number"] for e in all_entries(api, other)] == [1, 2]


def test_paging_with_after_and_limit(api: TestClient, incident_id: int) -> None:
    for n in range(6):
        log(api, incident_id, text=f"Entry {n}")  # numbers 2..7
    url = f"/api/v1/incidents/{incident_id}/log"
    seen: list[int] = []
    after: int | None = 0
    pages = []
    while after is not None:
        page = api.get(url, params={"after": after, "limit": 3}).json()
        pages.append([e["number"] for e in page["items"]])
        seen.extend(e["number"] for e in page["items"])
        after = page["next_after"]
    assert pages == [[1, 2, 3], [4, 5, 6], [7]]
    assert seen == list(range(1, 8))

    # A page that ends exactly at the end says so.
    page = api.get(url, params={"after": 4, "limit": 3}).json()
    assert [e["number"] for e in page["items"]] == [5, 6, 7]
    assert page["next_after"] is None
    page = api.get(url, params={"after": 7}).json()
    assert page == {"items": [], "next_after": None}
    page = api.get(url, params={"after": 2, "limit": 1}).json()
    assert ([e["number"] for e in page["items"]], page["next_after"]) == ([3], 3)


@pytest.mark.parametrize(
    "params",
    [{"limit": 0}, {"limit": 1001}, {"after": -1}, {"limit": "ten"}, {"kind": "rumour"}],
)
def test_bad_paging_is_refused(api: TestClient, incident_id: int, params: dict[str, Any]) -> None:
    assert_problem(api.get(f"/api/v1/incidents/{incident_id}/log", params=params), 422, "invalid")


def test_kind_filter(api: TestClient, incident_id: int) -> None:
    log(api, incident_id, kind="decision", text="First decision")
    log(api, incident_id, kind="information", text="Some news")
    log(api, incident_id, kind="decision", text="Second decision")
    url = f"/api/v1/incidents/{incident_id}/log"
    decisions = api.get(url, params={"kind": "decision"}).json()
    assert [(e["number"], e["text"]) for e in decisions["items"]] == [
        (2, "First decision"),
        (4, "Second decision"),
    ]
    assert [e["number"] for e in api.get(url, params={"kind": "system"}).json()["items"]] == [1]
    assert api.get(url, params={"kind": "message_in"}).json()["items"] == []
    paged = api.get(url, params={"kind": "decision", "limit": 1}).json()
    assert ([e["number"] for e in paged["items"]], paged["next_after"]) == ([2], 2)
    rest = api.get(url, params={"kind": "decision", "after": 2}).json()
    assert ([e["number"] for e in rest["items"]], rest["next_after"]) == ([4], None)


def test_occurred_at_can_be_set_with_an_offset(api: TestClient, incident_id: int) -> None:
    oslo = timezone(timedelta(hours=2))
    happened = (datetime.now(UTC) - timedelta(hours=3)).astimezone(oslo).replace(microsecond=0)
    entry = log(api, incident_id, occurred_at=happened.isoformat())
    assert happened.isoformat().endswith("+02:00")
    assert parse_time(entry["occurred_at"]) == happened
    assert parse_time(entry["recorded_at"]) > happened + timedelta(hours=2)
    assert parse_time(all_entries(api, incident_id)[-1]["occurred_at"]) == happened
    assert api.get(f"/api/v1/incidents/{incident_id}/log/verify").json()["ok"] is True


def test_a_slightly_fast_clock_is_tolerated(api: TestClient, incident_id: int) -> None:
    soon = datetime.now(UTC) + timedelta(minutes=1)
    assert parse_time(log(api, incident_id, occurred_at=soon.isoformat())["occurred_at"]) == soon


def test_old_times_are_kept_exactly(api: TestClient, incident_id: int) -> None:
    epoch = "1970-01-01T01:00:00+01:00"
    assert parse_time(log(api, incident_id, occurred_at=epoch)["occurred_at"]) == parse_time(epoch)
    check_chain(all_entries(api, incident_id))


@pytest.mark.parametrize(
    "occurred_at",
    [
        "2026-01-05T10:00:00",  # no offset: ambiguous
        (datetime.now(UTC) + timedelta(days=1)).isoformat(),
        "9999-12-31T23:59:59+00:00",
        "yesterday",
        "9999-12-31T23:59:59-14:00",  # after the end of the calendar in UTC
        "0001-01-01T00:00:00+01:00",  # before the start of the calendar in UTC
        "1969-12-31T23:59:59+00:00",
        "2026-02-30T10:00:00+01:00",
        "",
    ],
    ids=[
        "naive",
        "tomorrow",
        "year-9999",
        "year-9999-west",
        "year-1-east",
        "before-1970",
        "words",
        "no-such-day",
        "empty",
    ],
)
def test_bad_occurred_at_is_refused(api: TestClient, incident_id: int, occurred_at: Any) -> None:
    response = _post(
        api, incident_id, {"kind": "decision", "text": "x", "occurred_at": occurred_at}
    )
    problem = assert_problem(response, 422, "invalid")
    assert "occurred_at" in error_fields(problem)
    assert len(all_entries(api, incident_id)) == 1


def test_recorded_at_is_the_servers(api: TestClient, incident_id: int) -> None:
    body = {"kind": "decision", "text": "x", "recorded_at": "2020-01-01T00:00:00+00:00"}
    problem = assert_problem(_post(api, incident_id, body), 422, "invalid")
    assert "recorded_at" in error_fields(problem)


@pytest.mark.parametrize(
    "text",
    [
        "",
        " ",
        "  \n\t  \r\n ",
        "x" * 10_001,
        "ab\x00cd",
        "bell\x07",
        "\x1b[31mred",
        "del\x7f",
        "nul only\x00",
    ],
    ids=["empty", "space", "whitespace", "too-long", "nul", "bell", "escape", "del", "nul-end"],
)
def test_bad_text_is_refused(api: TestClient, incident_id: int, text: str) -> None:
    problem = assert_problem(
        _post(api, incident_id, {"kind": "decision", "text": text}), 422, "invalid"
    )
    assert "text" in error_fields(problem)
    assert len(all_entries(api, incident_id)) == 1


def test_text_rules_that_accept(api: TestClient, incident_id: int) -> None:
    assert log(api, incident_id, text="x" * 10_000)["text"] == "x" * 10_000
    assert log(api, incident_id, text="  trimmed \n")["text"] == "trimmed"
    kept = "Line one\nLine two\twith a tab\r\nLine three"
    assert log(api, incident_id, text=kept)["text"] == "Line one\nLine two\twith a tab\nLine three"
    # One spelling of "ø" and "å" in the chain, whatever the keyboard sent.
    assert (
        log(api, incident_id, text="Tr\u00f8ndelag og a\u030a")["text"]
        == "Tr\u00f8ndelag og \u00e5"
    )
    check_chain(all_entries(api, incident_id))


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "rumour", "text": "x"}, "kind"),
        ({"kind": "system", "text": "I am the system now"}, "kind"),
        ({"kind": "Decision", "text": "x"}, "kind"),
        ({"text": "x"}, "kind"),
        ({"kind": "decision"}, "text"),
        ({"kind": "decision", "text": 42}, "text"),
        ({"kind": "decision", "text": None}, "text"),
        ({"kind": "decision", "text": "x", "classification": "secret"}, "classification"),
        ({"kind": "decision", "text": "x", "number": 99}, "number"),
        ({"kind": "decision", "text": "x", "author": {"id": 1, "name": "Boss"}}, "author"),
        ({"kind": "decision", "text": "x", "hash": "0" * 64}, "hash"),
        ({"kind": "decision", "text": "x", "system": True}, "system"),
        ({"kind": "decision", "text": "x", "corrects": 0}, "corrects"),
        ({"kind": "decision", "text": "x", "corrects": "two"}, "corrects"),
    ],
)
def test_invalid_entry_is_refused(
    api: TestClient, incident_id: int, body: dict[str, Any], field: str
) -> None:
    problem = assert_problem(_post(api, incident_id, body), 422, "invalid")
    assert field in error_fields(problem), problem
    assert len(all_entries(api, incident_id)) == 1


@pytest.mark.parametrize("body", [[], ["decision"], "decision", 17, None])
def test_a_body_that_is_not_an_object_is_refused(
    api: TestClient, incident_id: int, body: Any
) -> None:
    assert_problem(_post(api, incident_id, body), 422, "invalid")


@pytest.mark.parametrize(
    ("raw", "status", "code"),
    [
        (b'{"kind": "decision", "text": "x"', 400, "malformed-json"),
        (b"{kind: decision}", 400, "malformed-json"),
        (b'{"kind": "decision", "text": "x"} trailing', 400, "malformed-json"),
        (b"\xff\xfe\x00", 400, "malformed-json"),
        (b"", 422, "invalid"),  # no body at all: the body is missing, not malformed
        (b'{"kind": "decision", "text": "a\\ud800b"}', 422, "invalid"),  # not Unicode text
    ],
    ids=["truncated", "unquoted", "trailing", "not-utf8", "empty", "lone-surrogate"],
)
def test_malformed_json(
    api: TestClient, incident_id: int, raw: bytes, status: int, code: str
) -> None:
    response = api.post(
        f"/api/v1/incidents/{incident_id}/log",
        content=raw,
        headers={"content-type": "application/json"},
    )
    assert_problem(response, status, code)
    assert len(all_entries(api, incident_id)) == 1


def test_problem_speaks_the_readers_language(api: TestClient, incident_id: int) -> None:
    english = _post(api, incident_id, {"kind": "decision", "text": "x", "corrects": 99})
    norwegian = api.post(
        f"/api/v1/incidents/{incident_id}/log",
        json={"kind": "decision", "text": "x", "corrects": 99},
        headers={"Accept-Language": "nb-NO,nb;q=0.9"},
    )
    assert assert_problem(english, 422)["detail"] != assert_problem(norwegian, 422)["detail"]


def test_a_correction_links_both_ways(api: TestClient, incident_id: int) -> None:
    original = log(api, incident_id, kind="decision", text="Close the E6 at Kvam.")
    log(api, incident_id, text="Unrelated news.")
    correction = log(
        api, incident_id, kind="decision", text="Close the E6 at Ringebu, not Kvam.", corrects=2
    )
    assert original["number"] == 2
    assert correction["number"] == 4
    assert correction["corrects"] == 2
    assert correction["corrected_by"] == []
    assert correction["classification"] == "internal"

    again = log(api, incident_id, kind="information", text="Also: Fåvang.", corrects=2)
    entries = {e["number"]: e for e in all_entries(api, incident_id)}
    assert entries[2]["corrected_by"] == [4, 5]
    assert entries[2]["text"] == "Close the E6 at Kvam."  # the original stays as written
    assert entries[3]["corrected_by"] == []
    assert entries[4]["corrects"] == 2
    single = api.get(f"/api/v1/incidents/{incident_id}/log/2").json()
    assert single["corrected_by"] == [4, 5]
    # A correction may itself be corrected, and system entries may be corrected too.
    assert (
        log(api, incident_id, text="Fåvang was wrong.", corrects=again["number"])["corrects"] == 5
    )
    assert log(api, incident_id, text="Opened earlier than that.", corrects=1)["corrects"] == 1
    check_chain(all_entries(api, incident_id))
    assert api.get(f"/api/v1/incidents/{incident_id}/log/verify").json()["ok"] is True


@pytest.mark.parametrize("target", [99, 3], ids=["no-such-entry", "itself"])
def test_a_correction_of_an_unknown_entry_is_refused(
    api: TestClient, incident_id: int, target: int
) -> None:
    log(api, incident_id)  # #2; the next entry would be #3
    problem = assert_problem(
        _post(api, incident_id, {"kind": "decision", "text": "x", "corrects": target}),
        422,
        "invalid",
    )
    assert "corrects" in error_fields(problem)
    assert f"#{target}" in problem["detail"]
    assert len(all_entries(api, incident_id)) == 2


def test_a_correction_cannot_point_into_another_incident(api: TestClient, incident_id: int) -> None:
    other = api.post("/api/v1/incidents", json={"title": "Other"}).json()["id"]
    for _ in range(3):
        log(api, other)  # the other log has #2..#4, this one only #1
    body = {"kind": "decision", "text": "x", "corrects": 4}
    assert_problem(_post(api, incident_id, body), 422, "invalid")


def test_a_correction_inherits_and_may_raise_the_classification(
    api: TestClient, incident_id: int
) -> None:
    log(api, incident_id, text="Public statement draft.", classification="open")
    inherited = log(api, incident_id, text="Fix the draft.", corrects=2)
    assert inherited["classification"] == "open"
    stricter = log(api, incident_id, text="Fix, internally.", corrects=2, classification="internal")
    assert stricter["classification"] == "internal"

    log(api, incident_id, text="Internal note.")  # #5, internal by default
    problem = assert_problem(
        _post(
            api,
            incident_id,
            {"kind": "information", "text": "x", "corrects": 5, "classification": "open"},
        ),
        422,
        "invalid",
    )
    assert "classification" in error_fields(problem)
    assert problem["detail"].endswith("(Internal).")  # the word, not the API's value
    in_norwegian = assert_problem(
        api.post(
            f"/api/v1/incidents/{incident_id}/log",
            json={"kind": "information", "text": "x", "corrects": 5, "classification": "open"},
            headers={"Accept-Language": "nb"},
        ),
        422,
        "invalid",
    )
    assert in_norwegian["detail"].endswith("(Intern).")
    assert len(all_entries(api, incident_id)) == 5


def test_get_one_entry(api: TestClient, incident_id: int) -> None:
    entry = log(api, incident_id)
    assert api.get(f"/api/v1/incidents/{incident_id}/log/{entry['number']}").json() == entry
    assert_problem(api.get(f"/api/v1/incidents/{incident_id}/log/3"), 404, "not-found")
    for number in ("0", "-1", "two", str(2**31), str(2**64), str(-(2**70))):
        assert_problem(api.get(f"/api/v1/incidents/{incident_id}/log/{number}"), 422, "invalid")


@pytest.mark.parametrize("big", [2**31, 2**63, 2**64, 10**30])
def test_huge_numbers_are_refused_not_overflowed(
    api: TestClient, incident_id: int, big: int
) -> None:
    url = f"/api/v1/incidents/{incident_id}/log"
    assert_problem(api.get(url, params={"after": big}), 422, "invalid")
    assert_problem(api.get(f"{url}/{big}"), 422, "invalid")
    assert_problem(api.get(f"/api/v1/incidents/{big}"), 422, "invalid")
    assert_problem(api.get(f"/api/v1/incidents/{-big}/log"), 422, "invalid")
    body = {"kind": "decision", "text": "x", "corrects": big}
    assert "corrects" in error_fields(assert_problem(_post(api, incident_id, body), 422, "invalid"))
    assert len(all_entries(api, incident_id)) == 1


def test_export_is_json_lines_of_the_entries(api: TestClient, incident_id: int) -> None:
    log(api, incident_id, kind="decision", text="Open the crisis room.\nCall everyone in.")
    log(api, incident_id, text="Bjørn is on his way.", corrects=2)
    response = api.get(f"/api/v1/incidents/{incident_id}/log/export")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/x-ndjson")
    assert f"samvirke-incident-{incident_id}-log.jsonl" in response.headers["content-disposition"]
    assert response.text.endswith("\n")
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert lines == all_entries(api, incident_id)
    assert "Bjørn" in response.text  # UTF-8, not \\u escapes
    check_chain(lines)


def test_export_of_many_entries_is_complete(api: TestClient, db: Database, staff: Account) -> None:
    # More than one export batch (500) and more than one page (100), written through the service.
    incident = factories.incident(db, staff)
    with transaction(db) as tx:  # one transaction: 510 durable commits would be slow
        current = get_incident(tx.session, incident.id or 0)
        lock_incident(tx.session, current)
        for n in range(510):
            write_entry(
                tx,
                incident=current,
                kind=EntryKind.information,
                text=f"Line {n}",
                classification=Classification.internal,
                author=staff.user,
            )
    export = api.get(f"/api/v1/incidents/{incident.id}/log/export").text
    lines = [json.loads(line) for line in export.splitlines()]
    # The entries, then a signed checkpoint for every 50 (docs/log-chain.md).
    assert [e["number"] for e in lines[:511]] == list(range(1, 512))
    assert [c["checkpoint"]["number"] for c in lines[511:]] == list(range(50, 501, 50))
    check_chain(lines[:511])
    assert api.get(f"/api/v1/incidents/{incident.id}/log/verify").json()["checked"] == 511
