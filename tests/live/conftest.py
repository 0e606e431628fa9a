"""Live-push fixtures: token-only accounts, bulk history, and sockets whose every wait is bounded.

Starlette's test socket blocks forever on `receive()`; `Socket` reads the same stream with a
deadline instead, so a push that never comes fails the test in seconds rather than hanging it.
Accounts here have no password (token only): the live tests never sign in, and skipping the
password hash keeps each test about a second faster.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import anyio
import pytest
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketTestSession

from app.accounts import service as accounts
from app.accounts import tokens
from app.accounts.models import Role, UserCreate
from app.actions import transaction
from app.db import Database
from app.incidents import service as incidents
from app.incidents.models import Incident, IncidentCreate
from app.log.models import Classification, EntryKind
from app.log.service import lock_incident, write_entry
from tests.factories import Account

TIMEOUT = 10.0  # the longest any single wait may take before the test fails


def token_account(db: Database, *, name: str, email: str, restricted: bool = False) -> Account:
    user = accounts.create_user(
        db, data=UserCreate(email=email, name=name, role=Role.staff, restricted=restricted)
    )
    token = tokens.create_api_token(db, user=user, name="live tests")
    return Account(user=user, token=token, email=email, password="")


@pytest.fixture
def staff(db: Database) -> Account:
    """A staff member without clearance for restricted entries."""
    return token_account(db, name="Siri Staff", email="siri@example.no")


@pytest.fixture
def cleared(db: Database) -> Account:
    """A staff member cleared for restricted entries."""
    return token_account(db, name="Rolf Restricted", email="rolf@example.no", restricted=True)


@pytest.fixture
def incident(db: Database, cleared: Account) -> Incident:
    """An open incident: seq 1 is `incident.opened`, seq 2 its system entry."""
    return incidents.open_incident(
        db, actor=cleared.user, data=IncidentCreate(title="Storm Ingunn")
    )


def bulk_entries(
    db: Database,
    actor: Account,
    incident: Incident,
    count: int,
    *,
    text: str = "Vannverket melder trykkfall i sone {n}.",
    classification: Classification = Classification.internal,
) -> int:
    """Append `count` entries in ONE transaction through the log's own write path; returns head seq.

    The same chain and event rows as `count` appends, without `count` durable commits.
    """
    with transaction(db) as tx:
        current = tx.session.get(Incident, incident.id)
        assert current is not None
        lock_incident(tx.session, current)
        for n in range(count):
            write_entry(
                tx,
                incident=current,
                kind=EntryKind.information,
                text=text.format(n=n),
                classification=classification,
                author=actor.user,
            )
    return current.event_seq


def head_seq(db: Database, incident: Incident) -> int:
    with db.read_session() as session:
        current = session.get(Incident, incident.id)
        assert current is not None
        return current.event_seq


class Closed(Exception):
    def __init__(self, code: int, reason: str = "") -> None:
        super().__init__(f"socket closed with code {code} {reason}".rstrip())
        self.code, self.reason = code, reason


class Socket:
    """A connected test socket with bounded reads."""

    def __init__(self, session: WebSocketTestSession) -> None:
        self.session = session

    def message(self, timeout: float = TIMEOUT) -> dict[str, Any]:
        """The next message, heartbeats included; raises `Closed` on a close frame."""
        message: dict[str, Any] = json.loads(self.text(timeout))
        return message

    def text(self, timeout: float = TIMEOUT) -> str:
        """The next message as sent (a page socket's are HTML); raises `Closed` on a close."""

        async def receive() -> Any:
            with anyio.fail_after(timeout):
                return await self.session._send_rx.receive()

        try:
            raw = self.session.portal.call(receive)
        except TimeoutError:
            raise AssertionError(f"no message from the socket within {timeout} s") from None
        if raw["type"] == "websocket.close":
            raise Closed(raw.get("code", 1000), raw.get("reason") or "")
        assert raw["type"] == "websocket.send", raw
        text: str = raw["text"]
        return text

    def event(self, timeout: float = TIMEOUT) -> dict[str, Any]:
        """The next message that carries a seq (heartbeats skipped)."""
        while True:
            message = self.message(timeout)
            if "seq" in message:
                return message

    def events_through(self, seq: int, timeout: float = TIMEOUT) -> list[dict[str, Any]]:
        """Every event up to and including `seq`, as received (duplicates and gaps kept)."""
        received: list[dict[str, Any]] = []
        while not received or received[-1]["seq"] < seq:
            received.append(self.event(timeout))
        return received

    def close_code(self, timeout: float = TIMEOUT) -> int:
        """Read until the server closes the socket (within `timeout` in all); returns the code."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                self.text(left)
            except Closed as closed:
                return closed.code
            except AssertionError:
                break
        raise AssertionError(f"the socket was still open after {timeout} s")


def events_url(incident_id: int | None, after: int | None = None) -> str:
    query = "" if after is None else f"?after={after}"
    return f"/api/v1/incidents/{incident_id}/events{query}"


@contextmanager
def open_socket(
    client: TestClient,
    incident_id: int | None,
    token: str | None,
    *,
    after: int | None = None,
    origin: str | None = None,
) -> Iterator[Socket]:
    headers = {}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if origin is not None:
        headers["Origin"] = origin
    with client.websocket_connect(events_url(incident_id, after), headers=headers) as session:
        yield Socket(session)


def assert_gap_free(events: list[dict[str, Any]], first: int, last: int) -> None:
    """Exactly seq first..last, once each, in order."""
    seqs = [e["seq"] for e in events]
    assert seqs == list(range(first, last + 1)), _describe(seqs, first, last)


def _describe(seqs: list[int], first: int, last: int) -> str:
    seen: dict[int, int] = {}
    for s in seqs:
        seen[s] = seen.get(s, 0) + 1
    doubled = sorted(s for s, n in seen.items() if n > 1)
    missing = sorted(set(range(first, last + 1)) - set(seen))
    disorder = sum(1 for a, b in itertools.pairwise(seqs) if b <= a)
    return (
        f"expected seq {first}..{last}: got {len(seqs)} events, "
        f"doubled {doubled[:10]}, missing {missing[:10]}, {disorder} out of order"
    )
