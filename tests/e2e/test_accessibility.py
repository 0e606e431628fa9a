"""Every page passes axe-core without a serious or critical violation, in both languages.

Chromium (Playwright, Debian's build) walks a real `samvirke serve` from its first start to a
running incident: sign-in and set-up pages, the incident list and form, an incident page with
a withheld, a corrected and a system entry as an uncleared reader sees it, its print view, the
administration page with an invite and a reset link, the reset and invite pages and /docs.
Each page is checked at a desktop (1366×768) and a phone (390×844) size, and a screenshot of
each is left in SCREENSHOTS for a person to look at.

axe-core is a test tool from npm (`package.json`, `npm ci`), never served by the app; without
node_modules/axe-core the test skips with the reason (and fails under SAMVIRKE_REQUIRE_ALL=1).
One database is enough here: what is checked is HTML, which does not depend on it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.db import Database
from tests import factories
from tests.conftest import skip_or_fail
from tests.support.server import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = Path("/tmp/samvirke-a11y")
VIEWPORTS = {"desktop": (1366, 768), "phone": (390, 844)}
LOCALES = {"nb": "nb-NO", "en": "en-GB"}
BLOCKING = {"serious", "critical"}
PASSWORD = "a long enough password"


@pytest.fixture(scope="module")
def axe_script() -> Path:
    if not AXE.exists():
        skip_or_fail(f"{AXE} is missing: run `npm ci` at the top of the checkout")
    return AXE


class Auditor:
    """Runs axe on the page at each viewport, keeps what blocks (and a page wider than the
    screen, which makes a phone user scroll sideways), and takes screenshots."""

    def __init__(self, chromium: Any, server: LiveServer, lang: str, axe: Path) -> None:
        self.chromium, self.server, self.lang, self.axe = chromium, server, lang, axe
        self.failures: list[str] = []
        self.audited: list[str] = []

    def context(self) -> Any:
        # The pages' Content-Security-Policy allows no inline script, and add_script_tag
        # inlines axe.min.js, so the browser would refuse it: bypass_csp lets the test's own
        # script in. The app's scripts still load from 'self' as they do for users.
        context = self.chromium.new_context(
            base_url=self.server.url, locale=LOCALES[self.lang], bypass_csp=True
        )
        context.set_default_timeout(15_000)
        return context

    def check(self, page: Any, name: str) -> None:
        page.wait_for_load_state("networkidle")
        for size, (width, height) in VIEWPORTS.items():
            page.set_viewport_size({"width": width, "height": height})
            if not page.evaluate("() => typeof window.axe !== 'undefined'"):
                page.add_script_tag(path=str(self.axe))
            result = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
            where = f"{self.lang} {name} {size} ({page.url})"
            self.audited.append(where)
            for violation in result["violations"]:
                if violation["impact"] in BLOCKING:
                    targets = [node["target"] for node in violation["nodes"]]
                    self.failures.append(
                        f"{where}: {violation['id']} [{violation['impact']}] "
                        f"{violation['help']} — {targets}"
                    )
            wide = page.evaluate("() => document.documentElement.scrollWidth")
            if wide > width:
                self.failures.append(f"{where}: the page is {wide}px wide, wider than the screen")
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(
                path=str(SCREENSHOTS / f"{self.lang}-{name}-{size}.png"), full_page=True
            )


def _link(page: Any, element_id: str) -> str:
    value: str = page.locator(f"#{element_id}").input_value()
    return value


def _incident_with_entries(database_url: str) -> tuple[factories.Account, int]:
    """An incident with a restricted entry, a correction and the system entry of its opening."""
    db = Database(database_url)
    try:
        author = factories.account(
            db, name="Rolf Klarert", email="rolf@example.no", restricted=True
        )
        reader = factories.account(db, name="Siri Leser", email="siri@example.no")
        incident = factories.incident(db, author, title="Storm Ingunn", level="red")
        factories.incident(db, author, title="Vannforurensning Nordby", exercise=True)
        factories.entry(db, author, incident, text="Strømmen er borte i nord.")
        factories.entry(
            db,
            author,
            incident,
            kind="decision",
            text="Evakuer omsorgssenteret.",
            classification="restricted",
        )
        factories.entry(db, author, incident, text="Strømmen er borte i sør.", corrects=2)
        assert incident.id is not None
        return reader, incident.id
    finally:
        db.dispose()


@pytest.fixture
def auditor(
    axe_script: Path, chromium: Any, live_server: LiveServer, request: pytest.FixtureRequest
) -> Iterator[Auditor]:
    yield Auditor(chromium, live_server, request.node.callspec.params["lang"], axe_script)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("lang", sorted(LOCALES))
def test_every_page_has_no_serious_or_critical_violation(
    auditor: Auditor, live_server: LiveServer, lang: str
) -> None:
    announced = re.search(r"/setup\?token=(\S+)", live_server.output())
    assert announced, live_server.output()

    # Before set-up: the sign-in page and /setup without, with a wrong, and with the token.
    anonymous = auditor.context()
    page = anonymous.new_page()
    page.goto("/login")
    auditor.check(page, "login-before-setup")
    page.goto("/setup")
    auditor.check(page, "setup-no-token")
    page.goto("/setup?token=wrong")
    auditor.check(page, "setup-wrong-token")
    page.goto(f"/setup?token={announced.group(1)}")
    auditor.check(page, "setup")

    # Set-up; the first administrator's pages.
    page.fill("#email", "kari@example.no")
    page.fill("#name", "Kari Leder")
    page.fill("#password", PASSWORD)
    page.locator("form:has(#password) button[type=submit]").click()
    page.wait_for_url(re.compile(r"/$"))
    reader, incident_id = _incident_with_entries(live_server.database_url)
    page.goto("/")
    auditor.check(page, "incident-list")
    page.goto("/incidents/new")
    auditor.check(page, "incident-new")
    page.goto("/admin/users")
    page.fill("#invite-email", "ola@example.no")
    page.fill("#invite-name", "Ola Nordmann")
    page.locator("#invite-form button[type=submit]").click()
    page.wait_for_selector("#invite-link")
    invite = _link(page, "invite-link")
    auditor.check(page, "admin-invite-link")
    page.locator(f"#user-{reader.user.id}-reset").click()
    page.wait_for_selector("#reset-link")
    reset = _link(page, "reset-link")
    auditor.check(page, "admin-reset-link")
    page.goto("/tokens")
    page.fill("#token-name", "Situasjonsskjerm")
    page.locator("#token-form button[type=submit]").click()
    page.wait_for_selector("#new-token-secret")
    auditor.check(page, "tokens-created")
    page.goto("/admin/tokens")
    auditor.check(page, "admin-tokens")
    page.goto("/docs")
    page.wait_for_selector(".swagger-ui .info")
    auditor.check(page, "api-docs")
    anonymous.close()

    # The links an administrator hands out, opened in a browser without a session.
    fresh = auditor.context()
    page = fresh.new_page()
    page.goto("/login")
    auditor.check(page, "login")
    page.goto(invite)
    auditor.check(page, "invite")
    page.goto(reset)
    auditor.check(page, "reset")
    page.fill("#password", PASSWORD)
    page.locator("form:has(#password) button[type=submit]").click()
    page.wait_for_url(re.compile(r"/$"))

    # The reader without clearance: the restricted entry is withheld from them.
    page.goto(f"/incidents/{incident_id}")
    page.wait_for_selector("#log-entries > li.entry")
    for kind in ("entry--withheld", "entry--corrected", "entry__author--system"):
        assert page.locator(f"#log-entries .{kind}").count() == 1, kind
    auditor.check(page, "incident")
    page.goto(f"/incidents/{incident_id}/print")
    auditor.check(page, "incident-print")
    fresh.close()

    assert len(auditor.audited) == 2 * 16
    assert not auditor.failures, (
        "serious or critical axe-core violations, or pages wider than the screen:\n"
        + "\n".join(auditor.failures)
    )
