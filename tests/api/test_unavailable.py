"""A database that does not answer in time: a clear 503, nothing half-written, and a retry that
works once it answers again. Runs on SQLite (the write lane's wait) and PostgreSQL (the row
lock's `lock_timeout`), with the wait cut to a fraction of a second."""

from __future__ import annotations

from fastapi.testclient import TestClient

from app.actions import transaction
from app.db import Database
from app.incidents.service import get_incident, lock_incident
from tests.helpers import all_entries, assert_problem


def test_a_write_that_cannot_get_its_turn_is_a_503_and_can_be_sent_again(
    short_write_wait: None, api: TestClient, db: Database, incident_id: int
) -> None:
    before = all_entries(api, incident_id)
    url = f"/api/v1/incidents/{incident_id}/log"
    body = {"kind": "decision", "text": "Evakuer sone B."}
    with transaction(db) as stuck:  # another writer holds the incident's write lock
        lock_incident(stuck.session, get_incident(stuck.session, incident_id))
        problem = assert_problem(api.post(url, json=body), 503, "unavailable")
        assert "did not answer in time" in problem["detail"]
        assert "Check the log before you send this again" in problem["detail"]
        in_norwegian = assert_problem(
            api.post(url, json=body, headers={"Accept-Language": "nb"}), 503, "unavailable"
        )
        assert in_norwegian["detail"] != problem["detail"]
        stuck.session.rollback()
    assert all_entries(api, incident_id) == before  # nothing half-written
    sent = api.post(url, json=body)
    assert sent.status_code == 201, sent.text
    assert sent.json()["number"] == len(before) + 1
