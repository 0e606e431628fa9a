"""Processes and scratch resources for bench_fanout.py, all released on the way out.

`Scratch` owns everything the benchmark creates (server processes in their own process
groups, temporary folders, PostgreSQL databases) and `close()` removes it all, also after a
failure, Ctrl-C or SIGTERM. Every wait has a limit.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
START_TIMEOUT = 60.0
SECRET_KEY = "bench-fanout-secret-key-not-for-production"


def say(message: str) -> None:
    print(f"[fanout] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def samvirke_cmd() -> list[str]:
    script = Path(sys.executable).parent / "samvirke"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from app.cli import main; main()"]


class Proc:
    """A server subprocess in its own process group, output to a log file."""

    def __init__(self, name: str, cmd: list[str], *, env: dict[str, str], workdir: Path) -> None:
        self.name, self.cmd, self.env, self.workdir = name, cmd, env, workdir
        self.log_path = workdir / f"{name}.log"
        self.popen: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def start(self, port: int, ready_path: str | None) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.popen = subprocess.Popen(
                self.cmd,
                env=self.env,
                cwd=self.workdir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise RuntimeError(f"{self.name} exited during start-up:\n{self.tail()}")
            if _answers(port, ready_path):
                return
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} not ready after {START_TIMEOUT:.0f} s:\n{self.tail()}")

    def rss_mb(self) -> dict[str, float]:
        """VmRSS and VmHWM (peak) of the process, in MiB, from /proc."""
        fields: dict[str, float] = {}
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                fields[key] = round(int(value.split()[0]) / 1024, 1)
        return fields

    def cpu_seconds(self) -> float:
        parts = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")

    def tail(self, lines: int = 25) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no output)"

    def stop(self) -> None:
        popen, self.popen = self.popen, None
        if popen is None or popen.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(popen.pid, sig)
            except ProcessLookupError:
                return
            try:
                popen.wait(timeout=wait)
                return
            except subprocess.TimeoutExpired:
                continue


def _answers(port: int, path: str | None) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=1) as sock:
            if path is None:
                return True
            sock.sendall(
                f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n".encode()
            )
            return sock.recv(64).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


class Scratch:
    """Everything the run creates; `close()` releases it in reverse order."""

    def __init__(self, postgres_admin_url: str) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="samvirke-fanout-"))
        self.postgres_admin_url = postgres_admin_url
        self.procs: list[Proc] = []
        self.databases: list[str] = []

    def app_server(self, name: str, *, database_url: str | None = None) -> tuple[Proc, int]:
        """`samvirke serve` exactly as an operator runs it (SQLite in its own data folder)."""
        port = free_port()
        workdir = self.dir / name
        env = {k: v for k, v in os.environ.items() if not k.startswith("SAMVIRKE_")}
        env.update(
            SAMVIRKE_DATA_DIR=str(workdir / "data"),
            SAMVIRKE_SECRET_KEY=SECRET_KEY,
            SAMVIRKE_BASE_URL=f"http://{HOST}:{port}",
            PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
        )
        if database_url:
            env["SAMVIRKE_DATABASE_URL"] = database_url
        cmd = [*samvirke_cmd(), "serve", "--host", HOST, "--port", str(port)]
        proc = Proc(name, cmd, env=env, workdir=workdir)
        self.procs.append(proc)
        say(f"starting {name} on port {port}")
        proc.start(port, "/healthz")
        return proc, port

    def baseline_server(self) -> tuple[Proc, int]:
        port = free_port()
        cmd = [sys.executable, str(ROOT / "bench" / "fanout_baseline.py"), "--port", str(port)]
        env = dict(os.environ)
        proc = Proc("baseline", cmd, env=env, workdir=self.dir / "baseline")
        self.procs.append(proc)
        say(f"starting the bare websockets baseline on port {port}")
        proc.start(port, None)
        return proc, port

    def sqlite_url(self, name: str) -> str:
        return f"sqlite:///{(self.dir / name / 'data' / 'samvirke.db').resolve()}"

    def postgres_database(self) -> str:
        """A fresh, empty database on the server; dropped by `close()`."""
        import psycopg

        name = f"samvirke_fanout_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(self.postgres_admin_url, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        self.databases.append(name)
        return self.postgres_admin_url.rsplit("/", 1)[0] + "/" + name

    def close(self) -> None:
        for proc in reversed(self.procs):
            proc.stop()
        if self.databases:
            try:
                import psycopg

                with psycopg.connect(
                    self.postgres_admin_url, autocommit=True, connect_timeout=5
                ) as conn:
                    for name in self.databases:
                        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            except Exception as exc:  # noqa: BLE001 - report and go on cleaning
                say(f"could not drop {self.databases}: {exc}")
        shutil.rmtree(self.dir, ignore_errors=True)


def raise_fd_limit(wanted: int) -> dict[str, Any]:
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = min(max(soft, wanted), hard)
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return {"soft": target, "hard": hard}
