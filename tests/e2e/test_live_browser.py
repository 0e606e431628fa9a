"""Live pages in real browsers: two readers, each in their own browser context (own cookies).

One logs, the other sees it at once; the other loses its connection while three entries are
logged and, back online, shows all three once and in order without a reload; what it was typing
stays in the box; the indicator says live, reconnecting or offline. The incident list follows
new incidents and level changes. Selectors are the pages' public contract: `#live-status` and
its `data-state` (connecting, live, reconnecting, offline, stale) and `data-seq` (the last seq
the page applied), `#log-entries > li.entry#entry-N` (newest first), `#incident-N` list rows.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from app.actions import transaction
from app.db import Database
from app.incidents.service import get_incident, lock_incident
from tests import factories
from tests.e2e.conftest import make_account
from tests.e2e.test_browser import log_by_enter, sign_in
from tests.support.server import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

# Keeps every socket the page opens, so a test can cut one as a network would.
TRACK_SOCKETS = """
(() => {
  const Native = window.WebSocket;
  window.__sockets = [];
  window.WebSocket = class extends Native {
    constructor(...args) { super(...args); window.__sockets.push(this); }
  };
})();
"""
# Every state the indicator goes through from now on.
RECORD_STATES = """() => {
  window.__states = [];
  const status = document.getElementById("live-status");
  new MutationObserver(() => window.__states.push(status.dataset.state))
    .observe(status, {attributes: true, attributeFilter: ["data-state"]});
}"""

Open = Callable[[factories.Account], Any]


def _expect() -> Any:
    from playwright.sync_api import expect

    return expect


@pytest.fixture
def open_as(
    chromium: Any, live_server: LiveServer, request: pytest.FixtureRequest
) -> Iterator[Open]:
    """Signed-in pages, one browser context each; screenshots of them all if the test fails."""
    pages: list[Any] = []

    def open_page(account: factories.Account) -> Any:
        context = chromium.new_context(base_url=live_server.url, locale="nb-NO")
        context.set_default_timeout(10_000)
        context.add_init_script(TRACK_SOCKETS)
        page = context.new_page()
        pages.append(page)
        sign_in(page, account)
        return page

    yield open_page
    report = getattr(request.node, "rep_call", None)
    for n, page in enumerate(pages):
        if report is not None and report.failed:
            shot = Path("/tmp") / f"samvirke-failed-{request.node.name}-{n}.png"
            page.screenshot(path=str(shot), full_page=True)
            print(f"screenshot of page {n}: {shot}")
        page.context.close()
    if report is not None and report.failed:
        print(f"server output:\n{live_server.output()}")


@pytest.fixture
def writer(live_server: LiveServer) -> factories.Account:
    return make_account(live_server.database_url, name="Siri Staff", email="siri@example.no")


@pytest.fixture
def reader(live_server: LiveServer) -> factories.Account:
    return make_account(live_server.database_url, name="Ola Nordmann", email="ola@example.no")


def open_incident(server: LiveServer, account: factories.Account, title: str) -> int:
    with server.client(account.token) as client:
        response = client.post("/api/v1/incidents", json={"title": title, "level": "yellow"})
    assert response.status_code == 201, response.text
    incident_id: int = response.json()["id"]
    return incident_id


def go_live(page: Any, path: str) -> None:
    page.goto(path)
    _expect()(page.locator("#live-status")).to_have_attribute("data-state", "live")
    page.evaluate("window.__samePage = true")  # gone if the page reloads


def both_live(
    open_as: Open,
    server: LiveServer,
    writer: factories.Account,
    reader: factories.Account,
    title: str,
) -> tuple[int, Any, Any]:
    """A new incident, live in the writer's browser and in the reader's: (id, mine, theirs)."""
    incident_id = open_incident(server, writer, title)
    mine, theirs = open_as(writer), open_as(reader)
    for page in (mine, theirs):
        go_live(page, f"/incidents/{incident_id}")
    return incident_id, mine, theirs


def entry_ids(page: Any) -> list[str]:
    ids: list[str] = page.eval_on_selector_all(
        "#log-entries > li.entry", "els => els.map(e => e.id)"
    )
    return ids


def caught_up(page: Any, seq: int) -> None:
    _expect()(page.locator("#live-status")).to_have_attribute("data-seq", str(seq))


def test_an_entry_logged_in_one_browser_appears_live_in_the_other(
    open_as: Open,
    live_server: LiveServer,
    writer: factories.Account,
    reader: factories.Account,
    request: pytest.FixtureRequest,
) -> None:
    expect = _expect()
    _, mine, theirs = both_live(open_as, live_server, writer, reader, "Vannforurensning Nordby")
    expect(theirs.locator("#live-status-text")).to_have_text("Direkte")
    typing = theirs.locator("#log-text")
    typing.fill("Halvskrevet: vannverket melder")

    mine.check('input[name="kind"][value="decision"]')
    log_by_enter(mine, "Koke vann-varsel for Nordby sendes ut")
    pushed = theirs.locator("#entry-2")
    expect(pushed).to_contain_text("Koke vann-varsel for Nordby sendes ut")
    expect(pushed).to_have_class(re.compile(r"\blive-new\b"))  # highlighted as new
    expect(typing).to_have_value("Halvskrevet: vannverket melder")
    # The writer's own entry came twice (the post's answer and the push): shown once.
    caught_up(mine, 3)
    assert entry_ids(mine) == ["entry-2", "entry-1"]

    # A level change: the other page's header follows, the box still holds the typing.
    mine.click("#level-red")
    expect(theirs.locator("#incident-header")).to_have_class(re.compile("incident-header--red"))
    expect(theirs.locator("#entry-3")).to_be_visible()  # the system entry that says so
    expect(typing).to_have_value("Halvskrevet: vannverket melder")
    expect(theirs.locator("#live-status .live-status__time")).to_be_visible()
    theirs.screenshot(path=f"/tmp/samvirke-live-{request.node.callspec.id}.png")

    # The reader's own entry, too, is shown once; and nobody's page reloaded.
    typing.press("Enter")
    caught_up(theirs, 6)
    assert entry_ids(theirs) == ["entry-4", "entry-3", "entry-2", "entry-1"]
    caught_up(mine, 6)
    assert entry_ids(mine) == ["entry-4", "entry-3", "entry-2", "entry-1"]
    assert theirs.evaluate("window.__samePage === true")
    assert mine.evaluate("window.__samePage === true")

    # Notifications of decisions are off until asked for; asking is what the button does.
    bell = theirs.locator("#live-notify")
    expect(bell).to_have_attribute("aria-pressed", "false")
    theirs.context.grant_permissions(["notifications"], origin=live_server.url)
    bell.click()
    expect(bell).to_have_attribute("aria-pressed", "true")


def test_a_page_that_lost_its_connection_catches_up_once_in_order_without_reload(
    open_as: Open, live_server: LiveServer, writer: factories.Account, reader: factories.Account
) -> None:
    expect = _expect()
    incident_id, mine, theirs = both_live(
        open_as, live_server, writer, reader, "Strømbrudd Nordland"
    )
    status = theirs.locator("#live-status")
    theirs.locator("#log-text").fill("Skriver mens nettet er borte")

    # The network goes: the page says so, and three entries are logged meanwhile.
    theirs.context.set_offline(True)
    expect(status).to_have_attribute("data-state", "offline")
    expect(theirs.locator("#live-status-text")).to_have_text("Frakoblet")
    for n in (1, 2, 3):
        log_by_enter(mine, f"Melding {n} mens den andre er frakoblet")
        expect(mine.locator(f"#entry-{n + 1}")).to_be_visible()
    assert entry_ids(theirs) == ["entry-1"]

    # Back online: all three, once each, newest first, and the typing is still there.
    theirs.context.set_offline(False)
    expect(status).to_have_attribute("data-state", "live")
    caught_up(theirs, 5)
    assert entry_ids(theirs) == ["entry-4", "entry-3", "entry-2", "entry-1"]
    texts = theirs.eval_on_selector_all(
        "#log-entries > li.entry .entry__text", "els => els.map(e => e.textContent)"
    )
    assert texts[:3] == [f"Melding {n} mens den andre er frakoblet" for n in (3, 2, 1)]
    expect(theirs.locator("#log-text")).to_have_value("Skriver mens nettet er borte")

    # The socket is cut (as by a proxy) while three more are logged: it says "reconnecting",
    # comes back by itself and misses nothing.
    theirs.evaluate(RECORD_STATES)
    theirs.evaluate("window.__sockets.at(-1).close()")
    with live_server.client(writer.token) as client:
        for n in (4, 5, 6):
            response = client.post(
                f"/api/v1/incidents/{incident_id}/log",
                json={"kind": "information", "text": f"Melding {n}"},
            )
            assert response.status_code == 201, response.text
    caught_up(theirs, 8)
    expect(status).to_have_attribute("data-state", "live")
    assert theirs.evaluate("window.__states").count("reconnecting") >= 1
    assert entry_ids(theirs) == [f"entry-{n}" for n in range(7, 0, -1)]
    assert theirs.evaluate("window.__samePage === true"), "the page reloaded"


def test_typing_on_while_an_entry_is_on_its_way_loses_nothing(
    open_as: Open, live_server: LiveServer, writer: factories.Account
) -> None:
    """The answer to an entry may come after the entry itself (pushed at the commit), and the
    next one may be typed before either: the answer clears only what it was the answer to, and
    Enter pressed meanwhile sends the next entry right after."""
    expect = _expect()
    incident_id = open_incident(live_server, writer, "Vannlekkasje Storgata")
    page = open_as(writer)
    go_live(page, f"/incidents/{incident_id}")
    held: list[Any] = []

    def hold(route: Any) -> None:
        held.append(route)  # the request waits until the test lets it go

    log_url = re.compile(rf"/incidents/{incident_id}/log$")
    page.route(log_url, hold, times=1)

    log_by_enter(page, "Vannet er stengt i Storgata")
    expect(page.locator("#log-form")).to_have_class(re.compile(r"\bhtmx-request\b"))
    log_by_enter(page, "Tankbil bestilt")  # Enter while the first is on its way
    held[0].continue_()
    expect(page.locator("#entry-3")).to_contain_text("Tankbil bestilt")
    expect(page.locator("#entry-2")).to_contain_text("Vannet er stengt i Storgata")
    expect(page.locator("#log-text")).to_have_value("")

    page.route(log_url, hold, times=1)
    log_by_enter(page, "Beboerne varslet")
    page.locator("#log-text").fill("Neste melding, halvskrevet")  # typed, not yet sent
    held[1].continue_()
    expect(page.locator("#entry-4")).to_contain_text("Beboerne varslet")
    expect(page.locator("#log-form")).not_to_have_class(re.compile(r"\bhtmx-request\b"))
    expect(page.locator("#log-text")).to_have_value("Neste melding, halvskrevet")
    assert entry_ids(page) == ["entry-4", "entry-3", "entry-2", "entry-1"]

    # An empty box sent meanwhile gets its error once the answer is in, as it would at once.
    page.route(log_url, hold, times=1)
    log_by_enter(page, "Vannverket varslet")
    log_by_enter(page, "   ")
    held[2].continue_()
    expect(page.locator("#entry-5")).to_contain_text("Vannverket varslet")
    expect(page.locator("#log-form-errors")).not_to_be_empty()
    expect(page.locator("#log-form")).not_to_have_class(re.compile(r"\bhtmx-request\b"))
    assert entry_ids(page)[0] == "entry-5"


@pytest.mark.server_env(SAMVIRKE_WRITE_WAIT="1")
def test_an_entry_the_database_cannot_take_says_so_and_keeps_the_text(
    open_as: Open, live_server: LiveServer, writer: factories.Account
) -> None:
    expect = _expect()
    incident_id = open_incident(live_server, writer, "Ras over E6")
    page = open_as(writer)
    go_live(page, f"/incidents/{incident_id}")
    db = Database(live_server.database_url)
    try:
        with transaction(db) as stuck:  # another program holds the incident's write lock
            lock_incident(stuck.session, get_incident(stuck.session, incident_id))
            log_by_enter(page, "Veien er stengt ved Kvam")
            expect(page.locator("#log-form-errors")).to_contain_text(
                "Databasen svarte ikke i tide", timeout=15_000
            )
            stuck.session.rollback()
    finally:
        db.dispose()
    expect(page.locator("#log-text")).to_have_value("Veien er stengt ved Kvam")
    expect(page.locator("#flash")).to_have_text("")  # no generic "server error" on top
    page.locator("#log-text").press("Enter")  # once it answers, sending again works
    expect(page.locator("#entry-2")).to_contain_text("Veien er stengt ved Kvam")
    expect(page.locator("#log-form-errors")).to_have_text("")


def test_the_incident_list_follows_new_incidents_and_level_changes(
    open_as: Open, live_server: LiveServer, writer: factories.Account, reader: factories.Account
) -> None:
    expect = _expect()
    first = open_incident(live_server, writer, "Storm Ingunn")
    theirs = open_as(reader)
    go_live(theirs, "/")
    second = open_incident(live_server, writer, "Flom i Gudbrandsdalen")
    row = theirs.locator(f"#incident-{second}")
    expect(row).to_contain_text("Flom i Gudbrandsdalen")
    expect(row).to_have_class(re.compile(r"\blive-new\b"))
    with live_server.client(writer.token) as client:
        client.patch(f"/api/v1/incidents/{first}", json={"level": "red"})
    expect(theirs.locator(f"#incident-{first} .level")).to_have_class(re.compile("level--red"))
    expect(theirs.locator(f"#incident-{first} td.num")).to_have_text("2")  # opened, level
    assert theirs.evaluate("window.__samePage === true")


# What a page shows after pushes must be what a fresh load shows (Zulip's `verify_action`):
# the same entries, badges, links and header, only without the highlight of what is new and
# the bookkeeping attributes of the live client.
SNAPSHOT = """() => {
  const clean = (el) => {
    const copy = el.cloneNode(true);
    for (const node of [copy, ...copy.querySelectorAll("*")]) {
      node.classList.remove("live-new", "live-changed");
      if (!node.classList.length) node.removeAttribute("class");
      for (const name of ["hx-swap-oob", "data-seq", "data-live-seen", "style"]) {
        node.removeAttribute(name);
      }
      // One push serves many readers, so its forms carry no CSRF token (htmx sends the header).
      if (node.name === "csrf_token") node.removeAttribute("value");
    }
    return copy.outerHTML.replace(/>\\s+</g, "><").replace(/\\s+/g, " ").trim();
  };
  return ["#incident-header", "#log-entries"].map((s) => clean(document.querySelector(s)));
}"""


def test_a_page_kept_live_by_pushes_equals_a_fresh_load(
    open_as: Open, live_server: LiveServer, writer: factories.Account, reader: factories.Account
) -> None:
    restricted = make_account(
        live_server.database_url, name="Rolf Restricted", email="rolf@example.no", restricted=True
    )
    incident_id = open_incident(live_server, writer, "Brann i Nordby skole")
    path = f"/incidents/{incident_id}"
    watchers = [open_as(reader), open_as(restricted)]  # without and with clearance
    for page in watchers:
        go_live(page, path)

    with live_server.client(restricted.token) as client:
        log = f"/api/v1/incidents/{incident_id}/log"
        for body in (
            {"kind": "information", "text": "Røyk sett fra taket"},
            {"kind": "decision", "text": "Evakuering av nabohus", "classification": "internal"},
            {
                "kind": "decision",
                "text": "Navn på skadde holdes tilbake",
                "classification": "restricted",
            },
            {"kind": "action", "text": "Brannvesenet varslet kl. 14.02", "corrects": 2},
            {
                "kind": "message_out",
                "text": "Pressemelding sendt",
                "occurred_at": "2026-11-27T08:00:00Z",
            },
        ):
            assert client.post(log, json=body).status_code == 201
        level = client.patch(f"/api/v1/incidents/{incident_id}", json={"level": "red"})
        assert level.status_code == 200, level.text
    with live_server.client(writer.token) as client:
        assert (
            client.post(log, json={"kind": "decision", "text": "Skolen stenges"}).status_code == 201
        )
        head = client.get(f"/api/v1/incidents/{incident_id}/log?after=0&limit=1000").json()

    last = head["items"][-1]["number"]
    for page in watchers:
        _expect()(page.locator(f"#entry-{last}")).to_be_visible()
        pushed = page.evaluate(SNAPSHOT)
        fresh = page.context.new_page()
        fresh.goto(path)
        assert fresh.evaluate(SNAPSHOT) == pushed
        fresh.close()
    assert "Navn på skadde holdes tilbake" not in watchers[0].inner_text("#log-entries")
    assert "Navn på skadde holdes tilbake" in watchers[1].inner_text("#log-entries")
