"""The incident page in a real browser: sign in, open an incident, log by keyboard alone.

Playwright's sync API drives Debian's chromium against a real `samvirke serve`. The selectors
are the page's public contract (ids and names, not wording, which is translated): `#email`,
`#password`, the new-incident form's field names, `#log-form`, `#log-text`, `name="kind"`,
`#log-form-errors`, `#log-entries > li.entry#entry-N` (newest first), `.exercise-banner`.
What the browser showed is checked against the JSON API, which is the record.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests import factories
from tests.e2e.conftest import make_account
from tests.support.server import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

SCREENSHOTS = Path("/tmp")


def _expect() -> Any:
    from playwright.sync_api import expect

    return expect


def sign_in(page: Any, account: factories.Account) -> None:
    page.goto("/login")
    page.fill("#email", account.email)
    page.fill("#password", account.password)
    page.locator("form:has(#password) button[type=submit]").click()
    page.wait_for_url(re.compile(r"/$"))


def open_incident_by_form(page: Any, *, title: str, exercise: bool) -> int:
    page.locator('a[href="/incidents/new"]').first.click()
    page.wait_for_url(re.compile(r"/incidents/new$"))
    page.fill('[name="title"]', title)
    page.select_option('select[name="category"]', "water_supply")
    level = page.locator('[name="level"]')
    if level.first.evaluate("e => e.tagName") == "SELECT":
        level.select_option("red")
    else:  # built as a radio group
        page.check('input[name="level"][value="red"]')
    if exercise:
        page.check('input[name="exercise"]')
    page.locator('form:has([name="title"]) button[type=submit]').click()
    page.wait_for_url(re.compile(r"/incidents/\d+$"))
    return int(page.url.rsplit("/", 1)[1])


def api_log(server: LiveServer, token: str, incident_id: int) -> dict[int, dict[str, Any]]:
    with server.client(token) as client:
        items = client.get(f"/api/v1/incidents/{incident_id}/log", params={"limit": 1000}).json()[
            "items"
        ]
    return {e["number"]: e for e in items}


def log_by_enter(page: Any, text: str) -> None:
    box = page.locator("#log-text")
    box.fill(text)
    box.press("Enter")


def test_sign_in_open_an_incident_and_log_by_keyboard(
    page: Any, live_server: LiveServer, request: pytest.FixtureRequest
) -> None:
    expect = _expect()
    account = make_account(live_server.database_url)
    sign_in(page, account)
    incident_id = open_incident_by_form(page, title="Vannforurensning Nordby", exercise=True)

    expect(page.locator(".exercise-banner")).to_be_visible()
    entries = page.locator("#log-entries > li.entry")
    expect(entries).to_have_count(1)  # the system's "opened"
    box = page.locator("#log-text")
    expect(box).to_be_focused()  # ready to type on arrival
    page.evaluate("window.__samePage = true")  # gone if the page reloads

    # Type, Enter: the entry is at the top at once, the box is empty and keeps the focus.
    page.check('input[name="kind"][value="decision"]')
    log_by_enter(page, "Koke vann-varsel for Nordby sendes ut")
    expect(entries).to_have_count(2)
    expect(entries.first).to_have_id("entry-2")
    expect(entries.first).to_contain_text("Koke vann-varsel for Nordby sendes ut")
    expect(box).to_have_value("")
    expect(box).to_be_focused()

    # Alt+3 picks "action" from the text box; Shift+Enter is a new line, not a submit.
    box.press("Alt+3")
    expect(page.locator('input[name="kind"][value="action"]')).to_be_checked()
    box.type("Ring vannverket")
    box.press("Shift+Enter")
    box.type("og be om prøvesvar")
    expect(entries).to_have_count(2)
    box.press("Enter")
    expect(entries.first).to_have_id("entry-3")
    expect(box).to_be_focused()

    # Arrow keys move within the kind radio group.
    page.locator('input[name="kind"][value="action"]').focus()
    page.keyboard.press("ArrowDown")
    expect(page.locator('input[name="kind"][value="message_in"]')).to_be_checked()
    box.focus()
    box.press("Alt+5")
    expect(page.locator('input[name="kind"][value="message_out"]')).to_be_checked()

    # An empty entry: a clear error, nothing logged, the chosen kind and the focus kept.
    box.fill("   ")
    box.press("Enter")
    errors = page.locator("#log-form-errors")
    expect(errors).not_to_be_empty()
    expect(errors).to_be_visible()
    expect(entries).to_have_count(3)
    expect(page.locator('input[name="kind"][value="message_out"]')).to_be_checked()
    expect(box).to_be_focused()
    # …and the next real entry goes through and clears the error.
    log_by_enter(page, "Melding til innbyggerne sendt på SMS")
    expect(entries.first).to_have_id("entry-4")
    expect(errors).to_be_empty()
    expect(box).to_have_value("")

    assert page.evaluate("window.__samePage === true"), "the page reloaded while logging"

    shot = SCREENSHOTS / f"samvirke-incident-{request.node.callspec.id}.png"
    page.screenshot(path=str(shot), full_page=True)

    # The record, read back over the API: kinds, text with its line break, a sound chain.
    log = api_log(live_server, account.token, incident_id)
    assert [log[n]["kind"] for n in (2, 3, 4)] == ["decision", "action", "message_out"]
    assert log[3]["text"] == "Ring vannverket\nog be om prøvesvar"
    assert log[2]["author"]["name"] == account.user.name and log[2]["system"] is False
    with live_server.client(account.token) as client:
        assert client.get(f"/api/v1/incidents/{incident_id}/log/verify").json()["ok"] is True


def test_exercise_banner_only_on_exercises(page: Any, live_server: LiveServer) -> None:
    expect = _expect()
    account = make_account(live_server.database_url)
    with live_server.client(account.token) as client:
        real = client.post(
            "/api/v1/incidents", json={"title": "Strømbrudd", "exercise": False}
        ).json()
        drill = client.post(
            "/api/v1/incidents", json={"title": "Øvelse Nordlys", "exercise": True}
        ).json()
    sign_in(page, account)
    page.goto(f"/incidents/{drill['id']}")
    expect(page.locator(".exercise-banner")).to_be_visible()
    page.goto(f"/incidents/{real['id']}")
    expect(page.locator("#log-form")).to_be_visible()
    expect(page.locator(".exercise-banner")).to_have_count(0)
