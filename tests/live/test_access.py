"""Who may open a socket, and what each viewer is sent.

Through the test client a refusal before `accept()` shows as a close code (4401 no or bad
token, 4403 foreign Origin, 4404 unknown incident); on a real server the same refusal is an
HTTP 403 on the handshake (tests/live/test_server.py).
"""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from starlette.websockets import WebSocketDisconnect

from app.accounts import service as accounts
from app.db import Database, utcnow
from app.incidents.models import Incident
from app.live import ws as live_ws
from app.log.models import Classification
from tests import factories
from tests.factories import Account
from tests.live.conftest import assert_gap_free, head_seq, open_socket

pytestmark = pytest.mark.timeout(90)

SECRET = "Kilden i departementet sier at dammen kan briste i natt."


def refusal(client: TestClient, incident_id: int | None, token: str | None, **kw: Any) -> int:
    with (
        pytest.raises(WebSocketDisconnect) as refused,
        open_socket(client, incident_id, token, **kw),
    ):
        pytest.fail("the socket was accepted")
    return refused.value.code


# --- the handshake ---------------------------------------------------------------------------


def test_a_socket_without_a_token_is_refused(client: TestClient, incident: Incident) -> None:
    assert refusal(client, incident.id, None) == 4401


def test_a_socket_with_a_bad_token_is_refused(client: TestClient, incident: Incident) -> None:
    assert refusal(client, incident.id, "smv_not-a-real-token") == 4401


def test_a_revoked_token_cannot_open_a_socket(
    client: TestClient, db: Database, staff: Account, incident: Incident
) -> None:
    revoke_tokens(db, staff)
    assert refusal(client, incident.id, staff.token) == 4401


def test_a_foreign_origin_is_refused_even_with_a_good_token(
    client: TestClient, staff: Account, incident: Incident
) -> None:
    for origin in ("https://evil.example", "http://testserver.evil.example", "null"):
        assert refusal(client, incident.id, staff.token, origin=origin) == 4403, origin


def test_the_apps_own_origin_is_accepted(
    client: TestClient, staff: Account, incident: Incident
) -> None:
    for origin in ("http://testserver", "HTTP://TESTSERVER"):  # base_url, and the Host seen
        with open_socket(client, incident.id, staff.token, origin=origin) as socket:
            assert socket.event()["seq"] == 1


def test_an_unknown_incident_is_refused(client: TestClient, staff: Account) -> None:
    assert refusal(client, 999_999, staff.token) == 4404


def test_a_refused_socket_gets_no_event_first(client: TestClient, incident: Incident) -> None:
    """The refusal is the first and only thing said: the close comes before any accept."""
    with pytest.raises(WebSocketDisconnect) as refused:
        client.websocket_connect(
            f"/api/v1/incidents/{incident.id}/events?after=0",
            headers={"Origin": "https://evil.example", "Authorization": "Bearer nope"},
        ).__enter__()
    assert refused.value.code == 4403  # Origin is judged first, before the token is looked up


# --- clearance -------------------------------------------------------------------------------


def test_restricted_entries_are_withheld_from_uncleared_viewers_in_replay_and_live(
    api: TestClient, db: Database, staff: Account, cleared: Account, incident: Incident
) -> None:
    factories.entry(
        db, cleared, incident, text=SECRET, kind="decision", classification="restricted"
    )
    head = head_seq(db, incident)
    with (
        open_socket(api, incident.id, staff.token, after=0) as uncleared,
        open_socket(api, incident.id, cleared.token, after=0) as trusted,
    ):
        replay_raw = uncleared.events_through(head)
        trusted_replay = trusted.events_through(head)
        factories.entry(db, cleared, incident, text=SECRET + " (live)", classification="restricted")
        factories.entry(db, cleared, incident, text="Open again.", classification="open")
        # A correction of a restricted entry is restricted too, and names what it corrects.
        response = api.post(
            f"/api/v1/incidents/{incident.id}/log",
            headers={"Authorization": f"Bearer {cleared.token}"},
            json={"kind": "decision", "text": "Rettelse: i morgen.", "corrects": 2},
        )
        assert response.status_code == 201, response.text
        live_raw = uncleared.events_through(head + 3)
        trusted_live = trusted.events_through(head + 3)

    assert_gap_free(replay_raw + live_raw, 1, head + 3)  # every seq still arrives
    assert_gap_free(trusted_replay + trusted_live, 1, head + 3)
    for event in (replay_raw[-1], live_raw[0], live_raw[2]):
        entry = event["data"]["entry"]
        assert entry["withheld"] is True
        assert entry["classification"] == "restricted"
        assert entry["text"] is None and entry["author"] is None and entry["kind"] is None
        assert entry["corrects"] is None and entry["system"] is None
        assert "corrects" not in event["data"]
        assert entry["hash"] and entry["content_digest"]  # the chain still checks out
    assert live_raw[1]["data"]["entry"]["text"] == "Open again."
    everything_sent = json.dumps(replay_raw + live_raw)
    assert "dammen" not in everything_sent and "Rettelse" not in everything_sent
    withheld = json.dumps([replay_raw[-1], live_raw[0], live_raw[2]])
    assert cleared.user.name not in withheld and "decision" not in withheld

    assert trusted_replay[-1]["data"]["entry"]["text"] == SECRET
    assert trusted_replay[-1]["data"]["entry"]["author"]["name"] == cleared.user.name
    assert trusted_live[0]["data"]["entry"]["text"] == SECRET + " (live)"
    assert trusted_live[2]["data"]["corrects"] == 2
    assert trusted_live[2]["data"]["entry"]["corrects"] == 2


def test_bulk_restricted_replay_withholds_every_one(
    client: TestClient, db: Database, staff: Account, cleared: Account, incident: Incident
) -> None:
    head = factories.entries(
        db, cleared, incident, 700, text=SECRET + " {n}", classification=Classification.restricted
    )
    with open_socket(client, incident.id, staff.token, after=2) as socket:
        events = socket.events_through(head)
    assert_gap_free(events, 3, head)
    assert all(e["data"]["entry"]["withheld"] for e in events)
    assert "dammen" not in json.dumps(events)


# --- a socket whose right to listen ends ----------------------------------------------------


def revoke_tokens(db: Database, account: Account) -> None:
    with db.engine.begin() as conn:
        conn.execute(
            text("UPDATE api_token SET revoked_at = :now WHERE user_id = :user"),
            {"now": utcnow().replace(tzinfo=None), "user": account.user.id},
        )


def test_a_revoked_tokens_socket_is_closed_at_the_next_heartbeat(
    client: TestClient,
    db: Database,
    staff: Account,
    incident: Incident,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(live_ws, "HEARTBEAT_SECONDS", 0.2)
    with open_socket(client, incident.id, staff.token, after=0) as socket:
        assert socket.event()["seq"] == 1
        revoke_tokens(db, staff)
        assert socket.close_code(timeout=5) == 4401


def test_a_revoked_tokens_socket_is_closed_even_while_events_keep_coming(
    client: TestClient,
    db: Database,
    staff: Account,
    incident: Incident,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A busy incident must not postpone the check: the heartbeat clock is not reset by events."""
    monkeypatch.setattr(live_ws, "HEARTBEAT_SECONDS", 0.3)
    stop = threading.Event()

    def busy() -> None:
        while not stop.wait(0.05):
            factories.entries(db, staff, incident, 1)

    thread = threading.Thread(target=busy, daemon=True)
    try:
        with open_socket(client, incident.id, staff.token, after=0) as socket:
            thread.start()
            socket.event()
            revoke_tokens(db, staff)
            assert socket.close_code(timeout=5) == 4401
    finally:
        stop.set()
        thread.join(timeout=10)


def test_losing_clearance_closes_the_socket(
    client: TestClient, db: Database, cleared: Account, incident: Incident
) -> None:
    """Rights changed: the socket must not keep rendering for the old audience (4403, at once:
    tests/live/test_revoke.py times it)."""
    admin = factories.account(db, name="Anne Admin", email="anne@example.no", role="admin")
    with open_socket(client, incident.id, cleared.token, after=0) as socket:
        assert socket.event()["seq"] == 1
        with db.read_session() as session:
            actor = accounts.get_user_by_id(session, admin.user.id or 0)
        accounts.update_user(db, actor=actor, user_id=cleared.user.id or 0, restricted=False)
        assert socket.close_code(timeout=5) == 4403
