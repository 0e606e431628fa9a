"""Classification: restricted entries are withheld from viewers without clearance, on every path.

A withheld entry keeps its envelope (number, classification, times, digest, hashes), so the
uncleared reader's copy of the log still proves the whole chain.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.factories import Account
from tests.helpers import all_entries, assert_problem, bearer, check_chain, log

ENVELOPE = (
    "incident_id",
    "number",
    "classification",
    "occurred_at",
    "recorded_at",
    "content_digest",
    "prev_hash",
    "hash",
)
SECRET = "Minister arrives 14:00 by helicopter at Gardermoen."


@pytest.fixture
def as_cleared(client: TestClient, cleared: Account) -> dict[str, str]:
    return bearer(cleared.token)


@pytest.fixture
def restricted_log(api: TestClient, incident_id: int, as_cleared: dict[str, str]) -> int:
    """#1 system, #2 internal, #3 restricted decision (by the cleared user), #4 open."""
    log(api, incident_id, kind="decision", text="Open the crisis room.")
    response = api.post(
        f"/api/v1/incidents/{incident_id}/log",
        json={"kind": "decision", "text": SECRET, "classification": "restricted"},
        headers=as_cleared,
    )
    assert response.status_code == 201, response.text
    assert response.json()["withheld"] is False  # the author reads their own entry
    log(api, incident_id, kind="message_out", text="Press release sent.", classification="open")
    return incident_id


def _assert_withheld(entry: dict[str, Any], full: dict[str, Any]) -> None:
    assert entry["withheld"] is True
    for field in ENVELOPE:
        assert entry[field] == full[field], field
    assert entry["classification"] == "restricted"
    for field in ("text", "author", "kind", "system", "corrects"):
        assert entry[field] is None, field
    assert entry["corrected_by"] == []


def test_uncleared_user_cannot_write_restricted(api: TestClient, incident_id: int) -> None:
    response = api.post(
        f"/api/v1/incidents/{incident_id}/log",
        json={"kind": "decision", "text": "x", "classification": "restricted"},
    )
    assert_problem(response, 403, "forbidden")
    assert [e["number"] for e in all_entries(api, incident_id)] == [1]
    assert api.get(f"/api/v1/incidents/{incident_id}").json()["log_count"] == 1


def test_cleared_user_sees_everything(
    client: TestClient, restricted_log: int, as_cleared: dict[str, str]
) -> None:
    entries = all_entries(client, restricted_log, as_cleared)
    assert [e["withheld"] for e in entries] == [False, False, False, False]
    assert entries[2]["text"] == SECRET
    assert entries[2]["author"]["name"] == "Rolf Restricted"
    check_chain(entries)


def test_restricted_entry_is_withheld_in_the_list(
    api: TestClient, restricted_log: int, as_cleared: dict[str, str]
) -> None:
    full = all_entries(api, restricted_log, as_cleared)
    seen = all_entries(api, restricted_log)
    assert [e["number"] for e in seen] == [1, 2, 3, 4]
    assert [e["withheld"] for e in seen] == [False, False, True, False]
    _assert_withheld(seen[2], full[2])
    assert seen[3] == full[3]
    assert SECRET not in json.dumps(seen)
    assert "Rolf" not in json.dumps(seen)
    check_chain(seen)  # the proof survives redaction


def test_restricted_entry_is_withheld_when_fetched_alone(
    api: TestClient, restricted_log: int, as_cleared: dict[str, str]
) -> None:
    full = api.get(f"/api/v1/incidents/{restricted_log}/log/3", headers=as_cleared).json()
    seen = api.get(f"/api/v1/incidents/{restricted_log}/log/3")
    assert seen.status_code == 200
    _assert_withheld(seen.json(), full)


def test_restricted_entry_is_withheld_in_the_export(
    api: TestClient, restricted_log: int, as_cleared: dict[str, str]
) -> None:
    cleared_export = api.get(f"/api/v1/incidents/{restricted_log}/log/export", headers=as_cleared)
    staff_export = api.get(f"/api/v1/incidents/{restricted_log}/log/export")
    full = [json.loads(line) for line in cleared_export.text.splitlines()]
    seen = [json.loads(line) for line in staff_export.text.splitlines()]
    assert SECRET in cleared_export.text
    assert SECRET not in staff_export.text
    assert "Rolf" not in staff_export.text
    assert [e["withheld"] for e in seen] == [False, False, True, False]
    _assert_withheld(seen[2], full[2])
    # Both copies prove the same chain up to the same head.
    check_chain(full)
    check_chain(seen)
    assert [e["hash"] for e in seen] == [e["hash"] for e in full]
    verified = api.get(f"/api/v1/incidents/{restricted_log}/log/verify").json()
    assert verified["ok"] is True
    assert verified["head"]["hash"] == seen[-1]["hash"]


def test_kind_filter_never_reveals_a_withheld_entry(
    api: TestClient, restricted_log: int, as_cleared: dict[str, str]
) -> None:
    url = f"/api/v1/incidents/{restricted_log}/log"
    mine = api.get(url, params={"kind": "decision"}).json()["items"]
    assert [e["number"] for e in mine] == [2]
    theirs = api.get(url, params={"kind": "decision"}, headers=as_cleared).json()["items"]
    assert [e["number"] for e in theirs] == [2, 3]
    for kind in ("information", "action", "message_in", "message_out", "system"):
        numbers = [e["number"] for e in api.get(url, params={"kind": kind}).json()["items"]]
        assert 3 not in numbers, kind


def test_uncleared_user_cannot_correct_or_probe_a_restricted_entry(
    api: TestClient, restricted_log: int
) -> None:
    probe = api.post(
        f"/api/v1/incidents/{restricted_log}/log",
        json={"kind": "decision", "text": "x", "corrects": 3, "classification": "restricted"},
    )
    assert probe.status_code in (403, 422)
    assert_problem(probe, probe.status_code)
    guess = api.post(
        f"/api/v1/incidents/{restricted_log}/log",
        json={"kind": "decision", "text": "x", "corrects": 3},
    )
    missing = api.post(
        f"/api/v1/incidents/{restricted_log}/log",
        json={"kind": "decision", "text": "x", "corrects": 99},
    )
    # Same answer as for an entry that does not exist: nothing to learn from the error.
    assert assert_problem(guess, 422)["code"] == assert_problem(missing, 422)["code"]
    assert guess.json()["errors"][0]["field"] == missing.json()["errors"][0]["field"] == "corrects"
    assert len(all_entries(api, restricted_log)) == 4


def test_a_restricted_correction_is_withheld_and_does_not_show_as_a_link(
    api: TestClient, restricted_log: int, as_cleared: dict[str, str]
) -> None:
    response = api.post(
        f"/api/v1/incidents/{restricted_log}/log",
        json={"kind": "information", "text": "Not by helicopter.", "corrects": 3},
        headers=as_cleared,
    )
    assert response.status_code == 201, response.text
    assert response.json()["classification"] == "restricted"  # inherited
    response = api.post(
        f"/api/v1/incidents/{restricted_log}/log",
        json={
            "kind": "information",
            "text": "Crisis room is B-204.",
            "corrects": 2,
            "classification": "restricted",
        },
        headers=as_cleared,
    )
    assert response.status_code == 201, response.text

    full = {e["number"]: e for e in all_entries(api, restricted_log, as_cleared)}
    assert full[3]["corrected_by"] == [5]
    assert full[2]["corrected_by"] == [6]
    seen = {e["number"]: e for e in all_entries(api, restricted_log)}
    assert seen[5]["withheld"] is True and seen[6]["withheld"] is True
    assert seen[2]["corrected_by"] == []  # the link would reveal a restricted correction
    assert api.get(f"/api/v1/incidents/{restricted_log}/log/2").json()["corrected_by"] == []
    check_chain(list(seen.values()))


def test_a_cleared_user_cannot_lower_a_restricted_entry_by_correcting_it(
    api: TestClient, restricted_log: int, as_cleared: dict[str, str]
) -> None:
    for lower in ("open", "internal"):
        response = api.post(
            f"/api/v1/incidents/{restricted_log}/log",
            json={"kind": "decision", "text": "Leak it", "corrects": 3, "classification": lower},
            headers=as_cleared,
        )
        assert_problem(response, 422, "invalid")
    assert len(all_entries(api, restricted_log, as_cleared)) == 4
