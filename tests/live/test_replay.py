"""Replay after N, then live: every event once, in order, none lost when both overlap.

Runs on SQLite and PostgreSQL (the `database_url` fixture behind `client`).
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.db import Database
from app.incidents.models import Incident
from app.live import ws as live_ws
from app.live.hub import Hub
from tests import factories
from tests.factories import Account
from tests.helpers import bearer
from tests.live.conftest import Closed, assert_gap_free, head_seq, open_socket

pytestmark = pytest.mark.timeout(90)


def test_after_zero_replays_the_whole_history_in_order(
    client: TestClient, db: Database, staff: Account, incident: Incident
) -> None:
    head = factories.entries(db, staff, incident, 30)
    with open_socket(client, incident.id, staff.token, after=0) as socket:
        events = socket.events_through(head)
    assert_gap_free(events, 1, head)
    assert events[0]["type"] == "incident.opened"
    assert events[0]["data"]["incident"]["id"] == incident.id
    assert events[1]["type"] == "log.appended"
    assert events[1]["data"]["entry"]["system"] is True
    numbers = [e["data"]["entry"]["number"] for e in events[1:]]
    assert numbers == list(range(1, head))  # the log, line by line, as the log API shows it
    assert events[-1]["data"]["entry"]["text"] == "Vannverket melder trykkfall i sone 29."


def test_no_after_means_after_zero(
    client: TestClient, db: Database, staff: Account, incident: Incident
) -> None:
    head = factories.entries(db, staff, incident, 3)
    with open_socket(client, incident.id, staff.token) as socket:
        assert_gap_free(socket.events_through(head), 1, head)


def test_after_n_replays_only_what_came_later_then_goes_live(
    api: TestClient, db: Database, staff: Account, incident: Incident
) -> None:
    head = factories.entries(db, staff, incident, 1200)  # more than one replay batch
    with open_socket(api, incident.id, staff.token, after=100) as socket:
        replayed = socket.events_through(head)
        assert_gap_free(replayed, 101, head)
        response = api.post(
            f"/api/v1/incidents/{incident.id}/log",
            json={"kind": "decision", "text": "Evakuere sone B."},
        )
        assert response.status_code == 201, response.text
        live = socket.event()
    assert live["seq"] == head + 1
    assert live["type"] == "log.appended"
    assert live["data"]["entry"] == response.json()  # exactly the log API's shape


def test_after_the_head_sends_nothing_until_something_happens(
    api: TestClient, db: Database, staff: Account, incident: Incident
) -> None:
    head = head_seq(db, incident)
    with open_socket(api, incident.id, staff.token, after=head) as socket:
        api.post(
            f"/api/v1/incidents/{incident.id}/log", json={"kind": "action", "text": "Ring NVE."}
        )
        first = socket.event()
    assert first["seq"] == head + 1  # nothing older came first


def test_an_after_beyond_the_newest_event_is_told_to_start_again(
    api: TestClient, db: Database, staff: Account, incident: Incident
) -> None:
    """A client that has seen more than there is follows another history (a database restored
    from a backup): replaying from its `after` would skip every event up to it, in silence."""
    head = head_seq(db, incident)
    with (
        open_socket(api, incident.id, staff.token, after=head + 40) as socket,
        pytest.raises(Closed) as told,
    ):
        socket.event()
    assert told.value.code == live_ws.CLOSE_AHEAD == 4409
    assert f"beyond the newest ({head})" in told.value.reason
    with open_socket(api, incident.id, staff.token, after=0) as again:  # starting again works
        assert_gap_free(again.events_through(head), 1, head)


def test_events_committed_during_the_replay_are_neither_lost_nor_doubled(
    client: TestClient,
    db: Database,
    staff: Account,
    incident: Incident,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A writer thread appends 200 entries (one commit each) while the socket replays 2,000."""
    history = factories.entries(db, staff, incident, 2000)
    hub: Hub = client.app.state.hub  # type: ignore[attr-defined]
    heads_seen_by_replay: list[int] = []
    original_load = hub.load

    def slow_load(incident_id: int, after: int) -> list[Any]:
        # Small batches with a pause, so the replay spans the writer's commits for sure.
        heads_seen_by_replay.append(head_seq(db, incident))
        events = original_load(incident_id, after)[:100]
        time.sleep(0.02)
        return events

    monkeypatch.setattr(hub, "load", slow_load)
    appended: list[int] = []
    failures: list[BaseException] = []

    def writer() -> None:
        try:
            for n in range(200):
                appended.append(factories.entry(db, staff, incident, text=f"Live {n}").number)
        except Exception as exc:  # noqa: BLE001 - reported by the test, not lost in the thread
            failures.append(exc)

    thread = threading.Thread(target=writer, daemon=True)
    with open_socket(client, incident.id, staff.token, after=0) as socket:
        first = socket.event()
        thread.start()
        events = [first, *socket.events_through(history + 200, timeout=30)]
        thread.join(timeout=30)
    assert not thread.is_alive() and not failures, failures
    assert len(appended) == 200
    assert_gap_free(events, 1, history + 200)
    texts = [e["data"]["entry"]["text"] for e in events[history:]]
    assert texts == [f"Live {n}" for n in range(200)]
    # The writer really did commit while the replay was still reading.
    during = [h for h in heads_seen_by_replay if history < h < history + 200]
    assert during, f"no commit landed during the replay: {heads_seen_by_replay[:5]}…"


def test_level_and_phase_changes_arrive_as_incident_updated(
    api: TestClient, db: Database, staff: Account, incident: Incident
) -> None:
    head = head_seq(db, incident)
    with open_socket(api, incident.id, staff.token, after=head) as socket:
        response = api.patch(f"/api/v1/incidents/{incident.id}", json={"level": "red"})
        assert response.status_code == 200, response.text
        system_line, level = socket.event(), socket.event()
        response = api.patch(
            f"/api/v1/incidents/{incident.id}", json={"level": "green", "phase": "response"}
        )
        assert response.status_code == 200, response.text
        lines = [socket.event(), socket.event()]
        both = socket.event()
    assert system_line["type"] == "log.appended" and system_line["data"]["entry"]["system"]
    assert level["seq"] == head + 2
    assert level["type"] == "incident.updated"
    assert level["data"]["changes"] == {"level": "red"}
    assert level["data"]["incident"]["level"] == "red"
    assert [e["type"] for e in lines] == ["log.appended", "log.appended"]
    assert both["type"] == "incident.updated"
    assert both["data"]["changes"] == {"level": "green", "phase": "response"}
    assert both["data"]["incident"] == response.json()
    assert both["seq"] == head + 5


def test_events_of_other_incidents_are_not_sent(
    api: TestClient, db: Database, staff: Account, cleared: Account, incident: Incident
) -> None:
    other = api.post("/api/v1/incidents", json={"title": "Flom i Gudbrandsdalen"}).json()
    head = head_seq(db, incident)
    with open_socket(api, incident.id, staff.token, after=head) as socket:
        api.post(f"/api/v1/incidents/{other['id']}/log", json={"kind": "action", "text": "Annet."})
        api.post(f"/api/v1/incidents/{incident.id}/log", json={"kind": "action", "text": "Vårt."})
        event = socket.event()
    assert event["seq"] == head + 1
    assert event["data"]["entry"]["text"] == "Vårt."
    assert event["data"]["entry"]["incident_id"] == incident.id


def test_heartbeats_carry_no_seq(
    client: TestClient, staff: Account, incident: Incident, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(live_ws, "HEARTBEAT_SECONDS", 0.1)
    with open_socket(client, incident.id, staff.token, after=2) as socket:
        beats = [socket.message(timeout=5) for _ in range(2)]
    for beat in beats:
        assert beat["type"] == "heartbeat"
        assert "seq" not in beat
        assert beat["time"].endswith("+00:00")


def test_two_sockets_on_one_incident_get_the_same_events(
    api: TestClient, db: Database, staff: Account, cleared: Account, incident: Incident
) -> None:
    head = head_seq(db, incident)
    with (
        open_socket(api, incident.id, staff.token, after=head) as one,
        open_socket(api, incident.id, staff.token, after=head) as two,
    ):
        for n in range(5):
            api.post(
                f"/api/v1/incidents/{incident.id}/log", json={"kind": "action", "text": f"#{n}"}
            )
        first = one.events_through(head + 5)
        second = two.events_through(head + 5)
    assert first == second
    assert_gap_free(first, head + 1, head + 5)


def test_the_append_answer_and_the_push_agree(
    api: TestClient, db: Database, staff: Account, incident: Incident
) -> None:
    head = head_seq(db, incident)
    with open_socket(api, incident.id, staff.token, after=head) as socket:
        response = api.post(
            f"/api/v1/incidents/{incident.id}/log",
            headers=bearer(staff.token),
            json={"kind": "message_in", "text": "Fylkesmannen ber om situasjonsrapport."},
        )
        pushed: dict[str, Any] = socket.event()
    assert pushed == {"seq": head + 1, "type": "log.appended", "data": {"entry": response.json()}}


def test_what_is_pushed_live_equals_its_replay_from_the_database(
    api: TestClient, db: Database, staff: Account, cleared: Account, incident: Incident
) -> None:
    """A plain new entry is pushed from what its writer wrote, without reading it back; a replay
    reads the database. For every kind of event and viewer both must say the same."""
    head = head_seq(db, incident)
    log = f"/api/v1/incidents/{incident.id}/log"
    with (
        open_socket(api, incident.id, staff.token, after=head) as uncleared,
        open_socket(api, incident.id, cleared.token, after=head) as trusted,
    ):
        factories.entry(db, staff, incident, kind="information", text="Strømmen er borte på Kvam.")
        for body in (
            {"kind": "decision", "text": "Evakuer sone B.", "classification": "restricted"},
            {"kind": "action", "text": "Skolen åpnes.", "occurred_at": "2026-11-23T13:05:00+01:00"},
            {"kind": "decision", "text": "Rettelse: sone C.", "corrects": 2},
            {"kind": "message_out", "text": "Til Statsforvalteren ✓", "classification": "open"},
        ):
            response = api.post(log, headers=bearer(cleared.token), json=body)
            assert response.status_code == 201, response.text
        response = api.patch(f"/api/v1/incidents/{incident.id}", json={"level": "red"})
        assert response.status_code == 200, response.text
        end = head_seq(db, incident)
        live = {
            staff.token: uncleared.events_through(end),
            cleared.token: trusted.events_through(end),
        }
    assert end == head + 7
    for token, pushed in live.items():
        assert_gap_free(pushed, head + 1, end)
        with open_socket(api, incident.id, token, after=head) as again:
            assert again.events_through(end) == pushed
