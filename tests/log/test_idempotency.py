"""Sending an entry again after an answer that never came logs it once (`Idempotency-Key`).

The network in a crisis room drops answers: a client that resends with the same key gets the
entry that was logged the first time, not a second one, even when both arrive together.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests import factories
from tests.helpers import all_entries, assert_problem, check_chain

KEY = "0b7f6d0e-2f0c-4d4e-9a53-6f1f3c9e8a11"
BODY = {"kind": "decision", "text": "Evakuer sone B innen kl. 14.", "classification": "open"}


def _post(
    api: TestClient, incident_id: int, body: dict[str, Any], key: str | bytes | None, **headers: Any
) -> Any:
    if key is not None:
        headers["Idempotency-Key"] = key
    return api.post(f"/api/v1/incidents/{incident_id}/log", json=body, headers=headers)


def test_a_retry_with_the_same_key_gets_the_first_entry_back(
    api: TestClient, incident_id: int
) -> None:
    first = _post(api, incident_id, BODY, KEY)
    again = _post(api, incident_id, BODY, KEY)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert [e["text"] for e in all_entries(api, incident_id)].count(BODY["text"]) == 1
    other = _post(api, incident_id, BODY, "another-key")  # a new key is a new entry
    assert other.status_code == 201 and other.json()["number"] == first.json()["number"] + 1
    without = _post(api, incident_id, BODY, None)  # no key: no promise, as before
    assert without.json()["number"] == first.json()["number"] + 2
    check_chain(all_entries(api, incident_id))


def test_retries_that_arrive_together_log_one_entry(api: TestClient, incident_id: int) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda _: _post(api, incident_id, BODY, KEY), range(8)))
    assert {a.status_code for a in answers} == {201}
    assert len({a.json()["number"] for a in answers}) == 1
    assert len(all_entries(api, incident_id)) == 2  # the opening line and this one


def test_the_same_key_with_other_content_is_refused(api: TestClient, incident_id: int) -> None:
    number = _post(api, incident_id, BODY, KEY).json()["number"]
    for change in (
        {"text": "Evakuer sone C."},
        {"kind": "information"},
        {"classification": "restricted"},
        {"occurred_at": "2026-11-23T12:00:00+01:00"},
    ):
        problem = assert_problem(_post(api, incident_id, {**BODY, **change}, KEY), 409, "conflict")
        assert f"#{number}" in problem["detail"]
    assert len(all_entries(api, incident_id)) == 2


def test_another_users_key_does_not_give_their_entry_away(
    api: TestClient, db: Any, incident_id: int
) -> None:
    _post(api, incident_id, BODY, KEY)
    someone = factories.account(db, name="Per Person", email="per@example.no")
    theirs = _post(api, incident_id, BODY, KEY, Authorization=f"Bearer {someone.token}")
    problem = assert_problem(theirs, 409, "conflict")
    assert BODY["text"] not in problem["detail"]


@pytest.mark.parametrize("key", ["", "x" * 65, "med mellomrom", "nøkkel".encode(), "a\tb"])
def test_a_malformed_key_is_refused(api: TestClient, incident_id: int, key: str | bytes) -> None:
    assert_problem(_post(api, incident_id, BODY, key), 422, "invalid")
    assert len(all_entries(api, incident_id)) == 1
