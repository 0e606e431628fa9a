"""Cheap clients for bench_fanout.py: raw asyncio protocols that timestamp on arrival.

A thousand `websockets` client connections in one process would spend more time waking
coroutines than the server spends sending, and every wake-up would be added to the latency we
measure. `WsClient` is a bare RFC 6455 client (no extensions, so nothing is compressed) that
stamps `time.perf_counter()` in `data_received` and pulls the `seq` out of the frame's first
bytes without parsing the JSON. `HttpPoster` stamps the moment the whole HTTP response is in,
so "time from the 201" is the 201's arrival on the wire, not when a coroutine got round to it.
The same clients measure the app and the baseline, so whatever they cost, both pay it.
"""

from __future__ import annotations

import asyncio
import base64
import os
import time
from collections import defaultdict
from typing import cast

SEQ_PREFIX = b'{"seq": '
TEXT, CLOSE, PING, PONG = 0x1, 0x8, 0x9, 0xA


def masked_frame(opcode: int, payload: bytes) -> bytes:
    """A client frame (clients must mask, RFC 6455 §5.3)."""
    mask = os.urandom(4)
    n = len(payload)
    if n < 126:
        header = bytes([0x80 | opcode, 0x80 | n])
    elif n < 1 << 16:
        header = bytes([0x80 | opcode, 0x80 | 126]) + n.to_bytes(2, "big")
    else:
        header = bytes([0x80 | opcode, 0x80 | 127]) + n.to_bytes(8, "big")
    return header + mask + bytes(b ^ mask[i & 3] for i, b in enumerate(payload))


class Arrivals:
    """seq -> arrival times, shared by all clients of one target."""

    def __init__(self) -> None:
        self.times: defaultdict[int, list[float]] = defaultdict(list)
        self.other = 0  # messages without a seq (heartbeats)

    def count(self, seq: int) -> int:
        return len(self.times.get(seq, ()))


class WsClient(asyncio.Protocol):
    def __init__(
        self, host: str, port: int, path: str, headers: dict[str, str], arrivals: Arrivals
    ):
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [
            f"GET {path} HTTP/1.1",
            f"Host: {host}:{port}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {key}",
            "Sec-WebSocket-Version: 13",
            *(f"{k}: {v}" for k, v in headers.items()),
        ]
        self.request = ("\r\n".join(lines) + "\r\n\r\n").encode()
        self.arrivals = arrivals
        self.buffer = b""
        self.opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.closed: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self.transport.write(self.request)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.opened.done():
            self.opened.set_exception(ConnectionError(f"lost during the handshake: {exc}"))
        if not self.closed.done():
            self.closed.set_result(1006)

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter()
        buffer = self.buffer + data if self.buffer else data
        if not self.opened.done():
            head, found, rest = buffer.partition(b"\r\n\r\n")
            if not found:
                self.buffer = buffer
                return
            status = head.split(b"\r\n", 1)[0]
            if b" 101 " not in status:
                self.opened.set_exception(ConnectionError(status.decode(errors="replace")))
                assert self.transport is not None
                self.transport.close()
                return
            self.opened.set_result(None)
            buffer = rest
        times, pos, end = self.arrivals.times, 0, len(buffer)
        while end - pos >= 2:
            b0, b1 = buffer[pos], buffer[pos + 1]
            length, start = b1 & 0x7F, pos + 2
            if length == 126:
                if end - pos < 4:
                    break
                length, start = int.from_bytes(buffer[pos + 2 : pos + 4], "big"), pos + 4
            elif length == 127:
                if end - pos < 10:
                    break
                length, start = int.from_bytes(buffer[pos + 2 : pos + 10], "big"), pos + 10
            if end - start < length:
                break
            opcode = b0 & 0x0F
            if opcode == TEXT:
                if buffer.startswith(SEQ_PREFIX, start):
                    comma = buffer.index(b",", start + 8)
                    times[int(buffer[start + 8 : comma])].append(now)
                else:
                    self.arrivals.other += 1
            elif opcode == PING and self.transport is not None:
                self.transport.write(masked_frame(PONG, buffer[start : start + length]))
            elif opcode == CLOSE and not self.closed.done():
                code = int.from_bytes(buffer[start : start + 2], "big") if length >= 2 else 1005
                self.closed.set_result(code)
            pos = start + length
        self.buffer = buffer[pos:]

    def send_text(self, payload: bytes) -> None:
        assert self.transport is not None
        self.transport.write(masked_frame(TEXT, payload))

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(masked_frame(CLOSE, (1000).to_bytes(2, "big")))
            self.transport.close()


async def open_ws(
    host: str,
    port: int,
    path: str,
    headers: dict[str, str],
    arrivals: Arrivals,
    timeout: float = 20,
) -> WsClient:
    loop = asyncio.get_running_loop()
    _, client = await asyncio.wait_for(
        loop.create_connection(lambda: WsClient(host, port, path, headers, arrivals), host, port),
        timeout,
    )
    await asyncio.wait_for(client.opened, timeout)
    return client


class HttpPoster(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection; `post` returns (sent at, answered at, status, body)."""

    def __init__(self, host: str, port: int, headers: dict[str, str]) -> None:
        self.host, self.port, self.headers = host, port, headers
        self.buffer = b""
        self.waiter: asyncio.Future[tuple[float, int, bytes]] | None = None
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    @property
    def usable(self) -> bool:
        return self.transport is not None and not self.transport.is_closing()

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None  # the server ends idle keep-alive connections after 5 s
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError(f"connection lost: {exc}"))

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter()
        self.buffer += data
        head, found, body = self.buffer.partition(b"\r\n\r\n")
        if not found:
            return
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        if len(body) < length:
            return
        status = int(head.split(b" ", 2)[1])
        self.buffer = body[length:]
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result((now, status, body[:length]))

    async def post(
        self, path: str, body: bytes, timeout: float = 30
    ) -> tuple[float, float, int, bytes]:
        assert self.transport is not None
        lines = [
            f"POST {path} HTTP/1.1",
            f"Host: {self.host}:{self.port}",
            "Content-Type: application/json",
            f"Content-Length: {len(body)}",
            *(f"{k}: {v}" for k, v in self.headers.items()),
        ]
        self.waiter = asyncio.get_running_loop().create_future()
        sent = time.perf_counter()
        self.transport.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        answered, status, answer = await asyncio.wait_for(self.waiter, timeout)
        return sent, answered, status, answer


async def open_poster(host: str, port: int, headers: dict[str, str]) -> HttpPoster:
    loop = asyncio.get_running_loop()
    _, poster = await asyncio.wait_for(
        loop.create_connection(lambda: HttpPoster(host, port, headers), host, port), 10
    )
    return poster
