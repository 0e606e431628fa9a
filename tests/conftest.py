"""Shared fixtures: a migrated database per test on SQLite and PostgreSQL, the app, clients.

The schema always comes from `alembic upgrade head`: once per session into a template (a
SQLite file, a PostgreSQL template database), then copied for each test, so tests are isolated
and fast. PostgreSQL and browser tests skip with a reason when the service or Chromium is not
there; with SAMVIRKE_REQUIRE_ALL=1 (set by .ci/run) those skips are failures instead.
"""

from __future__ import annotations

import os
import shutil
import uuid
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

POSTGRES_URL = os.environ.get(
    "SAMVIRKE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
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


def _pg_admin_url() -> str:
    return POSTGRES_URL.replace("postgresql+psycopg://", "postgresql://")


def _pg_url(name: str) -> str:
    base = _pg_admin_url().rsplit("/", 1)[0]
    return f"{base}/{name}"


def _pg_execute(sql: str) -> None:
    with psycopg.connect(_pg_admin_url(), autocommit=True, connect_timeout=3) as conn:
        conn.execute(sql)


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
        _pg_execute("SELECT 1")
    except psycopg.OperationalError as exc:
        skip_or_fail(f"PostgreSQL not reachable at {POSTGRES_URL}: {exc}")
    name = f"samvirke_tpl_{uuid.uuid4().hex[:10]}"
    _pg_execute(f'CREATE DATABASE "{name}"')
    upgrade(_pg_url(name))
    yield name
    _pg_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A freshly migrated, empty database: SQLite file copy or PostgreSQL template clone."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "samvirke.db"
        shutil.copy(template, path)
        yield f"sqlite:///{path}"
        return
    template_name: str = request.getfixturevalue("postgres_template")
    name = f"samvirke_t_{uuid.uuid4().hex[:12]}"
    _pg_execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_name}"')
    yield _pg_url(name)
    _pg_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


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
