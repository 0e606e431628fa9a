"""Sign-in throttling: a hard limit per address, a growing delay per account.

- Per address (`SAMVIRKE_LOGIN_RATE_LIMIT`, default 10/minute): every failed attempt counts,
  whatever the account; past it that address is answered 429 until the window moves on. It
  stops one address from guessing fast and touches no one else; successful sign-ins do not
  count, so a whole staff behind one NAT can sign in at the start of a crisis.
- Per account: failed attempts slow further attempts down, never lock them out. Failures from
  the asking address and from all other addresses are counted apart; past `PAIR_FREE` (own)
  or `ACCOUNT_FREE` (others) failures the next attempt must wait 1, 2, 4 … at most
  `MAX_DELAY` seconds after the last failure. A guesser at one address so slows only
  themselves; many addresses together slow the account for everyone, by at most a minute.
- A browser that signed in to the account before carries a signed "known device" cookie and
  skips the account's delay (not the address limit): the real user gets in during an attack.

The address is `request.client.host`: the peer, or what a proxy in `SAMVIRKE_TRUSTED_PROXIES`
says (uvicorn's ProxyHeadersMiddleware, installed by `create_app`). Counters live in the
process's memory: a restart forgets them, and each worker process counts on its own.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import threading
import time
from collections.abc import Callable

from fastapi import Request, Response
from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from app.config import Settings
from app.errors import RateLimited

DEVICE_COOKIE = "samvirke_device"
PAIR_FREE = 5
ACCOUNT_FREE = 10
MAX_DELAY = 60.0
WINDOW = 15 * 60.0  # failures older than this are forgotten
_MAX_ADDRESSES = 1000  # per account, so a spray from many addresses cannot fill the memory


def _delay(failures: int, free: int) -> float:
    return 0.0 if failures < free else min(2.0 ** (failures - free), MAX_DELAY)


class LoginGuard:
    def __init__(self, address_limit: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.address_limit = parse(address_limit)
        self.limiter = MovingWindowRateLimiter(MemoryStorage())
        self.clock = clock
        # account -> address -> (failures, time of the last one)
        self._failures: dict[str, dict[str, tuple[int, float]]] = {}
        self._lock = threading.Lock()

    def check(self, *, address: str, account: str, known_device: bool) -> None:
        """Raise `RateLimited` if this attempt must not even be tried now."""
        if not self.limiter.test(self.address_limit, "login", address):
            stats = self.limiter.get_window_stats(self.address_limit, "login", address)
            raise RateLimited(
                "Too many sign-in attempts. Wait a minute and try again.",
                seconds=max(1, math.ceil(stats.reset_time - time.time())),
            )
        if known_device:
            return
        wait = self.wait(account=account, address=address)
        if wait > 0:
            raise RateLimited(
                "Too many failed sign-ins to this account. Wait {seconds} seconds and try again.",
                seconds=math.ceil(wait),
            )

    def wait(self, *, account: str, address: str) -> float:
        now = self.clock()
        with self._lock:
            by_address = self._fresh(account, now)
            own, own_last = by_address.get(address, (0, now))
            others = [(n, last) for a, (n, last) in by_address.items() if a != address]
        other_count = sum(n for n, _ in others)
        other_last = max((last for _, last in others), default=now)
        return max(
            own_last + _delay(own, PAIR_FREE) - now,
            other_last + _delay(other_count, ACCOUNT_FREE) - now,
            0.0,
        )

    def failed(self, *, account: str, address: str) -> None:
        self.limiter.hit(self.address_limit, "login", address)
        now = self.clock()
        with self._lock:
            by_address = self._failures.setdefault(account, self._fresh(account, now))
            count, _ = by_address.pop(address, (0, now))
            by_address[address] = (count + 1, now)
            while len(by_address) > _MAX_ADDRESSES:
                del by_address[next(iter(by_address))]  # the longest quiet address

    def succeeded(self, *, account: str) -> None:
        with self._lock:
            self._failures.pop(account, None)

    def _fresh(self, account: str, now: float) -> dict[str, tuple[int, float]]:
        by_address = self._failures.get(account, {})
        for address in [a for a, (_, last) in by_address.items() if now - last > WINDOW]:
            del by_address[address]
        if not by_address:
            self._failures.pop(account, None)
        return by_address


def login_guard(request: Request) -> LoginGuard:
    guard: LoginGuard | None = getattr(request.app.state, "login_guard", None)
    if guard is None:
        settings: Settings = request.app.state.settings
        guard = request.app.state.login_guard = LoginGuard(settings.login_rate_limit)
    return guard


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def account_key(email: str) -> str:
    return email.strip().lower()


def _device_mark(request: Request, account: str) -> str:
    key: str = request.app.state.secret_key
    return hmac.new(key.encode(), b"device:" + account.encode(), hashlib.sha256).hexdigest()


def is_known_device(request: Request, email: str) -> bool:
    mark = request.cookies.get(DEVICE_COOKIE, "")
    return hmac.compare_digest(mark.encode(), _device_mark(request, account_key(email)).encode())


def remember_device(request: Request, response: Response, email: str) -> None:
    settings: Settings = request.app.state.settings
    response.set_cookie(
        DEVICE_COOKIE,
        _device_mark(request, account_key(email)),
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
        max_age=365 * 24 * 3600,
    )
