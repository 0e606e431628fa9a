"""End-to-end fixtures: accounts on a real `samvirke serve` process, and the browser.

`live_server` (tests/conftest.py) depends on the parametrised `database_url` fixture, so every
end-to-end test runs on SQLite and on PostgreSQL. Users and tokens are made through the
services (`tests.factories`) on the same database, or through the CLI with `run_cli` where the
CLI is what is under test.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from app.db import Database
from tests import factories
from tests.conftest import skip_or_fail
from tests.support.server import LiveServer


def make_account(
    database_url: str,
    *,
    name: str = "Siri Staff",
    email: str = "siri@example.no",
    role: str = "staff",
    restricted: bool = False,
) -> factories.Account:
    """A user with a password and an API token, made through the services."""
    db = Database(database_url)
    try:
        return factories.account(db, name=name, email=email, role=role, restricted=restricted)
    finally:
        db.dispose()


@pytest.fixture
def live_account(live_server: LiveServer) -> factories.Account:
    return make_account(live_server.database_url)


# --- the browser: Playwright's Python package driving Debian's chromium --------------------

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """One headless chromium per module; skipped (or failed in CI) when it is missing.

    Not per session: Playwright's sync API runs an event loop in the main thread while it is
    started, and later tests that call `asyncio.run` would find it running.
    """
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError as exc:
        skip_or_fail(f"the playwright package is not installed: {exc}")
    if not CHROMIUM.exists():
        skip_or_fail(f"{CHROMIUM} is missing (apt-get install chromium)")
    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS, timeout=30_000
        )
    except Error as exc:
        playwright.stop()
        skip_or_fail(f"chromium does not start: {exc}")
    try:
        yield browser
    finally:
        browser.close()
        playwright.stop()


@pytest.fixture
def page(chromium: Any, live_server: LiveServer, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh browser context (no cookies) on the live server; a screenshot if the test fails."""
    context = chromium.new_context(base_url=live_server.url, locale="nb-NO")
    context.set_default_timeout(10_000)
    browser_page = context.new_page()
    try:
        yield browser_page
    finally:
        report = getattr(request.node, "rep_call", None)
        if report is not None and report.failed:
            shot = Path("/tmp") / f"samvirke-failed-{request.node.name}.png"
            try:
                browser_page.screenshot(path=str(shot), full_page=True)
                print(f"screenshot of the failed page: {shot}")
            except Exception as exc:  # noqa: BLE001  (a crashed page must not hide the test's failure)
                print(f"no screenshot: {exc}")
            print(f"server output:\n{live_server.output()}")
        context.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Keep the call phase's report on the item, so `page` knows whether to take a screenshot."""
    report = yield
    if report.when == "call":
        item.rep_call = report  # type: ignore[attr-defined]
    return report
