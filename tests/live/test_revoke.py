"""Access taken away is taken away at once: on real servers (uvicorn in a thread), real sockets.

A change to a user's rights, sessions or tokens reaches every open socket of theirs within a
second, on SQLite (in-process, after the commit) and PostgreSQL (LISTEN/NOTIFY; one test runs
two instances on one database): the socket is closed with 4401 (credential gone) or 4403
(rights changed), and nothing rendered for the old rights is sent after the change. The
heartbeat (15 s here, its default) would take 7.5 s or more: these bounds prove the bus.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Self

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Origin

from app.config import Settings
from app.db import Database, utcnow
from app.incidents import service as incidents
from app.main import create_app
from app.web.security import SESSION_COOKIE
from tests import factories
from tests.factories import Account
from tests.support.server import free_port
from tests.web.helpers import csrf_of

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

BOUND = 1.0  # seconds: the bound from the change to the closed socket
SECRET = "Kilden sier at dammen kan briste i natt."


class Served:
    """An app served by uvicorn on loopback, in a thread of this process."""

    def __init__(self, app: FastAPI) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.clients: list[httpx.Client] = []

    def __enter__(self) -> Self:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start within 30 s"
            time.sleep(0.02)
        return self

    def __exit__(self, *_: object) -> None:
        for client in self.clients:
            client.close()
        self.server.should_exit = True
        self.thread.join(timeout=15)

    def http(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        client = httpx.Client(base_url=self.url, headers=headers, timeout=20)
        self.clients.append(client)
        return client

    def events(self, token: str, incident_id: int) -> ClientConnection:
        url = f"ws://127.0.0.1:{self.port}/api/v1/incidents/{incident_id}/events?after=0"
        return connect(url, additional_headers={"Authorization": f"Bearer {token}"})

    def page(self, cookie: str, path: str) -> ClientConnection:
        return connect(
            f"ws://127.0.0.1:{self.port}{path}",
            additional_headers={"Cookie": f"{SESSION_COOKIE}={cookie}"},
            origin=Origin(self.url),
        )


@pytest.fixture
def served(app: FastAPI) -> Iterator[Served]:
    with Served(app) as running:
        yield running


@pytest.fixture
def incident_id(db: Database, admin: Account) -> int:
    incident = factories.incident(db, admin, title="Storm Ingunn")
    assert incident.id is not None
    return incident.id


def sign_in(served: Served, account: Account) -> tuple[httpx.Client, str, str]:
    """A browser signed in through the form: (its client, the session cookie, a CSRF token)."""
    browser = served.http()
    csrf = csrf_of(browser.get("/login"))
    response = browser.post(
        "/login", data={"email": account.email, "password": account.password, "csrf_token": csrf}
    )
    assert response.status_code in (200, 303), response.text
    cookie = browser.cookies.get(SESSION_COOKIE)
    assert cookie
    return browser, cookie, csrf_of(browser.get("/"))


def read_until_closed(ws: ClientConnection, timeout: float) -> tuple[int, list[str]]:
    """Every message until the server closes the socket: (close code, messages)."""
    received: list[str] = []
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"still open after {timeout} s; got {len(received)} messages")
        try:
            message = ws.recv(timeout=left)
        except TimeoutError:
            continue
        except ConnectionClosed as closed:
            assert closed.rcvd is not None, "closed without a close frame"
            return closed.rcvd.code, received
        received.append(str(message))


def first_event(ws: ClientConnection) -> None:
    """Wait until the socket has replayed something: it is live."""
    message = ws.recv(timeout=10)
    assert str(message).strip(), message


def closed_within(
    change: Callable[[], None], *sockets: ClientConnection
) -> list[tuple[int, list[str]]]:
    """Run `change`; then every socket must be closed within BOUND of when it was started."""
    results: dict[int, tuple[int, list[str], float]] = {}

    def watch(n: int, ws: ClientConnection) -> None:
        code, messages = read_until_closed(ws, timeout=10)
        results[n] = (code, messages, time.monotonic())

    threads = [threading.Thread(target=watch, args=(n, ws)) for n, ws in enumerate(sockets)]
    for thread in threads:
        thread.start()
    time.sleep(0.3)  # the readers are reading
    started = time.monotonic()
    change()
    changed = time.monotonic() - started
    for thread in threads:
        thread.join(timeout=15)
    assert len(results) == len(sockets), "a socket was never closed"
    for n, (_, _, at) in results.items():
        assert at - started <= BOUND, (
            f"socket {n} closed {at - started:.2f} s after the change (which took {changed:.2f} s)"
        )
    return [(code, messages) for code, messages, _ in (results[n] for n in range(len(sockets)))]


# --- rights -----------------------------------------------------------------------------------


def test_clearance_removed_closes_json_and_page_sockets_at_once(
    served: Served, admin: Account, cleared: Account, incident_id: int
) -> None:
    """The admin page removes a clearance; an entry only the cleared may read follows at once.
    Both sockets of the user close with 4403 within a second, and neither gets its text."""
    admin_browser, _, admin_csrf = sign_in(served, admin)
    _, cookie, _ = sign_in(served, cleared)
    api = served.http(admin.token)

    def remove_clearance_then_write() -> None:
        response = admin_browser.post(
            f"/admin/users/{cleared.user.id}", data={"restricted": "0", "csrf_token": admin_csrf}
        )
        assert response.status_code in (200, 303), response.text
        for _ in range(5):  # at once after the change, and on while the sockets close
            logged = api.post(
                f"/api/v1/incidents/{incident_id}/log",
                json={"kind": "decision", "text": SECRET, "classification": "restricted"},
            )
            assert logged.status_code == 201, logged.text

    with (
        served.events(cleared.token, incident_id) as events,
        served.page(cookie, f"/live/incidents/{incident_id}?after=0") as page,
    ):
        first_event(events)
        first_event(page)
        results = closed_within(remove_clearance_then_write, events, page)
    for code, messages in results:
        assert code == 4403
        assert not any("dammen" in m for m in messages), messages


def test_deactivation_closes_the_users_sockets_with_4401(
    served: Served, admin: Account, cleared: Account, incident_id: int
) -> None:
    admin_browser, _, admin_csrf = sign_in(served, admin)

    def deactivate() -> None:
        response = admin_browser.post(
            f"/admin/users/{cleared.user.id}", data={"active": "0", "csrf_token": admin_csrf}
        )
        assert response.status_code in (200, 303), response.text

    with served.events(cleared.token, incident_id) as events:
        first_event(events)
        [(code, _)] = closed_within(deactivate, events)
    assert code == 4401


# --- sessions ---------------------------------------------------------------------------------


def test_sign_out_everywhere_closes_every_page_socket_at_once(
    served: Served, db: Database, admin: Account, cleared: Account, incident_id: int
) -> None:
    """Two browsers of one user, the incident page and the list; one signs out everywhere."""
    laptop, laptop_cookie, laptop_csrf = sign_in(served, cleared)
    _, phone_cookie, _ = sign_in(served, cleared)
    _, other_cookie, _ = sign_in(served, admin)

    def sign_out_everywhere() -> None:
        response = laptop.post("/logout-everywhere", data={"csrf_token": laptop_csrf})
        assert response.status_code in (200, 303), response.text

    with (
        served.page(laptop_cookie, f"/live/incidents/{incident_id}?after=0") as laptop_page,
        served.page(phone_cookie, f"/live/incidents/{incident_id}?after=0") as phone_page,
        served.page(phone_cookie, "/live/incidents?after=0") as phone_list,
        served.page(other_cookie, f"/live/incidents/{incident_id}?after=0") as other_page,
    ):
        for ws in (laptop_page, phone_page, phone_list, other_page):
            first_event(ws)
        results = closed_within(sign_out_everywhere, laptop_page, phone_page, phone_list)
        assert [code for code, _ in results] == [4401, 4401, 4401]
        # Someone else's page is not touched, and still gets what is written.
        with db.read_session() as session:
            incident = incidents.get_incident(session, incident_id)
        factories.entry(db, admin, incident, text="Videre.")
        assert "Videre." in wait_for(other_page, "Videre.")


def wait_for(ws: ClientConnection, text: str, timeout: float = 10) -> str:
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        message = str(ws.recv(timeout=left))
        if text in message:
            return message
    raise AssertionError(f"{text!r} never arrived")


def test_signing_out_closes_that_sessions_sockets_only(
    served: Served, db: Database, cleared: Account, incident_id: int
) -> None:
    laptop, laptop_cookie, laptop_csrf = sign_in(served, cleared)
    _, phone_cookie, _ = sign_in(served, cleared)

    def sign_out() -> None:
        response = laptop.post("/logout", data={"csrf_token": laptop_csrf})
        assert response.status_code in (200, 303), response.text

    path = f"/live/incidents/{incident_id}?after=0"
    with (
        served.page(laptop_cookie, path) as laptop_page,
        served.page(phone_cookie, path) as phone_page,
    ):
        first_event(laptop_page)
        first_event(phone_page)
        [(code, _)] = closed_within(sign_out, laptop_page)
        assert code == 4401
        with db.read_session() as session:
            incident = incidents.get_incident(session, incident_id)
        factories.entry(db, cleared, incident, text="Fortsatt her.")
        assert "Fortsatt her." in wait_for(phone_page, "Fortsatt her.")


# --- tokens -----------------------------------------------------------------------------------


def test_revoked_token_closes_its_socket_at_once_and_is_refused(
    served: Served, cleared: Account, incident_id: int
) -> None:
    api = served.http(cleared.token)
    made = api.post("/api/v1/tokens", json={"name": "wall screen"})
    assert made.status_code == 201, made.text
    second = made.json()

    def revoke() -> None:
        assert api.delete(f"/api/v1/tokens/{second['id']}").status_code == 204

    with (
        served.events(second["token"], incident_id) as revoked_one,
        served.events(cleared.token, incident_id) as kept_one,
    ):
        first_event(revoked_one)
        first_event(kept_one)
        [(code, _)] = closed_within(revoke, revoked_one)
        assert code == 4401
        # The user's other token is not touched: its socket stays open and live.
        logged = api.post(
            f"/api/v1/incidents/{incident_id}/log", json={"kind": "decision", "text": "Videre."}
        )
        assert logged.status_code == 201, logged.text
        assert json.loads(wait_for(kept_one, "Videre."))["data"]["entry"]["text"] == "Videre."
    refused = served.http(second["token"]).get("/api/v1/incidents")
    assert refused.status_code == 401
    appended = served.http(second["token"]).post(
        f"/api/v1/incidents/{incident_id}/log", json={"kind": "decision", "text": "Nei."}
    )
    assert appended.status_code == 401


def test_an_expiring_tokens_socket_closes_when_it_expires(
    served: Served, cleared: Account, incident_id: int
) -> None:
    api = served.http(cleared.token)
    expires = utcnow() + timedelta(seconds=2)
    made = api.post("/api/v1/tokens", json={"name": "kort", "expires_at": expires.isoformat()})
    assert made.status_code == 201, made.text
    token = made.json()["token"]
    assert served.http(token).get("/api/v1/incidents").status_code == 200
    with served.events(token, incident_id) as ws:
        first_event(ws)
        code, _ = read_until_closed(ws, timeout=10)
        closed_at = utcnow()
    assert code == 4401
    assert expires <= closed_at <= expires + timedelta(seconds=BOUND)
    assert served.http(token).get("/api/v1/incidents").status_code == 401
    with pytest.raises(InvalidStatus) as refused:  # the handshake
        served.events(token, incident_id).close()
    assert refused.value.response.status_code == 403


@pytest.mark.parametrize(
    "database_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_a_change_on_one_instance_closes_sockets_on_another(
    settings: Settings, db: Database, served: Served, cleared: Account, incident_id: int
) -> None:
    """PostgreSQL, two instances: the revocation is committed through A, the socket is on B."""
    other = create_app(settings.model_copy())
    try:
        with Served(other) as second:
            api = served.http(cleared.token)
            made = api.post("/api/v1/tokens", json={"name": "B"}).json()

            def revoke_through_a() -> None:
                assert api.delete(f"/api/v1/tokens/{made['id']}").status_code == 204

            with second.events(made["token"], incident_id) as on_b:
                first_event(on_b)
                [(code, _)] = closed_within(revoke_through_a, on_b)
            assert code == 4401
    finally:
        other.state.db.dispose()
