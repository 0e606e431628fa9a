"""Ids beyond 2^31 in socket URLs: refused as an unknown incident (4404), not a 500.

On PostgreSQL such an id overflowed the driver ("integer out of range") while the handshake was
judged; on SQLite an id beyond 2^63 did. Both sockets, the programs' JSON one and the page's.
A huge `after` on a real incident is "beyond the newest" (4409), as any other.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from app.incidents.models import Incident
from tests.factories import Account
from tests.live.conftest import Closed, open_socket
from tests.live.test_access import refusal
from tests.live.test_pages import page_socket, session_of
from tests.live.test_pages import refusal as page_refusal

BIG_IDS = [2**31, 2**63, 10**30]


@pytest.mark.parametrize("big", BIG_IDS)
def test_the_json_socket_refuses_an_id_beyond_the_integer(
    client: TestClient, staff: Account, big: int
) -> None:
    assert refusal(client, big, staff.token) == 4404


@pytest.mark.parametrize("big", BIG_IDS)
def test_the_page_socket_refuses_an_id_beyond_the_integer(
    client: TestClient, staff: Account, big: int
) -> None:
    session = session_of(client, staff)
    assert page_refusal(client, f"/live/incidents/{big}", session) == 4404


@pytest.mark.parametrize("big", BIG_IDS)
def test_a_huge_after_is_beyond_the_newest(
    client: TestClient, staff: Account, incident: Incident, big: int
) -> None:
    with open_socket(client, incident.id, staff.token, after=big) as socket:
        with pytest.raises(Closed) as closed:
            socket.message()
        assert closed.value.code == 4409
    session = session_of(client, staff)
    for path in (f"/live/incidents/{incident.id}", "/live/incidents"):
        with page_socket(client, path, session, after=big) as page:
            with pytest.raises(Closed) as closed:
                page.text()
            assert closed.value.code == 4409, path
