"""Sign-in throttling: per address a hard limit, per account a growing delay, never a lock-out
of the real user; proxy headers only from SAMVIRKE_TRUSTED_PROXIES."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.config import Settings
from app.db import Database
from app.main import create_app
from app.web.login_guard import MAX_DELAY, LoginGuard
from tests import factories
from tests.factories import Account
from tests.web.helpers import csrf_of

ATTACKER = "203.0.113.66"
REAL_USER = "198.51.100.7"
PROXY = "192.0.2.10"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def settings(settings: Settings) -> Settings:
    settings.login_rate_limit = "10/minute"  # the default, which the other tests raise
    return settings


@pytest.fixture
def clock(app: FastAPI) -> Clock:
    clock = Clock()
    app.state.login_guard = LoginGuard(app.state.settings.login_rate_limit, clock=clock)
    return clock


class Browsers(dict[str, TestClient]):
    """One browser per client address, made on first use."""

    def __init__(self, app: FastAPI) -> None:
        super().__init__()
        self.app = app

    def __missing__(self, address: str) -> TestClient:
        browser = self[address] = browser_at(self.app, address)
        return browser


def browser_at(app: FastAPI, address: str) -> TestClient:
    return TestClient(app, client=(address, 40000), headers={"Accept-Language": "en"})


@pytest.fixture
def browsers(app: FastAPI, client: TestClient) -> Browsers:
    """Browsers by address (the app's lifespan runs in `client`)."""
    return Browsers(app)


def attempt(
    browser: TestClient, email: str, password: str, headers: dict[str, str] | None = None
) -> tuple[int, str]:
    token = csrf_of(browser.get("/login"))
    response = browser.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": token},
        headers=headers,
        follow_redirects=False,
    )
    return response.status_code, response.headers.get("retry-after", "")


def test_an_attacker_at_one_address_does_not_lock_the_real_user_out(
    browsers: Browsers, staff: Account, clock: Clock
) -> None:
    attacker = browsers[ATTACKER]
    statuses = [attempt(attacker, staff.email, f"guess {n}")[0] for n in range(12)]
    assert 401 in statuses and statuses[-1] == 429  # slowed, then stopped at that address
    # The real user, on a new browser elsewhere, gets in at once.
    assert attempt(browsers[REAL_USER], staff.email, staff.password)[0] == 303


def test_many_people_behind_one_address_can_all_sign_in(
    app: FastAPI, db: Database, clock: Clock
) -> None:
    """Only failures count against an address: a crisis staff behind one NAT all get in."""
    office = browser_at(app, "198.51.100.1")
    for n in range(12):
        person = factories.account(db, name=f"Person {n}", email=f"p{n}@example.no")
        office.cookies.clear()
        assert attempt(office, person.email, person.password)[0] == 303


def test_one_address_is_slowed_on_an_account_after_five_failures(
    browsers: Browsers, staff: Account, clock: Clock
) -> None:
    attacker = browsers[ATTACKER]
    for n in range(5):
        assert attempt(attacker, staff.email, f"guess {n}")[0] == 401
    status, retry = attempt(attacker, staff.email, staff.password)  # even the right one waits
    assert (status, retry) == (429, "1")
    clock.now += 1.5
    assert attempt(attacker, staff.email, "guess 5")[0] == 401
    assert attempt(attacker, staff.email, "guess 6") == (429, "2")  # the delay grows


def test_many_addresses_slow_the_account_down_but_never_lock_it(
    browsers: Browsers, staff: Account, clock: Clock
) -> None:
    known = browsers[REAL_USER]
    assert attempt(known, staff.email, staff.password)[0] == 303  # this browser is known now
    for n in range(10):
        assert attempt(browsers[f"203.0.113.{n}"], staff.email, "guess")[0] == 401
    status, retry = attempt(browsers["203.0.113.200"], staff.email, staff.password)
    assert (status, retry) == (429, "1")
    for n in range(10, 30):
        clock.now += MAX_DELAY
        assert attempt(browsers[f"203.0.113.{n}"], staff.email, "guess")[0] == 401
    status, retry = attempt(browsers["203.0.113.201"], staff.email, "guess")
    assert status == 429 and int(retry) == MAX_DELAY  # at most a minute
    # The real user's known browser is not slowed down.
    assert attempt(known, staff.email, staff.password)[0] == 303
    # And after the delay anyone may try again: a slow-down, not a lock-out.
    clock.now += MAX_DELAY
    assert attempt(browsers["203.0.113.202"], staff.email, staff.password)[0] == 303


def test_forwarded_for_is_ignored_without_trusted_proxies(
    browsers: Browsers, staff: Account, clock: Clock
) -> None:
    """Everyone may write X-Forwarded-For: believing it would let one address be many."""
    attacker = browsers[ATTACKER]
    statuses = [
        attempt(attacker, f"nobody{n}@example.no", "guess", {"X-Forwarded-For": f"10.0.0.{n}"})[0]
        for n in range(11)
    ]
    assert statuses == [401] * 10 + [429]
    assert 1 <= int(attempt(attacker, "x@example.no", "guess")[1]) <= 60  # Retry-After


@pytest.fixture(params=[PROXY, "192.0.2.0/24"])
def proxied_app(request: pytest.FixtureRequest, settings: Settings) -> Iterator[FastAPI]:
    app = create_app(settings.model_copy(update={"trusted_proxies": request.param}))
    yield app
    app.state.db.dispose()


def test_a_trusted_proxy_tells_its_clients_apart(proxied_app: FastAPI, staff: Account) -> None:
    proxied = browser_at(proxied_app, PROXY)
    behind = {"X-Forwarded-For": f"10.1.1.1, {ATTACKER}"}  # the proxy appends the peer it saw
    statuses = [attempt(proxied, f"nobody{n}@example.no", "guess", behind)[0] for n in range(11)]
    assert statuses == [401] * 10 + [429]
    # Another client behind the same proxy is not lumped in with the attacker.
    other = {"X-Forwarded-For": REAL_USER}
    assert attempt(proxied, staff.email, staff.password, other)[0] == 303
    # A peer that is not the proxy cannot claim to be someone else: still the attacker.
    direct = browser_at(proxied_app, ATTACKER)
    assert attempt(direct, staff.email, staff.password, other)[0] == 429
