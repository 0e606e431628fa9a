"""Crash durability: SIGKILL the server while 32 clients write; nothing acknowledged is lost.

The server answers 201 only after the commit is durable. So after a crash and a restart on the
same database every acknowledged entry must be there with the same number, hash and text, the
numbers must run 1..N without a gap and the hash chain must verify (API and CLI). Requests that
were in flight at the kill may or may not have landed; if one did, it is exactly one of the
requests whose answer was lost, never a duplicate or an invention. The events written in the
same transactions must agree: a gap-free seq and one `log.appended` per entry.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from sqlmodel import col, select

from app.db import Database
from app.events.models import Event
from app.events.service import LOG_APPENDED
from tests import factories
from tests.support.server import LiveServer, run_cli

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

WRITERS = 32
WRITE_FOR = 0.5  # at least this many seconds of acknowledged writes before the kill…
ACKED_BEFORE_KILL = 2 * WRITERS  # …and at least this many acknowledged writes (bounded by time)
KINDS = ("decision", "information", "action", "message_in", "message_out")


@dataclass
class Acked:
    number: int
    hash: str
    text: str


@dataclass
class Run:
    acked: list[Acked] = field(default_factory=list)
    sent: set[str] = field(default_factory=set)
    unanswered: set[str] = field(default_factory=set)  # in flight when the server died
    unexpected: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    first_ack: threading.Event = field(default_factory=threading.Event)


def _writer(server: LiveServer, token: str, incident_id: int, index: int, run: Run) -> None:
    path = f"/api/v1/incidents/{incident_id}/log"
    with server.client(token, timeout=20.0) as client:
        for n in range(100_000):
            text = f"writer {index:02d} entry {n:05d}"
            with run.lock:
                run.sent.add(text)
            try:
                response = client.post(path, json={"kind": KINDS[n % len(KINDS)], "text": text})
            except httpx.TransportError:
                with run.lock:
                    run.unanswered.add(text)
                return
            if response.status_code != 201:
                with run.lock:
                    run.unexpected.append(f"{text}: {response.status_code} {response.text[:300]}")
                return
            body = response.json()
            with run.lock:
                run.acked.append(Acked(number=body["number"], hash=body["hash"], text=body["text"]))
            run.first_ack.set()


def _read_log(client: httpx.Client, incident_id: int) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    after: int | None = 0
    while after is not None:
        page = client.get(
            f"/api/v1/incidents/{incident_id}/log", params={"after": after, "limit": 1000}
        )
        assert page.status_code == 200, page.text
        body = page.json()
        items.extend(body["items"])
        after = body["next_after"]
    return items


def test_sigkill_during_32_writers_loses_no_acknowledged_entry(
    live_server: LiveServer, live_account: factories.Account
) -> None:
    server, token = live_server, live_account.token
    with server.client(token) as client:
        opened = client.post(
            "/api/v1/incidents",
            json={"title": "Crash test", "category": "other", "level": "red", "exercise": True},
        )
        assert opened.status_code == 201, opened.text
        incident_id = opened.json()["id"]

    run = Run()
    threads = [
        threading.Thread(target=_writer, args=(server, token, incident_id, i, run), daemon=True)
        for i in range(WRITERS)
    ]
    for thread in threads:
        thread.start()
    assert run.first_ack.wait(timeout=30), (
        f"no write acknowledged; server output:\n{server.output()}"
    )
    started, deadline = time.monotonic(), time.monotonic() + 20
    while time.monotonic() < deadline and (
        time.monotonic() - started < WRITE_FOR or len(run.acked) < ACKED_BEFORE_KILL
    ):
        time.sleep(0.01)
    server.kill()
    killed_after = time.monotonic() - started
    for thread in threads:
        thread.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a writer hung after the server was killed"

    assert not run.unexpected, (
        f"writes refused before the kill: {run.unexpected[:5]}\n{server.output()}"
    )
    assert len(run.acked) >= ACKED_BEFORE_KILL, (
        f"only {len(run.acked)} writes acknowledged in {killed_after:.1f} s before the kill"
    )
    assert run.unanswered, "no request was in flight at the kill: it was not mid-stream"
    numbers = [a.number for a in run.acked]
    assert len(set(numbers)) == len(numbers), "two acknowledged writes got the same number"

    server.start()
    with server.client(token) as client:
        entries = _read_log(client, incident_id)
        by_number = {e["number"]: e for e in entries}
        print(  # shown with -s and on failure
            f"killed after {killed_after:.2f} s: {len(run.acked)} acknowledged, "
            f"{len(run.unanswered)} in flight, {len(entries)} entries after restart"
        )

        # Gap-free 1..N, and every acknowledged entry is there unchanged.
        assert [e["number"] for e in entries] == list(range(1, len(entries) + 1))
        lost = [a for a in run.acked if a.number not in by_number]
        assert not lost, f"{len(lost)} acknowledged entries lost, e.g. {lost[:3]}"
        changed = [
            a
            for a in run.acked
            if (by_number[a.number]["hash"], by_number[a.number]["text"]) != (a.hash, a.text)
        ]
        assert not changed, f"acknowledged entries differ after restart: {changed[:3]}"

        # Whatever landed without an answer was in flight at the kill; nothing twice, nothing new.
        written = [e for e in entries if not e["system"]]
        texts = [e["text"] for e in written]
        assert len(set(texts)) == len(texts), "an entry landed twice"
        acked_texts = {a.text for a in run.acked}
        unacked = set(texts) - acked_texts
        assert unacked <= run.unanswered, (
            f"entries nobody sent in flight: {sorted(unacked - run.unanswered)[:3]}"
        )
        assert len(entries) == 1 + len(acked_texts) + len(unacked)  # 1: the system's "opened"

        # The chain verifies, and the log goes on where it stopped.
        verified = client.get(f"/api/v1/incidents/{incident_id}/log/verify")
        assert verified.status_code == 200, verified.text
        assert verified.json()["ok"] is True, verified.json()
        assert verified.json()["head"] == {
            "number": entries[-1]["number"],
            "hash": entries[-1]["hash"],
        }

        after = client.post(
            f"/api/v1/incidents/{incident_id}/log",
            json={"kind": "decision", "text": "After the crash"},
        )
        assert after.status_code == 201, after.text
        assert after.json()["number"] == len(entries) + 1

    checked = run_cli(
        "verify", cwd=server.data_dir, database_url=server.database_url, data_dir=server.data_dir
    )
    assert checked.returncode == 0, f"samvirke verify failed:\n{checked.stdout}\n{checked.stderr}"
    assert f"incident {incident_id}: ok ({len(entries) + 1} entries" in checked.stdout, (
        checked.stdout
    )

    # Each entry's event was committed with it: seq 1..M, one log.appended per entry.
    db = Database(server.database_url)
    try:
        with db.read_session() as session:
            events = session.exec(
                select(Event).where(Event.incident_id == incident_id).order_by(col(Event.seq))
            ).all()
    finally:
        db.dispose()
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    appended = sorted(e.data["number"] for e in events if e.type == LOG_APPENDED)
    assert appended == list(range(1, len(entries) + 2))
