"""A wake-up that never came: the re-check (a local job on the worker) still delivers.

A write by another process on SQLite (the CLI, say) wakes nobody in the server. Every few
seconds the hub's re-check compares each room's watermark with the incident's newest seq and
reads what it missed.
"""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from app.db import Database
from app.incidents.models import Incident
from app.live.hub import RECHECK_SECONDS
from tests import factories
from tests.factories import Account
from tests.helpers import bearer
from tests.live.conftest import head_seq, open_socket

pytestmark = pytest.mark.timeout(60)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_an_entry_written_by_another_process_arrives_by_the_recheck(
    client: TestClient, db: Database, database_url: str, staff: Account, incident: Incident
) -> None:
    head = head_seq(db, incident)
    with open_socket(client, incident.id, staff.token, after=head) as socket:
        # An entry through the server first: once it arrives, the socket's replay is over.
        response = client.post(
            f"/api/v1/incidents/{incident.id}/log",
            json={"kind": "information", "text": "Skrevet i nettleseren."},
            headers=bearer(staff.token),
        )
        assert response.status_code == 201, response.text
        assert socket.event()["seq"] == head + 1
        other_process = Database(database_url)  # its commits wake no one in the server
        try:
            written = factories.entry(other_process, staff, incident, text="Skrevet fra CLI.")
        finally:
            other_process.dispose()
        sent = time.monotonic()
        event = socket.event(timeout=RECHECK_SECONDS + 5)
    assert event["seq"] == head + 2
    assert event["data"]["entry"]["number"] == written.number
    assert time.monotonic() - sent <= RECHECK_SECONDS + 1
