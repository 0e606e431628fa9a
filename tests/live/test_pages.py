"""The pages' sockets: session cookie and Origin on the handshake, htmx fragments per event.

A page socket answers like the programs' one (replay after N, then live, once each and in
order) but speaks HTML: every message is `<template data-seq=N data-type=T>` holding
out-of-band swaps rendered from the page's own templates (docs/live.md). Readers sign in through
the login form; the socket carries their session cookie and the page's Origin, as a browser
does. Runs on SQLite and PostgreSQL (the `database_url` fixture behind `client`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from html import unescape
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from app.accounts import service as accounts
from app.db import Database
from app.incidents.models import Incident
from app.live import pages as live_pages
from app.live import ws as live_ws
from app.web.security import SESSION_COOKIE
from tests import factories
from tests.factories import Account
from tests.live.conftest import Socket, bulk_entries, head_seq
from tests.web.helpers import csrf_of, sign_in

pytestmark = pytest.mark.timeout(90)

OWN_ORIGIN = "http://testserver"
SECRET = "Kilden i departementet sier at dammen kan briste i natt."
_MESSAGE = re.compile(r'<template data-seq="(\d+)" data-type="([a-z.]+)"', re.ASCII)


@pytest.fixture
def reader(db: Database) -> Account:
    """A staff member without clearance for restricted entries, who signs in with a password."""
    return factories.account(db, name="Siri Staff", email="siri@example.no")


@pytest.fixture
def trusted(db: Database) -> Account:
    return factories.account(db, name="Rolf Restricted", email="rolf@example.no", restricted=True)


@pytest.fixture
def incident(db: Database, trusted: Account) -> Incident:
    """An open incident: seq 1 is `incident.opened`, seq 2 its system entry."""
    return factories.incident(db, trusted, title="Storm Ingunn")


def session_of(client: TestClient, account: Account) -> str:
    """Sign in through the form and hand back the session cookie; the client keeps none."""
    sign_in(client, account)
    raw = client.cookies.get(SESSION_COOKIE)
    assert raw
    client.cookies.clear()
    return raw


@contextmanager
def page_socket(
    client: TestClient,
    path: str,
    session: str | None,
    *,
    after: int | None = None,
    origin: str | None = OWN_ORIGIN,
) -> Iterator[Socket]:
    headers = {}
    if session is not None:
        headers["Cookie"] = f"{SESSION_COOKIE}={session}"
    if origin is not None:
        headers["Origin"] = origin
    query = "" if after is None else f"?after={after}"
    with client.websocket_connect(path + query, headers=headers) as connection:
        yield Socket(connection)


def incident_path(incident: Incident) -> str:
    return f"/live/incidents/{incident.id}"


def messages_through(socket: Socket, seq: int) -> list[tuple[int, str, str]]:
    """(seq, type, html) of every page message up to `seq`, as received; heartbeats skipped."""
    received: list[tuple[int, str, str]] = []
    while not received or received[-1][0] < seq:
        text = socket.text()
        if text.startswith("{"):
            continue
        found = _MESSAGE.match(text)
        assert found, text[:200]
        received.append((int(found.group(1)), found.group(2), text))
    return received


def entry_numbers(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'<li class="entry[^"]*" id="entry-(\d+)"', html)]


def refusal(client: TestClient, path: str, session: str | None, **kw: Any) -> int:
    with pytest.raises(WebSocketDisconnect) as refused, page_socket(client, path, session, **kw):
        pytest.fail("the socket was accepted")
    return refused.value.code


# --- the handshake ---------------------------------------------------------------------------


def test_a_page_socket_needs_a_valid_session_cookie(client: TestClient, incident: Incident) -> None:
    for path in (incident_path(incident), "/live/incidents"):
        assert refusal(client, path, None) == 4401, path
        assert refusal(client, path, "not-a-session") == 4401, path


def test_a_page_socket_needs_the_apps_own_origin(
    client: TestClient, reader: Account, incident: Incident
) -> None:
    session = session_of(client, reader)
    for path in (incident_path(incident), "/live/incidents"):
        for origin in ("https://evil.example", "http://testserver.evil.example", "null", None):
            assert refusal(client, path, session, origin=origin) == 4403, (path, origin)
    with page_socket(client, incident_path(incident), session, after=0) as socket:
        assert messages_through(socket, 1)[0][:2] == (1, "incident.opened")


def test_an_unknown_incident_is_refused(client: TestClient, reader: Account) -> None:
    assert refusal(client, "/live/incidents/999999", session_of(client, reader)) == 4404


def test_the_page_renders_the_seq_it_was_read_at(
    client: TestClient, db: Database, reader: Account, incident: Incident
) -> None:
    head = bulk_entries(db, reader, incident, 3)
    sign_in(client, reader)
    page = client.get(f"/incidents/{incident.id}").text
    status = re.search(r'<div id="live-status"[^>]*>', page)
    assert status and f'data-seq="{head}"' in status.group(0)
    assert f'data-url="{incident_path(incident)}"' in status.group(0)
    assert re.search(rf'<ol id="log-entries"[^>]*data-seq="{head}"', page)


# --- replay, then live -----------------------------------------------------------------------


def test_after_n_replays_every_later_event_once_in_order_then_goes_live(
    client: TestClient, db: Database, reader: Account, incident: Incident
) -> None:
    head = bulk_entries(db, reader, incident, 40)
    with page_socket(client, incident_path(incident), session_of(client, reader), after=10) as s:
        replayed = messages_through(s, head)
        factories.entry(db, reader, incident, kind="decision", text="Evakuere sone B.")
        (live,) = messages_through(s, head + 1)
    assert [m[0] for m in replayed] == list(range(11, head + 1))
    # Event seq N is entry N - 1 here (seq 1 opened the incident): each entry once, in order.
    assert [entry_numbers(m[2]) for m in replayed] == [[n - 1] for n in range(11, head + 1)]
    assert live[:2] == (head + 1, "log.appended")
    assert entry_numbers(live[2]) == [head]
    assert 'hx-swap-oob="afterbegin:#log-entries"' in live[2]
    assert "Evakuere sone B." in live[2] and 'data-kind="decision"' in live[2]


def test_the_fragments_pushed_live_equal_their_replay(
    client: TestClient, db: Database, reader: Account, trusted: Account, incident: Incident
) -> None:
    """Plain new entries are rendered from what the writer wrote, the replay from the database:
    the page must not be able to tell them apart, for readers with and without clearance."""
    head = head_seq(db, incident)
    sessions = {"reader": session_of(client, reader), "trusted": session_of(client, trusted)}
    path = incident_path(incident)
    with (
        page_socket(client, path, sessions["reader"], after=head) as uncleared,
        page_socket(client, path, sessions["trusted"], after=head) as cleared,
    ):
        factories.entry(db, reader, incident, kind="decision", text="Evakuere sone B.")
        factories.entry(db, trusted, incident, text=SECRET, classification="restricted")
        factories.entry(db, trusted, incident, kind="action", text="Rettelse: sone C.", corrects=1)
        end = head + 3
        live = {
            "reader": messages_through(uncleared, end),
            "trusted": messages_through(cleared, end),
        }
    for name, pushed in live.items():
        assert [m[0] for m in pushed] == [head + 1, head + 2, head + 3]
        with page_socket(client, path, sessions[name], after=head) as again:
            assert messages_through(again, end) == pushed


def test_level_changes_push_the_header_and_corrections_mark_the_original(
    client: TestClient, db: Database, reader: Account, incident: Incident
) -> None:
    factories.entry(db, reader, incident, kind="decision", text="Stenge E6.")  # entry 2
    head = head_seq(db, incident)
    token = sign_in(client, reader)
    with page_socket(
        client, incident_path(incident), client.cookies[SESSION_COOKIE], after=head
    ) as s:
        client.post(f"/incidents/{incident.id}/level", data={"level": "red", "csrf_token": token})
        _, (seq, kind, header) = messages_through(s, head + 2)
        client.post(
            f"/incidents/{incident.id}/log",
            data={
                "text": "Stenge E6 og rv. 7.",
                "kind": "decision",
                "corrects": "2",
                "csrf_token": token,
            },
        )
        (_, _, correction) = messages_through(s, head + 3)[0]
    assert (seq, kind) == (head + 2, "incident.updated")
    assert re.search(r'<header id="incident-header"[^>]*hx-swap-oob="true"', header)
    assert "incident-header--red" in header and f'data-seq="{seq}"' in header
    # Rendered once for many readers: no one's CSRF token in it (htmx sends it as a header).
    assert 'name="csrf_token" value=""' in header and token not in header
    assert entry_numbers(correction) == [4, 2]  # the correction, then its original in place
    original = correction[correction.index('id="entry-2"') :]
    assert 'hx-swap-oob="true"' in original.split(">", 1)[0]
    assert "entry--corrected" in correction and 'data-entry="4"' in original


def test_closing_the_incident_says_so(
    client: TestClient, db: Database, reader: Account, incident: Incident
) -> None:
    head = head_seq(db, incident)
    token = sign_in(client, reader)
    with page_socket(
        client, incident_path(incident), client.cookies[SESSION_COOKIE], after=head
    ) as s:
        client.post(
            f"/incidents/{incident.id}/phase",
            data={"phase": "closed", "confirm": "yes", "csrf_token": token},
        )
        last = messages_through(s, head + 2)[-1][2]
    assert last.startswith(
        f'<template data-seq="{head + 2}" data-type="incident.updated" data-closed'
    )
    assert "incident-controls" not in last  # the pushed header has no controls left


# --- clearance -------------------------------------------------------------------------------


def test_restricted_entries_reach_uncleared_readers_only_as_withheld(
    client: TestClient, db: Database, reader: Account, trusted: Account, incident: Incident
) -> None:
    factories.entry(
        db, trusted, incident, kind="decision", text=SECRET, classification="restricted"
    )
    head = head_seq(db, incident)
    uncleared, cleared = session_of(client, reader), session_of(client, trusted)
    with (
        page_socket(client, incident_path(incident), uncleared, after=0) as blind,
        page_socket(client, incident_path(incident), cleared, after=0) as sighted,
    ):
        replay, trusted_replay = messages_through(blind, head), messages_through(sighted, head)
        factories.entry(db, trusted, incident, text=SECRET + " (live)", classification="restricted")
        factories.entry(db, trusted, incident, text="Open again.", classification="open")
        factories.entry(
            db, trusted, incident, kind="decision", text="Rettelse: i morgen.", corrects=2
        )
        live, trusted_live = messages_through(blind, head + 3), messages_through(sighted, head + 3)

    everything = unescape("".join(m[2] for m in replay + live))
    assert "dammen" not in everything and "Rettelse" not in everything
    for _, _, html in (replay[-1], live[0], live[2]):
        assert 'class="entry entry--withheld"' in html
        assert "data-kind" not in html and "data-author" not in html
        assert trusted.user.name not in html
    assert entry_numbers(live[2][2]) == [
        5
    ]  # the withheld correction alone: no original re-rendered
    assert "Open again." in live[1][2]
    assert [m[0] for m in replay + live] == list(range(1, head + 4))

    assert SECRET in unescape(trusted_replay[-1][2])
    assert SECRET + " (live)" in unescape(trusted_live[0][2])
    assert entry_numbers(trusted_live[2][2]) == [5, 2]


def test_each_event_is_rendered_once_per_audience_and_language(
    client: TestClient,
    db: Database,
    reader: Account,
    trusted: Account,
    incident: Incident,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[tuple[int, str, str]] = []
    render = live_pages.incident_message

    def counting(event: Any, viewer: Any, *, lang: str, **kw: Any) -> str:
        calls.append((event.seq, viewer.audience, lang))
        return render(event, viewer, lang=lang, **kw)

    monkeypatch.setattr(live_pages, "incident_message", counting)
    second = factories.account(db, name="Sara Staff", email="sara@example.no")
    english = factories.account(db, name="Emma English", email="emma@example.no")
    accounts.set_language(db, user=english.user, language="en")
    head = head_seq(db, incident)
    sessions = [session_of(client, a) for a in (reader, second, trusted, english)]
    with (
        page_socket(client, incident_path(incident), sessions[0], after=head) as one,
        page_socket(client, incident_path(incident), sessions[1], after=head) as two,
        page_socket(client, incident_path(incident), sessions[2], after=head) as three,
        page_socket(client, incident_path(incident), sessions[3], after=head) as four,
    ):
        # Every socket live first: one still replaying would render what its replay reads
        # for itself (a replay is per socket), which is not what is counted here.
        factories.entry(db, trusted, incident, kind="information", text="Alle er koblet til.")
        for s in (one, two, three, four):
            messages_through(s, head + 1)
        factories.entry(db, trusted, incident, kind="action", text="Ring NVE.")
        texts = [messages_through(s, head + 2)[0][2] for s in (one, two, three, four)]
    assert texts[0] == texts[1]  # one text shared by the two uncleared readers in bokmål
    assert sorted(c for c in calls if c[0] == head + 2) == [
        (head + 2, "restricted", "nb"),
        (head + 2, "staff", "en"),
        (head + 2, "staff", "nb"),
    ]
    assert ">Tiltak<" in texts[0] and ">Action<" in texts[3]


# --- the incident list -----------------------------------------------------------------------


def test_the_list_socket_sends_the_list_when_it_changes(
    client: TestClient, db: Database, reader: Account, incident: Incident
) -> None:
    sign_in(client, reader)
    page = client.get("/").text
    version = int(re.search(r'<div id="incident-lists"[^>]*data-seq="(\d+)"', page).group(1))  # type: ignore[union-attr]
    assert re.search(rf'<tr class="incident-row" id="incident-{incident.id}" data-seq="2">', page)
    session = client.cookies[SESSION_COOKIE]
    with page_socket(client, "/live/incidents", session, after=0) as behind:
        assert _list_version(behind.text()) == version  # a page that is behind gets it at once
    with page_socket(client, "/live/incidents", session, after=version) as socket:
        other = factories.incident(db, reader, title="Flom i Gudbrandsdalen")
        opened = socket.text()
        factories.entry(db, reader, incident, text="Vann i kjelleren.")
        logged = socket.text()
    assert _list_version(opened) == version + other.event_seq
    assert re.search(r'<div id="incident-lists"[^>]*hx-swap-oob="morph"', opened)
    assert "Flom i Gudbrandsdalen" in opened
    assert _list_version(logged) == version + other.event_seq + 1
    assert re.search(rf'id="incident-{incident.id}" data-seq="3"', logged)


def test_a_page_from_another_history_is_told_to_reload(
    client: TestClient, db: Database, reader: Account, incident: Incident
) -> None:
    """A page showing more than the database holds (restored from a backup while it was open)
    gets 4409 instead of a replay that would skip everything up to where the page was."""
    session = session_of(client, reader)
    head = head_seq(db, incident)
    sign_in(client, reader)
    version = _list_version_of(client.get("/").text)
    client.cookies.clear()
    for path, after in ((incident_path(incident), head + 1), ("/live/incidents", version + 5)):
        with page_socket(client, path, session, after=after) as ahead:
            assert ahead.close_code() == live_ws.CLOSE_AHEAD
        with page_socket(client, path, session, after=0) as fresh:
            assert fresh.text().startswith("<template data-seq=")


def _list_version_of(page: str) -> int:
    found = re.search(r'<div id="incident-lists"[^>]*data-seq="(\d+)"', page)
    assert found, page[:200]
    return int(found.group(1))


def _list_version(text: str) -> int:
    found = re.match(r'<template data-seq="(\d+)">', text)
    assert found, text[:200]
    return int(found.group(1))


# --- a session that ends ---------------------------------------------------------------------


def test_signing_out_everywhere_closes_the_pages_sockets(
    client: TestClient, reader: Account, incident: Incident, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(live_ws, "HEARTBEAT_SECONDS", 0.2)
    sign_in(client, reader)
    session = client.cookies[SESSION_COOKIE]
    with (
        page_socket(client, incident_path(incident), session, after=0) as page,
        page_socket(client, "/live/incidents", session, after=0) as listing,
    ):
        assert messages_through(page, 1)[0][0] == 1
        listing.text()
        token = csrf_of(client.get("/"))
        response = client.post(
            "/logout-everywhere", data={"csrf_token": token}, follow_redirects=False
        )
        assert response.status_code == 303
        assert page.close_code(timeout=5) == 4401
        assert listing.close_code(timeout=5) == 4401
