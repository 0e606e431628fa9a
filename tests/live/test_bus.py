"""The bus (app/bus.py) through its public face: what a service publishes in its transaction
reaches the subscribers after the commit, merged, access changes first, and never after a
rollback; on a SQLite file, a commit by a process without a running bus (here: a second
`Database` on the same file) reaches the running one through its socket."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import stat
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest

from app.accounts import tokens
from app.actions import transaction
from app.bus import (
    WRITTEN_MAX,
    AccessChanged,
    Bus,
    EventsWritten,
    Notice,
    Written,
    decode,
    encode,
    publish_on_commit,
    socket_path,
)
from app.db import Database
from app.events.service import LOG_APPENDED
from app.incidents.models import Incident
from tests import factories
from tests.factories import Account
from tests.live.conftest import head_seq

T = TypeVar("T")
WAIT = 5.0


def written(seq: int) -> Written:
    return Written(seq=seq, type=LOG_APPENDED, data={"number": seq}, subject=None)


def test_the_wire_says_ids_and_seqs_only_and_reads_back() -> None:
    notice = EventsWritten(7, 12, (written(12),))
    assert encode(notice) == ["events:7:12"]
    assert decode("events:7:12") == EventsWritten(7, 12)
    many = AccessChanged(frozenset(range(1, 1201)))
    payloads = encode(many)
    assert len(payloads) == 3 and all(len(p) < 8000 for p in payloads)
    heard = [decode(p) for p in payloads]
    assert frozenset().union(*(n.user_ids for n in heard if isinstance(n, AccessChanged))) == (
        many.user_ids
    )
    for junk in ("", "events:1", "events:a:2", "access:", "access:x", "other:1"):
        assert decode(junk) is None, junk


def run_with_bus(db: Database, scenario: Callable[[Bus, list[Notice]], Awaitable[T]]) -> T:
    """Run `scenario` with a started bus on `db` that records every notice it hands out."""

    async def main() -> T:
        bus, heard = Bus(db), list[Notice]()
        bus.subscribe(AccessChanged, heard.append)
        bus.subscribe(EventsWritten, heard.append)
        await bus.start()
        try:
            return await scenario(bus, heard)
        finally:
            await bus.stop()

    return asyncio.run(main())


async def heard_within(heard: list[Notice], count: int) -> list[Notice]:
    async with asyncio.timeout(WAIT):
        while len(heard) < count:
            await asyncio.sleep(0.01)
    await asyncio.sleep(0.1)  # and nothing more
    return list(heard)


def echo(notice: Notice) -> Notice:
    """What another process hears of a notice: ids and seqs."""
    if isinstance(notice, AccessChanged):
        return notice
    return EventsWritten(notice.incident_id, notice.seq)


def assert_heard(db: Database, heard: list[Notice], expected: list[Notice]) -> None:
    """`heard` is `expected`, in order. On PostgreSQL the bus also hears its own NOTIFYs, as
    every other instance does, around those: the same, as ids and seqs."""
    if db.is_sqlite:
        assert heard == expected
    else:
        echoes = [echo(n) for n in expected]
        assert Counter(map(repr, heard)) == Counter(map(repr, expected + echoes))


def test_published_on_commit_merged_access_first_and_dropped_on_rollback(
    db: Database, staff: Account, incident: Incident
) -> None:
    assert incident.id is not None
    both = 1 if db.is_sqlite else 2

    class Refused(Exception):
        pass

    def write(*, commit: bool, events: int) -> None:
        with contextlib.suppress(Refused), transaction(db) as tx:
            session = tx.session
            session.connection()  # the transaction has begun
            for seq in range(1, events + 1):
                publish_on_commit(session, EventsWritten(incident.id or 0, seq, (written(seq),)))
            publish_on_commit(session, AccessChanged(frozenset({5})))
            publish_on_commit(session, AccessChanged(frozenset({3})))
            if not commit:
                raise Refused  # rolled back

    async def scenario(bus: Bus, heard: list[Notice]) -> list[list[Notice]]:
        await asyncio.to_thread(write, commit=False, events=2)
        await asyncio.to_thread(write, commit=True, events=2)
        first = await heard_within(heard, 2 * both)
        heard.clear()
        await asyncio.to_thread(write, commit=True, events=WRITTEN_MAX + 1)
        return [first, await heard_within(heard, 2 * both)]

    first, too_many = run_with_bus(db, scenario)
    access = AccessChanged(frozenset({3, 5}))
    assert_heard(db, first, [access, EventsWritten(incident.id, 2, (written(1), written(2)))])
    assert_heard(db, too_many, [access, EventsWritten(incident.id, WRITTEN_MAX + 1)])


def test_a_services_commit_brings_the_events_as_written(
    db: Database, staff: Account, incident: Incident
) -> None:
    async def scenario(bus: Bus, heard: list[Notice]) -> list[Notice]:
        await asyncio.to_thread(factories.entry, db, staff, incident, text="Strømmen er tilbake.")
        return await heard_within(heard, 1 if db.is_sqlite else 2)

    heard = run_with_bus(db, scenario)
    [notice] = [n for n in heard if isinstance(n, EventsWritten) and n.written]
    assert notice.incident_id == incident.id
    [event] = notice.written
    assert (event.seq, event.type) == (notice.seq, LOG_APPENDED)
    assert getattr(event.subject, "text", None) == "Strømmen er tilbake."
    assert_heard(db, heard, [notice])


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_another_process_on_the_sqlite_file_reaches_the_running_bus(
    database_url: str, db: Database, staff: Account, incident: Incident
) -> None:
    """A second `Database` on the file has no running bus, as the CLI has none: its commits go
    to the socket beside the file (0600), ids and seqs only."""
    path = socket_path(db.url)
    assert path is not None and not path.exists()
    other = Database(database_url)

    def revoke_and_append() -> None:
        with other.read_session() as session:
            [token] = tokens.list_api_tokens(session, user_id=staff.user.id)
        tokens.revoke_api_token(other, actor=None, token_id=token.id)
        factories.entry(other, staff, incident)

    async def scenario(bus: Bus, heard: list[Notice]) -> tuple[list[Notice], Any]:
        assert path is not None
        mode = path.stat().st_mode
        await asyncio.to_thread(revoke_and_append)
        return await heard_within(heard, 2), mode

    try:
        heard, mode = run_with_bus(db, scenario)
    finally:
        other.dispose()
    assert stat.S_ISSOCK(mode) and stat.S_IMODE(mode) == 0o600
    newest = EventsWritten(incident.id or 0, head_seq(db, incident))
    assert heard == [AccessChanged(frozenset({staff.user.id or 0})), newest]
    assert not path.exists(), "the socket is removed at the stop"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_stale_socket_is_replaced_and_a_live_one_left_alone(
    database_url: str, db: Database
) -> None:
    path = socket_path(db.url)
    assert path is not None
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as killed:
        killed.bind(str(path))  # a server killed before it could remove its socket

    async def scenario(bus: Bus, heard: list[Notice]) -> bool:
        other = Database(database_url)  # a second server on the same file
        second = Bus(other)
        await second.start()
        await second.stop()
        other.dispose()
        return path.exists()

    assert run_with_bus(db, scenario), "the running server's socket was taken away"
    assert not path.exists()
