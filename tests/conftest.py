"""Shared fixtures: a migrated database per test on SQLite and PostgreSQL, the app, clients.

The schema always comes from `alembic upgrade head`: once per session into a template (a
SQLite file, a PostgreSQL template database); each SQLite test gets a copy of the file, and
PostgreSQL tests share one clone that is emptied before each test (tests/support/postgres.py),
so tests are isolated and fast. PostgreSQL and browser tests skip with a reason when the
service or Chromium is not there; with SAMVIRKE_REQUIRE_ALL=1 (set by .ci/run) those skips are
failures instead.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Generator, Iterator
from pathlib import Path

import psycopg
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from app.accounts import service as accounts_service
from app.config import Settings
from app.db import Database
from app.main import create_app
from app.migrate import upgrade
from tests import factories
from tests.helpers import open_incident
from tests.support import postgres
from tests.support.server import LiveServer

REQUIRE_ALL = os.environ.get("SAMVIRKE_REQUIRE_ALL") == "1"


def skip_or_fail(reason: str) -> None:
    """Skip for a newcomer without the service; fail in CI, where everything must run."""
    if REQUIRE_ALL:
        pytest.fail(f"required but unavailable (SAMVIRKE_REQUIRE_ALL=1): {reason}")
    pytest.skip(reason)


def _skip_is_failure(report: pytest.TestReport | pytest.CollectReport) -> None:
    """Under SAMVIRKE_REQUIRE_ALL=1 every skip (not an xfail) fails, whoever wrote the skip."""
    if REQUIRE_ALL and report.skipped and not hasattr(report, "wasxfail"):
        longrepr = report.longrepr
        reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped, but SAMVIRKE_REQUIRE_ALL=1 forbids skips: {reason}"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    _skip_is_failure(report)
    return report


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(
    collector: pytest.Collector,
) -> Generator[None, pytest.CollectReport, pytest.CollectReport]:
    report = yield
    _skip_is_failure(report)
    return report


@pytest.fixture(autouse=True, scope="session")
def _cheap_password_hashing() -> Iterator[None]:
    """Argon2 at its lowest cost in-process: the same code path without ~100 ms per hash."""
    fast = PasswordHash((Argon2Hasher(time_cost=1, memory_cost=8, parallelism=1),))
    patch = pytest.MonkeyPatch()
    patch.setattr(accounts_service, "_hasher", fast)
    yield
    patch.undo()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    try:
        postgres.execute("SELECT 1")
    except psycopg.OperationalError as exc:
        skip_or_fail(f"PostgreSQL not reachable at {postgres.POSTGRES_URL}: {exc}")
    name = postgres.create_database("samvirke_tpl")
    upgrade(postgres.url_of(name))
    yield name
    postgres.drop_database(name)


@pytest.fixture(scope="session")
def postgres_clone(postgres_template: str) -> Iterator[postgres.ReusedClone]:
    clone = postgres.ReusedClone(postgres_template)
    yield clone
    postgres.drop_database(clone.name)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database: a SQLite file copy, or the session's PostgreSQL clone emptied."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "samvirke.db"
        shutil.copy(template, path)
        return f"sqlite:///{path}"
    clone: postgres.ReusedClone = request.getfixturevalue("postgres_clone")
    clone.reset()
    return clone.url


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        data_dir=tmp_path / "data",
        secret_key="test-secret-key-not-for-production",
        base_url="http://testserver",
        login_rate_limit="1000/minute",
    )


@pytest.fixture
def app(settings: Settings) -> Iterator[FastAPI]:
    application = create_app(settings)
    yield application
    application.state.db.dispose()


@pytest.fixture
def short_write_wait(settings: Settings) -> None:
    """Writers give up after 0.3 s (SQLite's write lane, PostgreSQL's `lock_timeout`). Ask for
    it before `app`, `client` or `api`, so that the app's database is made with it."""
    settings.write_wait = 0.3


@pytest.fixture
def db(app: FastAPI) -> Database:
    database: Database = app.state.db
    return database


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def live_server(
    database_url: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[LiveServer]:
    """`samvirke serve` on the test's database; `@pytest.mark.server_env(NAME="value")` adds
    settings to its environment."""
    marker = request.node.get_closest_marker("server_env")
    env = {k: str(v) for k, v in marker.kwargs.items()} if marker else None
    server = LiveServer(database_url=database_url, workdir=tmp_path / "server", env=env)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def staff(db: Database) -> factories.Account:
    return factories.account(db, name="Siri Staff", email="siri@example.no")


@pytest.fixture
def cleared(db: Database) -> factories.Account:
    return factories.account(db, name="Rolf Restricted", email="rolf@example.no", restricted=True)


@pytest.fixture
def admin(db: Database) -> factories.Account:
    return factories.account(
        db, name="Anne Admin", email="anne@example.no", role="admin", restricted=True
    )


@pytest.fixture
def api(client: TestClient, staff: factories.Account) -> TestClient:
    """The test client, signed in to the JSON API as a staff user without clearance."""
    client.headers["Authorization"] = f"Bearer {staff.token}"
    return client


@pytest.fixture
def incident_id(api: TestClient) -> int:
    """An open incident made over the API by the staff user (its log holds the system entry #1)."""
    return int(open_incident(api)["id"])
