"""Measuring for bench_fanout.py: the two targets (app, bare baseline) and how a sample is taken.

A sample is one client's receipt time of one event, stamped in `data_received`
(fanout_wire.py), minus the moment the app's 201 arrived (app) or the trigger was written
(baseline). The app pushes an entry as soon as it is committed, so with many clients most
receive it before the writer has its 201 (negative samples, counted in `arrived_before_201`);
the app's samples are therefore also taken from the write itself: the entry's `recorded_at`
(server clock, stamped before the commit and its fsync), which is what the baseline's trigger
is to a broadcast. The writer's own wait for the 201 is reported as `append_ms`. App appends and baseline broadcasts alternate, so both meet the same background
load; every wait for a delivery is bounded (WAIT), and what did not arrive counts as lost.
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import datetime
from typing import Any

from fanout_procs import HOST
from fanout_wire import Arrivals, HttpPoster, WsClient, open_poster, open_ws

WAIT = 10.0  # the longest one delivery may take before it counts as lost
TEXT = (
    "Kommunen har besluttet å evakuere sone B (Storgata 1–40) innen kl. 14.00. Politiet varsler "
    "beboerne; Sivilforsvaret setter opp mottak på Kvam skole. Neste statusmøte kl. 13.30. #{n}"
)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


def summary(samples: list[float]) -> dict[str, float]:
    ms = [s * 1000 for s in samples]
    if not ms:
        return {}
    return {
        "p50": round(percentile(ms, 50), 2),
        "p99": round(percentile(ms, 99), 2),
        "max": round(max(ms), 2),
        "min": round(min(ms), 2),
        "n": len(ms),
    }


# --- measuring ------------------------------------------------------------------------------


async def connect_many(
    port: int, path: str, headers: dict[str, str], arrivals: Arrivals, count: int
) -> list[WsClient]:
    clients: list[WsClient] = []
    gate = asyncio.Semaphore(50)

    async def one() -> None:
        async with gate:
            clients.append(await open_ws(HOST, port, path, headers, arrivals))

    await asyncio.gather(*(one() for _ in range(count)))
    return clients


async def delivered(arrivals: Arrivals, seq: int, expected: int, timeout: float = WAIT) -> int:
    deadline = time.monotonic() + timeout
    while arrivals.count(seq) < expected and time.monotonic() < deadline:
        await asyncio.sleep(0.002)
    return arrivals.count(seq)


class AppTarget:
    """The app: append over HTTP, clients listen on the incident's events socket."""

    def __init__(self, port: int, token: str, incident_id: int, head: int) -> None:
        self.port, self.token, self.incident_id, self.head = port, token, incident_id, head
        self.arrivals = Arrivals()
        self.clients: list[WsClient] = []
        self.poster: HttpPoster | None = None
        self.n = 0

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def grow(self, total: int) -> None:
        path = f"/api/v1/incidents/{self.incident_id}/events?after={self.head}"
        more = total - len(self.clients)
        self.clients += await connect_many(self.port, path, self.auth, self.arrivals, more)

    async def fire(self) -> tuple[int, float, float, float]:
        """Append one entry; returns (its seq, request written at, 201 arrived at, recorded at),
        all on this process's `perf_counter` clock."""
        if self.poster is None or not self.poster.usable:
            self.poster = await open_poster(HOST, self.port, self.auth)
        self.n += 1
        body = json.dumps({"kind": "information", "text": TEXT.format(n=self.n)}).encode()
        sent, answered, status, answer = await self.poster.post(
            f"/api/v1/incidents/{self.incident_id}/log", body
        )
        if status != 201:
            raise RuntimeError(f"append answered {status}: {answer[:300]!r}")
        self.head += 1
        recorded = datetime.fromisoformat(json.loads(answer)["recorded_at"]).timestamp()
        return self.head, sent, answered, recorded - (time.time() - time.perf_counter())


async def measure_app(
    target: AppTarget, listeners: dict[str, AppTarget], repeats: int
) -> dict[str, dict[str, Any]]:
    """`repeats` appends through `target`, sampled at the clients of every listener."""
    from_201: dict[str, list[float]] = {name: [] for name in listeners}
    from_request: dict[str, list[float]] = {name: [] for name in listeners}
    from_write: dict[str, list[float]] = {name: [] for name in listeners}
    lost = dict.fromkeys(listeners, 0)
    target.poster = None  # a fresh connection: uvicorn drops idle keep-alives after 5 s
    for i in range(2 + repeats):
        seq, sent, answered, written = await target.fire()
        for name, listener in listeners.items():
            expected = len(listener.clients)
            got = await delivered(listener.arrivals, seq, expected)
            if i < 2:
                continue
            lost[name] += expected - got
            times = listener.arrivals.times[seq]
            from_201[name] += [t - answered for t in times]
            from_request[name] += [t - sent for t in times]
            from_write[name] += [t - written for t in times]
        await asyncio.sleep(0.15)
    return {
        name: {
            "from_201_ms": summary(from_201[name]),
            "from_write_ms": summary(from_write[name]),
            "from_request_ms": summary(from_request[name]),
            "arrived_before_201": sum(1 for s in from_201[name] if s < 0),
            "lost": lost[name],
        }
        for name in listeners
    }


class BaselineTarget:
    """The bare broadcast server: the app's message bytes, re-numbered, sent on a trigger."""

    def __init__(self, port: int, template: str) -> None:
        self.port, self.template = port, template
        self.arrivals = Arrivals()
        self.clients: list[WsClient] = []
        self.trigger: WsClient | None = None
        self.seq = 0

    async def grow(self, total: int) -> None:
        if self.trigger is None:
            self.trigger = await open_ws(HOST, self.port, "/trigger", {}, Arrivals())
        more = total - len(self.clients)
        self.clients += await connect_many(self.port, "/clients", {}, self.arrivals, more)

    def fire(self) -> tuple[int, float]:
        assert self.trigger is not None
        self.seq += 1
        payload = self.template.replace('{"seq": 0,', f'{{"seq": {self.seq},', 1).encode()
        sent = time.perf_counter()
        self.trigger.send_text(payload)
        return self.seq, sent


async def measure_side_by_side(
    app: AppTarget, base: BaselineTarget, repeats: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Alternate app appends and baseline broadcasts, so both meet the same background load."""
    app_201: list[float] = []
    app_write: list[float] = []
    app_request: list[float] = []
    append: list[float] = []
    base_samples: list[float] = []
    last_app: list[float] = []
    last_base: list[float] = []
    lost_app = lost_base = 0
    app.poster = None  # a fresh connection: uvicorn drops idle keep-alives after 5 s
    for i in range(2 + repeats):
        seq, sent, answered, written = await app.fire()
        got = await delivered(app.arrivals, seq, len(app.clients))
        if i >= 2:
            lost_app += len(app.clients) - got
            times = app.arrivals.times[seq]
            app_201 += [t - answered for t in times]
            app_write += [t - written for t in times]
            app_request += [t - sent for t in times]
            append.append(answered - sent)
            last_app.append(max(times) - answered)
        await asyncio.sleep(0.1)
        seq, sent = base.fire()
        got = await delivered(base.arrivals, seq, len(base.clients))
        if i >= 2:
            lost_base += len(base.clients) - got
            times = base.arrivals.times[seq]
            base_samples += [t - sent for t in times]
            last_base.append(max(times) - sent)
        await asyncio.sleep(0.1)
    app_result = {
        "from_201_ms": summary(app_201),
        "from_write_ms": summary(app_write),
        "from_request_ms": summary(app_request),
        "append_ms": summary(append),
        "last_client_ms": summary(last_app),
        "arrived_before_201": sum(1 for s in app_201 if s < 0),
        "lost": lost_app,
    }
    base_result = {
        "from_trigger_ms": summary(base_samples),
        "last_client_ms": summary(last_base),
        "lost": lost_base,
    }
    return app_result, base_result


async def capture_message(port: int, token: str, target: AppTarget) -> str:
    """One real `log.appended` message from the app, as the baseline's payload template."""
    from websockets.asyncio.client import connect

    url = f"ws://{HOST}:{port}/api/v1/incidents/{target.incident_id}/events?after={target.head}"
    async with connect(url, additional_headers=target.auth, compression=None) as ws:
        seq, _, _, _ = await target.fire()
        async with asyncio.timeout(WAIT):
            message = json.loads(await ws.recv())
    if message["seq"] != seq:
        raise RuntimeError(f"expected seq {seq}, got {message['seq']}")
    message["seq"] = 0
    return json.dumps(message, ensure_ascii=False)
