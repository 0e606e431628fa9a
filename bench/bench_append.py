"""Benchmark: durable log appends over HTTP, the app against a bare baseline, in one run.

    .venv/bin/python bench/bench_append.py [--writers 32] [--seconds 10 | --requests N]
                                           [--rounds R]

Starts the real app (`samvirke serve`, SQLite in a fresh temporary data folder, so WAL with
`synchronous=FULL`), creates a user and an API token with the CLI and opens an incident over
HTTP; starts `bench/baseline_app.py` (the same durable, hash-chained insert with nothing around
it, served with the same uvicorn settings). Then N concurrent writers (asyncio + httpx, one
keep-alive connection each) POST appends to one side at a time for a fixed time or count;
with `--rounds` the sides alternate, so a shared machine's changing load hits both. Only 201s
count; anything else is an error.

Afterwards the chains are checked: the app's `GET …/log/verify` must say ok, its numbers must
be 1..n without gaps, every acknowledged number must be there (once), and `samvirke verify`
must pass; the baseline's numbers and links are checked the same way.

Prints one JSON document on stdout (progress goes to stderr) and exits 1 if a check failed or
any request failed. Loopback only; every phase has a time limit; the servers and the temporary
folder are removed on the way out, also on Ctrl-C, SIGTERM or failure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shlex
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
GOAL = 0.5
HOST = "127.0.0.1"
START_TIMEOUT = 60.0
REQUEST_TIMEOUT = 30.0
KINDS = ("decision", "information", "action", "message_in", "message_out")
TEXT = "Stab besluttet å evakuere sone B; politiet og kommunen varsles, ny vurdering kl. 14.{n}"


def say(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


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


def child_env(data_dir: Path) -> dict[str, str]:
    """Only our data folder: a SAMVIRKE_DATABASE_URL from the caller would win over it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAMVIRKE_")}
    env["SAMVIRKE_DATA_DIR"] = str(data_dir)
    env["SAMVIRKE_BASE_URL"] = f"http://{HOST}"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


class Server:
    """A server subprocess in its own process group, with its output in a log file."""

    def __init__(self, name: str, cmd: list[str], *, env: dict[str, str], cwd: Path, port: int):
        self.name, self.cmd, self.env, self.cwd, self.port = name, cmd, env, cwd, port
        self.log_path = cwd / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = f"http://{HOST}:{port}"

    def start(self) -> None:
        say(f"starting {self.name}: {shlex.join(self.cmd)}")
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                self.cmd,
                env=self.env,
                cwd=self.cwd,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    def wait_ready(self, path: str = "/healthz") -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited during start-up:\n{self.log_tail()}")
            try:
                if httpx.get(self.url + path, timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} not ready after {START_TIMEOUT:.0f} s:\n{self.log_tail()}")

    def cpu_seconds(self) -> float | None:
        """User + system CPU of the server process (Linux /proc), None if unknown."""
        if self.proc is None:
            return None
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, IndexError):
            return None

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        for sig, wait in ((signal.SIGINT, 10.0), (signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                return
            try:
                proc.wait(timeout=wait)
                return
            except subprocess.TimeoutExpired:
                continue


servers: list[Server] = []  # everything started, so that the way out stops it all


@dataclass
class LoadResult:
    ok_latencies: list[float] = field(default_factory=list)
    numbers: list[int] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    warmup_numbers: list[int] = field(default_factory=list)
    seconds: float = 0.0
    client_cpu: float = 0.0
    server_cpu: float | None = None


async def run_load(
    url: str,
    path: str,
    headers: dict[str, str],
    *,
    writers: int,
    seconds: float | None,
    requests: int | None,
    warmup: int,
) -> LoadResult:
    """`writers` tasks, each with its own connection, POST until time or count runs out."""
    result = LoadResult()
    ready, go = asyncio.Barrier(writers + 1), asyncio.Event()
    issued = 0
    deadline = float("inf")

    async def writer(index: int) -> None:
        nonlocal issued
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        async with httpx.AsyncClient(
            base_url=url, headers=headers, timeout=REQUEST_TIMEOUT, limits=limits
        ) as client:
            n = 0
            for _ in range(warmup):  # opens the connection and warms the server's threads
                n += 1
                response = await client.post(path, json=body(index, n))
                if response.status_code == 201:
                    result.warmup_numbers.append(response.json()["number"])
                else:
                    result.errors[f"warmup {response.status_code}"] += 1
            await ready.wait()
            await go.wait()
            while True:
                if requests is not None:
                    if issued >= requests:
                        return
                    issued += 1
                elif time.perf_counter() >= deadline:
                    return
                n += 1
                start = time.perf_counter()
                try:
                    response = await client.post(path, json=body(index, n))
                except httpx.HTTPError as exc:
                    result.errors[type(exc).__name__] += 1
                    await asyncio.sleep(0.05)  # a dead server must not become a busy loop
                    continue
                elapsed = time.perf_counter() - start
                if response.status_code == 201:
                    result.ok_latencies.append(elapsed)
                    result.numbers.append(response.json()["number"])
                else:
                    result.errors[str(response.status_code)] += 1

    def body(index: int, n: int) -> dict[str, str]:
        return {"kind": KINDS[n % len(KINDS)], "text": TEXT.format(n=f"{index:02d}{n:06d}")}

    tasks = [asyncio.create_task(writer(i)) for i in range(writers)]
    barrier = asyncio.create_task(ready.wait())
    done, _ = await asyncio.wait([barrier, *tasks], return_when=asyncio.FIRST_COMPLETED)
    if barrier not in done:  # a writer failed during warm-up
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for finished in done:
            finished.result()  # raises the writer's own error, if it had one
        raise RuntimeError("a writer stopped during warm-up")
    cpu0, start = time.process_time(), time.perf_counter()
    if seconds is not None:
        deadline = start + seconds
    go.set()
    await asyncio.gather(*tasks)
    result.seconds = time.perf_counter() - start
    result.client_cpu = time.process_time() - cpu0
    return result


def load(
    server: Server, path: str, headers: dict[str, str], args: argparse.Namespace
) -> LoadResult:
    """One timed phase against one server; bounded by the duration plus slack, or a count limit."""
    limit = (args.seconds + 60) if args.requests is None else max(120.0, args.requests / 5)
    say(
        f"{server.name}: {args.writers} writers, "
        + (f"{args.requests} requests" if args.requests else f"{args.seconds:g} s")
    )
    cpu_before = server.cpu_seconds()
    result = asyncio.run(
        asyncio.wait_for(
            run_load(
                server.url,
                path,
                headers,
                writers=args.writers,
                seconds=None if args.requests else args.seconds,
                requests=args.requests,
                warmup=args.warmup,
            ),
            timeout=limit,
        )
    )
    cpu_after = server.cpu_seconds()
    if cpu_before is not None and cpu_after is not None:
        result.server_cpu = cpu_after - cpu_before
    say(f"{server.name}: {len(result.ok_latencies) / result.seconds:.1f} req/s")
    return result


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), round(p / 100 * len(sorted_values) + 0.5)))
    return sorted_values[rank - 1]


def summarise(results: list[LoadResult]) -> dict[str, Any]:
    """All rounds of one side together: counts and seconds add up, latencies are pooled."""
    lat = sorted(x * 1000 for r in results for x in r.ok_latencies)
    ok, seconds = len(lat), sum(r.seconds for r in results)
    errors: Counter[str] = Counter()
    for r in results:
        errors.update(r.errors)
    cpu = [r.server_cpu for r in results]
    return {
        "requests": ok,
        "errors": sum(errors.values()),
        "error_kinds": dict(errors),
        "seconds": round(seconds, 3),
        "throughput_rps": round(ok / seconds, 1) if seconds else 0.0,
        "latency_ms": {
            "p50": round(percentile(lat, 50), 2),
            "p90": round(percentile(lat, 90), 2),
            "p99": round(percentile(lat, 99), 2),
            "max": round(lat[-1], 2) if lat else None,
            "mean": round(statistics.fmean(lat), 2) if lat else None,
        },
        "rounds_rps": [round(len(r.ok_latencies) / r.seconds, 1) for r in results],
        "server_cpu_percent": (
            None if None in cpu else round(100 * sum(c or 0.0 for c in cpu) / seconds, 1)
        ),
        "client_cpu_percent": round(100 * sum(r.client_cpu for r in results) / seconds, 1),
    }


def acknowledged_check(results: list[LoadResult], numbers_present: set[int]) -> dict[str, Any]:
    acked = [n for r in results for n in r.warmup_numbers + r.numbers]
    return {
        "acknowledged": len(acked),
        "acknowledged_unique": len(set(acked)) == len(acked),
        "acknowledged_present": numbers_present.issuperset(acked),
    }


def passed(checks: dict[str, Any]) -> bool:
    """Every yes/no check said yes."""
    return all(value is True for value in checks.values() if isinstance(value, bool))


@dataclass
class Side:
    """One server under test: where to send appends, and how to check what it kept."""

    server: Server
    path: str
    headers: dict[str, str]
    results: list[LoadResult] = field(default_factory=list)

    def verify(self) -> dict[str, Any]:
        raise NotImplementedError

    def sqlite_settings(self) -> dict[str, Any]:
        raise NotImplementedError


# --- the app ---------------------------------------------------------------------------------


def cli(args: list[str], env: dict[str, str], cwd: Path) -> str:
    done = subprocess.run(
        samvirke_cmd() + args,
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"samvirke {shlex.join(args)} failed:\n{done.stderr}")
    return done.stdout


class AppSide(Side):
    def __init__(self, work: Path, wrapper: str) -> None:
        self.work, self.data = work, work / "app-data"
        self.env = child_env(self.data)
        cli(
            [
                "users",
                "create",
                "--email",
                "bench@example.org",
                "--name",
                "Benk Benchmark",
                "--role",
                "staff",
            ],
            self.env,
            work,
        )
        token = (
            cli(
                ["tokens", "create", "--email", "bench@example.org", "--name", "bench"],
                self.env,
                work,
            )
            .strip()
            .splitlines()[-1]
        )
        port = free_port()
        cmd = shlex.split(wrapper) if wrapper else []
        cmd += samvirke_cmd() + ["serve", "--host", HOST, "--port", str(port)]
        server = Server("app", cmd, env=self.env, cwd=work, port=port)
        servers.append(server)
        server.start()
        server.wait_ready()
        headers = {"Authorization": f"Bearer {token}"}
        incident = {
            "title": "Benchmark: flom i sentrum",
            "category": "other",
            "level": "yellow",
            "exercise": True,
        }
        response = httpx.post(
            server.url + "/api/v1/incidents",
            headers=headers,
            json=incident,
            timeout=REQUEST_TIMEOUT,
        )
        if response.status_code != 201:
            raise RuntimeError(
                f"opening the incident failed: {response.status_code} {response.text}"
            )
        self.incident_id = response.json()["id"]
        super().__init__(server, f"/api/v1/incidents/{self.incident_id}/log", headers)

    def verify(self) -> dict[str, Any]:
        base = f"/api/v1/incidents/{self.incident_id}/log"
        with httpx.Client(
            base_url=self.server.url, headers=self.headers, timeout=REQUEST_TIMEOUT
        ) as client:
            verify = client.get(base + "/verify").json()
            numbers: list[int] = []
            after: int | None = 0
            while after is not None:
                page = client.get(base, params={"after": after, "limit": 1000}).json()
                numbers += [item["number"] for item in page["items"]]
                after = page["next_after"]
        head = (verify.get("head") or {}).get("number", 0)
        cli_verify = subprocess.run(
            samvirke_cmd() + ["verify", "--incident", str(self.incident_id)],
            env=self.env,
            cwd=self.work,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        checks = {
            "ok": verify.get("ok") is True,
            "head": head,
            # 1..n without a hole, and at least up to the head that verify reported
            "gap_free": numbers == list(range(1, len(numbers) + 1)) and len(numbers) >= head,
            **acknowledged_check(self.results, set(numbers)),
            "cli_verify_exit": cli_verify.returncode,
        }
        return {**checks, "passed": passed(checks) and cli_verify.returncode == 0}

    def sqlite_settings(self) -> dict[str, Any]:
        """The pragmas the app's own engine sets on a connection (app.db's connect hook)."""
        sys.path.insert(0, str(ROOT))
        from app.db import Database

        db = Database(f"sqlite:///{self.data / 'samvirke.db'}")
        try:
            with db.engine.connect() as conn:
                journal = conn.exec_driver_sql("PRAGMA journal_mode").scalar()
                sync = conn.exec_driver_sql("PRAGMA synchronous").scalar()
                conn.rollback()
        finally:
            db.dispose()
        return {"journal_mode": journal, "synchronous": sync_name(sync)}


SYNC_NAMES = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}


def sync_name(value: Any) -> Any:
    """PRAGMA synchronous answers a number; name it."""
    return SYNC_NAMES.get(value, value) if isinstance(value, int) else value


# --- the baseline ----------------------------------------------------------------------------


class BaselineSide(Side):
    def __init__(self, work: Path) -> None:
        port = free_port()
        cmd = [
            sys.executable,
            str(ROOT / "bench" / "baseline_app.py"),
            "--db",
            str(work / "baseline.db"),
            "--host",
            HOST,
            "--port",
            str(port),
        ]
        server = Server("baseline", cmd, env=child_env(work / "baseline-data"), cwd=work, port=port)
        servers.append(server)
        server.start()
        server.wait_ready()
        # The same header as the app gets, so both sides send identical requests.
        super().__init__(server, "/log", {"Authorization": "Bearer not-checked-by-the-baseline"})

    def verify(self) -> dict[str, Any]:
        verify = httpx.get(self.server.url + "/verify", timeout=REQUEST_TIMEOUT).json()
        checks = {
            "ok": verify["ok"] is True,
            "head": verify["head"],
            "gap_free": verify["ok"] is True and verify["count"] == verify["head"],
            **acknowledged_check(self.results, set(range(1, verify["head"] + 1))),
        }
        return {**checks, "passed": passed(checks)}

    def sqlite_settings(self) -> dict[str, Any]:
        pragmas = httpx.get(self.server.url + "/pragmas", timeout=REQUEST_TIMEOUT).json()
        return {
            "journal_mode": pragmas["journal_mode"],
            "synchronous": sync_name(pragmas["synchronous"]),
        }


# --- run -------------------------------------------------------------------------------------


def fsync_ms(folder: Path, rounds: int = 50) -> float:
    """Median time of a 4 KiB write + fsync in the benchmark's folder: the floor of a commit."""
    path = folder / "fsync-probe"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    times = []
    try:
        for _ in range(rounds):
            start = time.perf_counter()
            os.write(fd, b"\0" * 4096)
            os.fsync(fd)
            times.append(time.perf_counter() - start)
    finally:
        os.close(fd)
        path.unlink()
    return round(statistics.median(times) * 1000, 3)


def environment(work: Path) -> dict[str, Any]:
    import fastapi
    import uvicorn

    try:
        commit = subprocess.run(
            # "-dirty" when the working tree differs: the servers run the tree, not the commit
            ["git", "-C", str(ROOT), "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "sqlite": sqlite3.sqlite_version,
        "fastapi": fastapi.__version__,
        "uvicorn": uvicorn.__version__,
        "httpx": httpx.__version__,
        "fsync_ms": fsync_ms(work),
        "git_commit": commit or None,
        "note": "the client shares the machine with the servers; the load phases run one at a time",
    }


def _terminate(signum: int, _frame: Any) -> None:
    """SIGTERM and SIGHUP unwind like Ctrl-C, so the servers and the folder are cleaned up."""
    raise SystemExit(128 + signum)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Durable log appends over HTTP: the app against a bare baseline."
    )
    parser.add_argument("--writers", type=int, default=32, help="Concurrent writers (default 32).")
    amount = parser.add_mutually_exclusive_group()
    amount.add_argument(
        "--seconds",
        type=float,
        default=10.0,
        help="Seconds of load per side and round (default 10).",
    )
    amount.add_argument(
        "--requests", type=int, help="Instead of a duration: requests per side and round."
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="Timed phases per side, alternating app and baseline (default 1).",
    )
    parser.add_argument(
        "--warmup",
        type=int,
        default=2,
        help="Untimed requests per writer before the clock starts (default 2).",
    )
    parser.add_argument("--only", choices=("app", "baseline"), help="Run one side only.")
    parser.add_argument(
        "--app-wrapper",
        default="",
        help="Prefix for the app's server command, e.g. 'py-spy record -o app.svg --'.",
    )
    parser.add_argument(
        "--keep", action="store_true", help="Keep the temporary folder (server logs, databases)."
    )
    args = parser.parse_args()
    if min(args.writers, args.rounds, args.requests or 1) < 1 or args.seconds <= 0:
        parser.error("writers, requests and seconds must be positive")
    return args


def main() -> int:
    args = parse_args()
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, _terminate)
    work = Path(tempfile.mkdtemp(prefix="samvirke-bench-"))
    report: dict[str, Any] = {"benchmark": "log append over HTTP"}
    try:
        report["config"] = {
            "writers": args.writers,
            "seconds_per_round": None if args.requests else args.seconds,
            "requests_per_round": args.requests,
            "rounds": args.rounds,
            "warmup_per_writer": args.warmup,
            "client": "asyncio + httpx.AsyncClient, one keep-alive connection per writer",
            "server": "uvicorn, 1 process, access log on (as `samvirke serve`)",
        }
        sides: dict[str, Side] = {}
        if args.only in (None, "app"):
            sides["app"] = AppSide(work, args.app_wrapper)
        if args.only in (None, "baseline"):
            sides["baseline"] = BaselineSide(work)
        for round_ in range(args.rounds):
            # Alternate who goes first, so drift in a shared machine's load hits both sides.
            order = list(sides.values()) if round_ % 2 == 0 else list(sides.values())[::-1]
            for side in order:
                side.results.append(load(side.server, side.path, side.headers, args))
        say("checking the chains")
        summaries = {
            name: {**summarise(side.results), "verify": side.verify()}
            for name, side in sides.items()
        }
        report.update(summaries)
        app, base = summaries.get("app"), summaries.get("baseline")
        if app and base and base["throughput_rps"]:
            report["ratio"] = round(app["throughput_rps"] / base["throughput_rps"], 3)
            report["ratio_per_round"] = [
                round(a / b, 3) if b else None
                for a, b in zip(app["rounds_rps"], base["rounds_rps"])
            ]
        report["goal_ratio"] = GOAL
        if "ratio" in report:
            report["meets_goal"] = report["ratio"] >= GOAL
        report["environment"] = {
            **environment(work),
            "sqlite_settings": {name: side.sqlite_settings() for name, side in sides.items()},
        }
        checks_ok = all(
            summary["errors"] == 0 and summary["verify"]["passed"] for summary in summaries.values()
        )
        report["ok"] = checks_ok
        return 0 if checks_ok else 1
    except (Exception, KeyboardInterrupt, SystemExit) as exc:  # noqa: BLE001 - reported as JSON
        report["ok"] = False
        report["failure"] = f"{type(exc).__name__}: {exc}"
        for server in servers:
            say(f"{server.name} log tail:\n{server.log_tail()}")
        if isinstance(exc, SystemExit):  # SIGTERM or SIGHUP, see _terminate
            return exc.code if isinstance(exc.code, int) else 1
        return 130 if isinstance(exc, KeyboardInterrupt) else 1
    finally:
        for server in servers:
            server.stop()
        if args.keep:
            say(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
        print(json.dumps(report, indent=2, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    sys.exit(main())
