"""One request must never stall the server: a real `samvirke serve`, and a 200 MB body.

While 200 MB bodies are being sent to `POST /api/v1/incidents/{id}/log` (with a bad token and a
good one, with Content-Length and chunked), `/healthz` answers and an entry appended by another
client reaches a WebSocket subscriber (from its POST to its arrival, durable commit included)
in under 50 ms, the bound issue 9 sets. Before the size limit such a body was read whole and
then parsed and cleaned on the event loop: seconds in which every page, API call and push
waited.

The machine running the tests is shared, so a single probe may be slow for reasons of its
own (an fsync, another process): the bound holds for the median, and no probe may take a
second, which a stall of the event loop (~10 s for 200 MB, ~1 s for 20 MB) would.
"""

from __future__ import annotations

import json
import select
import socket
import statistics
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from websockets.sync.client import connect

from tests.live.test_server import auth, setup_incident, ws_url
from tests.support.server import LiveServer

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

BOUND = 0.050  # seconds: what the issue asks of /healthz and of a live push
STALL = 1.0  # seconds no single probe may reach
BODY = 200 * 1024 * 1024
CHUNK = 256 * 1024
PACE = 0.002  # seconds between chunks: ~100 MB/s, so each body takes a while to send
PROBES = 40  # of each kind


def huge_entry() -> Iterator[bytes]:
    """A valid JSON entry of BODY bytes, in CHUNK pieces: one text of ~200 million characters."""
    head, tail = b'{"kind": "information", "text": "', b'"}'
    filler = b"x" * CHUNK
    yield head + filler[len(head) :]
    for _ in range(BODY // CHUNK - 2):
        yield filler
    yield filler[: CHUNK - len(tail)] + tail


def send_huge(server: LiveServer, path: str, token: str, *, chunked: bool) -> str:
    """Send `huge_entry` at PACE until the server answers or hangs up; its status line.

    A plain socket, so that nothing waits for the whole body to be sent before reading: the
    answer is looked for between chunks.
    """
    head = [
        f"POST {path} HTTP/1.1",
        f"Host: 127.0.0.1:{server.port}",
        f"Authorization: Bearer {token}",
        "Content-Type: application/json",
        "Transfer-Encoding: chunked" if chunked else f"Content-Length: {BODY}",
    ]
    answer = b""
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        try:
            for piece in huge_entry():
                if select.select([sock], [], [], 0)[0]:
                    break
                sock.sendall(f"{len(piece):x}\r\n".encode() + piece + b"\r\n" if chunked else piece)
                time.sleep(PACE)
            else:
                if chunked:
                    sock.sendall(b"0\r\n\r\n")
                answer = sock.recv(4096)  # what the server made of all of it
        except (BrokenPipeError, ConnectionResetError):
            pass
        try:
            answer = answer or sock.recv(4096)
        except (ConnectionResetError, TimeoutError):
            pass
    return answer.split(b"\r\n", 1)[0].decode() or "closed without an answer"


def test_healthz_and_pushes_stay_fast_while_huge_bodies_arrive(live_server: LiveServer) -> None:
    token, incident_id, head = setup_incident(live_server.database_url)
    path = f"/api/v1/incidents/{incident_id}/log"
    answers: dict[str, str] = {}
    done = threading.Event()

    def huge_bodies() -> None:
        try:
            for name, bearer, chunked in (
                ("bad token, Content-Length", "smv_not-a-token", False),
                ("bad token, chunked", "smv_not-a-token", True),
                ("good token, Content-Length", token, False),
                ("good token, chunked", token, True),
            ):
                answers[name] = send_huge(live_server, path, bearer, chunked=chunked)
        finally:
            done.set()

    timings: dict[str, list[float]] = {"/healthz": [], "append + push": []}
    with (
        httpx.Client(base_url=live_server.url, timeout=10) as probe,
        httpx.Client(base_url=live_server.url, headers=auth(token), timeout=10) as writer,
        connect(ws_url(live_server, incident_id, head), additional_headers=auth(token)) as ws,
    ):
        probe.get("/healthz")  # connections made before the clock starts
        sender = threading.Thread(target=huge_bodies)
        sender.start()
        rounds = 0
        while rounds < PROBES or not done.is_set():
            rounds += 1
            started = time.monotonic()
            assert probe.get("/healthz").status_code == 200
            timings["/healthz"].append(time.monotonic() - started)

            started = time.monotonic()
            response = writer.post(path, json={"kind": "information", "text": f"Probe {rounds}"})
            assert response.status_code == 201, response.text
            number = response.json()["number"]
            while True:
                message = json.loads(ws.recv(timeout=10))
                if message.get("data", {}).get("entry", {}).get("number") == number:
                    break
            timings["append + push"].append(time.monotonic() - started)
            if rounds > 2000:
                break
        sender.join(timeout=60)
    for probe_name, took in timings.items():
        ms = sorted(round(t * 1000) for t in took)
        assert statistics.median(took) < BOUND, (probe_name, ms)
        assert max(took) < STALL, (probe_name, ms)
    assert rounds >= PROBES
    assert done.is_set()
    assert len(answers) == 4
    for name, status in answers.items():
        assert status.split(" ")[1:2] in (["401"], ["413"]), (name, status)
