"""A real Samvirke server in a subprocess, for end-to-end, browser and crash tests.

`LiveServer` runs `samvirke serve` exactly as an operator would (same console script, same
migrations, same uvicorn), on loopback and a free port, with its settings given only through
`SAMVIRKE_*` environment variables. It can be started again on the same database after a stop
or a SIGKILL, which is what the durability test needs. Every wait is bounded, the process runs
in its own process group (so a kill reaches anything it spawned) and its output goes to a file
that failure messages quote.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Self

import httpx

SECRET_KEY = "e2e-secret-key-not-for-production"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def samvirke_command() -> list[str]:
    """The `samvirke` console script of the interpreter running the tests (fallback: -c)."""
    script = Path(sys.executable).with_name("samvirke")
    if script.exists():
        return [str(script)]
    return [
        sys.executable,
        "-c",
        "import sys; from app.cli import main; sys.argv[0] = 'samvirke'; main()",
    ]


def _own_env() -> dict[str, str]:
    """Our environment minus any SAMVIRKE_* of the developer's."""
    return {k: v for k, v in os.environ.items() if not k.startswith("SAMVIRKE_")}


def server_env(database_url: str, data_dir: Path, base_url: str = "") -> dict[str, str]:
    """The environment of a server run."""
    env = _own_env()
    env.update(
        SAMVIRKE_DATABASE_URL=database_url,
        SAMVIRKE_DATA_DIR=str(data_dir),
        SAMVIRKE_SECRET_KEY=SECRET_KEY,
        SAMVIRKE_LOGIN_RATE_LIMIT="1000/minute",
        PYTHONUNBUFFERED="1",
    )
    if base_url:
        env["SAMVIRKE_BASE_URL"] = base_url
    return env


def run_cli(
    *args: str,
    cwd: Path,
    database_url: str | None = None,
    data_dir: Path | None = None,
    migration_url: str | None = None,
    timeout: float = 120.0,
) -> subprocess.CompletedProcess[str]:
    """Run `samvirke ARGS…` with only these settings; never reads stdin, always bounded.

    `cwd` should be an empty folder, so no stray .env or ./data of the developer's takes part.
    """
    env = _own_env()
    settings = {
        "SAMVIRKE_DATABASE_URL": database_url,
        "SAMVIRKE_MIGRATION_DATABASE_URL": migration_url,
        "SAMVIRKE_DATA_DIR": data_dir,
    }
    env.update({name: str(value) for name, value in settings.items() if value is not None})
    return subprocess.run(
        [*samvirke_command(), *args],
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


class ServerError(RuntimeError):
    pass


class LiveServer:
    """`samvirke serve` on 127.0.0.1; `start()` again after `stop()` or `kill()` reuses the database."""

    def __init__(
        self, *, database_url: str, workdir: Path, env: Mapping[str, str] | None = None
    ) -> None:
        self.database_url = database_url
        self.env = dict(env or {})  # more settings, e.g. SAMVIRKE_WRITE_WAIT
        self.workdir = workdir
        self.data_dir = workdir / "data"
        self.log_path = workdir / "server.log"
        self.port = 0
        self.starts = 0
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def output(self, tail: int = 6000) -> str:
        """The end of everything the server printed (all runs), for failure messages."""
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no output)"
        return text[-tail:]

    def start(self, timeout: float = START_TIMEOUT) -> Self:
        """Start on a fresh port and return once `GET /healthz` answers 200."""
        if self.running:
            raise ServerError("the server is already running")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + timeout
        for _attempt in range(3):  # another process may take the free port before we bind it
            self.port = free_port()
            self.starts += 1
            with self.log_path.open("ab") as log:
                log.write(f"\n===== start #{self.starts} on port {self.port} =====\n".encode())
                log.flush()
                self._process = subprocess.Popen(
                    [*samvirke_command(), "serve", "--host", "127.0.0.1", "--port", str(self.port)],
                    env={
                        **server_env(self.database_url, self.data_dir, base_url=self.url),
                        **self.env,
                    },
                    cwd=self.workdir,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            if self._wait_ready(deadline):
                return self
            if "address already in use" not in self.output().lower():
                break
        code = self._process.poll() if self._process else None
        self.kill()
        raise ServerError(
            f"samvirke serve did not become ready within {timeout:.0f} s (exit code {code}); "
            f"output:\n{self.output()}"
        )

    def _wait_ready(self, deadline: float) -> bool:
        assert self._process is not None
        with httpx.Client(timeout=2.0) as client:
            while time.monotonic() < deadline:
                if self._process.poll() is not None:
                    return False
                try:
                    if client.get(f"{self.url}/healthz").status_code == 200:
                        return True
                except httpx.TransportError:
                    pass
                time.sleep(0.05)
        return False

    def _signal(self, sig: signal.Signals) -> None:
        assert self._process is not None
        try:
            os.killpg(self._process.pid, sig)  # its own group, made by start_new_session
        except ProcessLookupError:
            pass

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flush, no cleanup: a crash."""
        if self._process is None:
            return
        self._signal(signal.SIGKILL)
        self._process.wait(timeout=STOP_TIMEOUT)
        self._process = None

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """SIGTERM and wait; SIGKILL if it does not stop in time."""
        if self._process is None:
            return
        if self._process.poll() is None:
            self._signal(signal.SIGTERM)
            try:
                self._process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL)
                self._process.wait(timeout=STOP_TIMEOUT)
        self._process = None

    def client(self, token: str | None = None, **kwargs: object) -> httpx.Client:
        """An HTTP client for this server, with the bearer token if given."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        kwargs.setdefault("timeout", 30.0)
        return httpx.Client(base_url=self.url, headers=headers, **kwargs)  # type: ignore[arg-type]

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
