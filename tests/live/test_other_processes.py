"""Changes another process commits reach open sockets within a second, as a notice, not a poll.

The server is `samvirke serve` in a process of its own (tests/support/server.py); the change
comes from another: the CLI, or this test process writing through the services. On SQLite
such a process sends its committed notices to the Unix socket the server binds beside the
database file (app/bus.py); on PostgreSQL they travel by NOTIFY. Without them the heartbeat
(its first re-check 7.5–15 s after a socket opens) or the hub's re-check (every 5 s) would be
the first to notice.
"""

from __future__ import annotations

import json
import os
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.sync.client import ClientConnection, connect

from app.bus import socket_path
from app.db import Database
from tests import factories
from tests.live.test_revoke import BOUND, first_event, read_until_closed
from tests.support.server import LiveServer, run_cli

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[LiveServer]:
    running = LiveServer(database_url=database_url, workdir=tmp_path / "server")
    running.start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def writer(database_url: str) -> Iterator[Database]:
    """This test process's own connection to the server's database: another process."""
    db = Database(database_url)
    try:
        yield db
    finally:
        db.dispose()


def events(server: LiveServer, token: str, incident_id: int) -> ClientConnection:
    url = f"ws://127.0.0.1:{server.port}/api/v1/incidents/{incident_id}/events?after=0"
    return connect(url, additional_headers={"Authorization": f"Bearer {token}"})


def test_tokens_revoke_in_the_cli_closes_the_tokens_socket_within_a_second(
    server: LiveServer, writer: Database, tmp_path: Path
) -> None:
    account = factories.account(writer, name="Siri Staff", email="siri@example.no")
    incident = factories.incident(writer, account)
    with server.client(account.token) as api:
        made = api.post("/api/v1/tokens", json={"name": "wall screen"}).json()
    closed: list[tuple[int, float]] = []
    with events(server, made["token"], incident.id or 0) as ws:
        first_event(ws)
        reader = threading.Thread(
            target=lambda: closed.append((read_until_closed(ws, 30)[0], time.monotonic()))
        )
        reader.start()
        (tmp_path / "cli").mkdir(exist_ok=True)
        revoked = run_cli(
            "tokens", "revoke", str(made["id"]), cwd=tmp_path / "cli",
            database_url=server.database_url, data_dir=tmp_path / "cli" / "data",
        )  # fmt: skip
        done = time.monotonic()
        assert revoked.returncode == 0, revoked.stdout + revoked.stderr
        reader.join(timeout=30)
    [(code, at)] = closed
    assert code == 4401
    assert at - done <= BOUND, f"closed {at - done:.2f} s after the CLI was done"


def test_an_entry_another_process_writes_reaches_the_socket_within_a_second(
    server: LiveServer, writer: Database
) -> None:
    account = factories.account(writer, name="Siri Staff", email="siri@example.no")
    incident = factories.incident(writer, account)
    with events(server, account.token, incident.id or 0) as ws:
        first_event(ws)
        time.sleep(0.2)  # the socket has replayed everything and is live
        written = time.monotonic()
        entry = factories.entry(writer, account, incident, text="Vannet stiger.")
        while True:
            message = json.loads(ws.recv(timeout=10))
            if message.get("data", {}).get("entry", {}).get("number") == entry.number:
                break
        arrived = time.monotonic()
    assert message["data"]["entry"]["text"] == "Vannet stiger."
    assert arrived - written <= BOUND, f"arrived {arrived - written:.2f} s after the commit"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_servers_socket_is_private_replaced_when_stale_and_removed_at_the_stop(
    server: LiveServer, writer: Database, tmp_path: Path
) -> None:
    path = socket_path(writer.url)
    assert path is not None and path.parent == Path(writer.url.removeprefix("sqlite:///")).parent
    assert stat.S_ISSOCK(os.stat(path).st_mode) and stat.S_IMODE(os.stat(path).st_mode) == 0o600
    server.kill()  # no clean-up: the socket file stays, with nobody behind it
    assert path.exists()
    server.start()
    test_tokens_revoke_in_the_cli_closes_the_tokens_socket_within_a_second(server, writer, tmp_path)
    server.stop()
    assert not path.exists()
