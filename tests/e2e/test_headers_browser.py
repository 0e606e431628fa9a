"""The pages under their Content-Security-Policy, and the incident page's weight, in a browser.

The policy refuses inline scripts, inline styles and eval: if any page (the live updates and the
API docs included) still needed one, chromium would report a `securitypolicyviolation` and
a console error, and the feature would silently stop working. The first load of an incident page
with a full page of entries must transfer under 100 KB (it was ~170 KB uncompressed).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from app.db import Database
from app.incidents.service import get_incident
from tests import factories
from tests.e2e.conftest import make_account
from tests.e2e.test_browser import log_by_enter, sign_in
from tests.e2e.test_live_browser import go_live, open_incident
from tests.support.server import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

# Every violation, from the first byte of every page (reloads included).
RECORD_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__violations.push(e.violatedDirective + " " + e.blockedURI + " " + (e.sample || ""));
});
"""
FIRST_LOAD_LIMIT = 100_000  # bytes on the wire, headers included


def _expect() -> Any:
    from playwright.sync_api import expect

    return expect


class Watched:
    """A signed-in page whose CSP violations and console errors are kept."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.console: list[str] = []
        page.on("console", lambda m: self.console.append(f"{m.type}: {m.text}"))

    def problems(self) -> list[str]:
        violations: list[str] = self.page.evaluate("window.__violations")
        policy_errors = [m for m in self.console if "Content Security Policy" in m]
        return violations + policy_errors


@pytest.fixture
def watch(
    chromium: Any, live_server: LiveServer
) -> Iterator[Callable[[factories.Account], Watched]]:
    contexts: list[Any] = []

    def open_page(account: factories.Account) -> Watched:
        context = chromium.new_context(base_url=live_server.url, locale="nb-NO")
        context.set_default_timeout(10_000)
        context.add_init_script(RECORD_VIOLATIONS)
        contexts.append(context)
        watched = Watched(context.new_page())
        sign_in(watched.page, account)
        return watched

    yield open_page
    for context in contexts:
        context.close()


def test_logging_and_live_updates_run_without_a_policy_violation(
    watch: Callable[[factories.Account], Watched], live_server: LiveServer
) -> None:
    expect = _expect()
    writer = make_account(live_server.database_url, name="Siri Staff", email="siri@example.no")
    reader = make_account(live_server.database_url, name="Ola Nordmann", email="ola@example.no")
    incident_id = open_incident(live_server, writer, "Vannforurensning Nordby")
    mine, theirs = watch(writer), watch(reader)
    go_live(mine.page, "/")  # the list, with idiomorph
    go_live(mine.page, f"/incidents/{incident_id}")
    go_live(theirs.page, f"/incidents/{incident_id}")

    log_by_enter(mine.page, "Koke vann-varsel for Nordby sendes ut")
    expect(theirs.page.locator("#entry-2")).to_contain_text("Koke vann-varsel for Nordby")
    expect(mine.page.locator("#log-text")).to_have_value("")  # app.js ran after the answer
    mine.page.click("#level-red")  # an htmx swap of the header, pushed to the other page
    expect(theirs.page.locator("#entry-3")).to_be_visible()

    mine.page.goto("/docs")
    expect(mine.page.locator(".opblock").first).to_be_visible()  # Swagger UI rendered the spec
    mine.page.locator(".opblock-summary").first.click()
    expect(mine.page.locator(".opblock-body").first).to_be_visible()

    assert mine.problems() == []
    assert theirs.problems() == []


def test_the_incident_pages_first_load_is_under_100_kb(
    watch: Callable[[factories.Account], Watched], live_server: LiveServer
) -> None:
    account = make_account(live_server.database_url)
    incident_id = open_incident(live_server, account, "Flom i Drammenselva")
    db = Database(live_server.database_url)
    try:
        with db.read_session() as session:
            incident = get_incident(session, incident_id)
        for n in range(100):  # a full page of entries, as a busy incident shows
            factories.entry(
                db, account, incident, text=f"Melding {n}: vannstanden ved Hokksund er {n} cm"
            )
    finally:
        db.dispose()

    watched = watch(account)
    page = watched.page
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})  # a first visit
    urls: dict[str, str] = {}
    sizes: dict[str, int] = {}
    cdp.on(
        "Network.requestWillBeSent", lambda e: urls.setdefault(e["requestId"], e["request"]["url"])
    )
    cdp.on(
        "Network.loadingFinished", lambda e: sizes.update({e["requestId"]: e["encodedDataLength"]})
    )
    page.goto(f"/incidents/{incident_id}", wait_until="networkidle")
    _expect()(page.locator("#entry-101")).to_be_visible()

    loaded = {urls[r]: size for r, size in sizes.items() if urls.get(r, "").startswith("http")}
    assert any("htmx.min.js" in url for url in loaded), loaded
    total = sum(loaded.values())
    assert total < FIRST_LOAD_LIMIT, f"{total} bytes: {loaded}"
    assert watched.problems() == []
