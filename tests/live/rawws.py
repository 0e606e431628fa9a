"""A deliberately dumb WebSocket client on a plain blocking socket, for the slow-client test.

The `websockets` library reads the socket in the background, which is exactly what a stalled
client does not do. This one sends the handshake and then reads nothing until it is told to,
so the server's send buffer, the kernel buffers and the hub's per-socket queue really fill up.
Every read has a timeout; frames from the server are unmasked (RFC 6455 §5.1), ours are masked.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import struct
from typing import Any
from urllib.parse import urlsplit

TEXT, CLOSE, PING, PONG = 0x1, 0x8, 0x9, 0xA


class RawClosed(Exception):
    def __init__(self, code: int) -> None:
        super().__init__(f"closed by the server with code {code}")
        self.code = code


class RawSocket:
    def __init__(self, url: str, *, token: str, receive_buffer: int = 4096, timeout: float = 10.0):
        parts = urlsplit(url)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        # Small before connect, so the window the server may fill stays small.
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        self.sock.settimeout(timeout)
        self.sock.connect((parts.hostname or "127.0.0.1", parts.port or 80))
        key = base64.b64encode(os.urandom(16)).decode()
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        request = (
            f"GET {target} HTTP/1.1\r\nHost: {parts.netloc}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"Authorization: Bearer {token}\r\n\r\n"
        )
        self.sock.sendall(request.encode())
        self._buffer = b""
        head = self._read_until(b"\r\n\r\n")
        status = head.split(b"\r\n", 1)[0]
        if b" 101 " not in status:
            raise ConnectionError(f"handshake refused: {status.decode(errors='replace')}")

    def pending_bytes(self) -> int:
        """What the kernel holds for us unread (Linux FIONREAD)."""
        import fcntl
        import termios

        buf = fcntl.ioctl(self.sock.fileno(), termios.FIONREAD, b"\0\0\0\0")
        count: int = struct.unpack("i", buf)[0]
        return count

    def _read_until(self, marker: bytes) -> bytes:
        while marker not in self._buffer:
            self._fill()
        head, _, self._buffer = self._buffer.partition(marker)
        return head

    def _fill(self) -> None:
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise ConnectionError("the server closed the TCP connection")
        self._buffer += chunk

    def _exact(self, n: int) -> bytes:
        while len(self._buffer) < n:
            self._fill()
        data, self._buffer = self._buffer[:n], self._buffer[n:]
        return data

    def _frame(self) -> tuple[bool, int, bytes]:
        b0, b1 = self._exact(2)
        length = b1 & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", self._exact(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", self._exact(8))
        if b1 & 0x80:
            raise AssertionError("the server masked a frame")
        return bool(b0 & 0x80), b0 & 0x0F, self._exact(length)

    def send_frame(self, opcode: int, payload: bytes) -> None:
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        length = len(payload)
        header = bytes([0x80 | opcode])
        if length < 126:
            header += bytes([0x80 | length])
        elif length < 1 << 16:
            header += bytes([0x80 | 126]) + struct.pack("!H", length)
        else:
            header += bytes([0x80 | 127]) + struct.pack("!Q", length)
        self.sock.sendall(header + mask + masked)

    def message(self) -> dict[str, Any]:
        """The next text message as JSON; answers pings; raises RawClosed on a close frame."""
        parts: list[bytes] = []
        while True:
            fin, opcode, payload = self._frame()
            if opcode == PING:
                self.send_frame(PONG, payload)
                continue
            if opcode == CLOSE:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
                raise RawClosed(code)
            parts.append(payload)
            if fin:
                result: dict[str, Any] = json.loads(b"".join(parts))
                return result

    def close(self) -> None:
        try:
            self.send_frame(CLOSE, struct.pack("!H", 1000))
        except OSError:
            pass
        self.sock.close()
