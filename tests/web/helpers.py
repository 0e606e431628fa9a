"""Browser-like helpers for page tests: read the CSRF field, sign in, post forms, read pages."""

from __future__ import annotations

import re
from html import unescape
from typing import Protocol

from fastapi.testclient import TestClient

from tests.factories import Account

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
HTMX = {"HX-Request": "true"}


class Page(Protocol):
    @property
    def text(self) -> str: ...


def csrf_of(response: Page) -> str:
    found = _CSRF.search(response.text)
    assert found, "the page has no CSRF field"
    return found.group(1)


def sign_in(client: TestClient, account: Account) -> str:
    """Sign in through the login form like a browser; returns the CSRF token for later forms."""
    token = csrf_of(client.get("/login"))
    response = client.post(
        "/login",
        data={"email": account.email, "password": account.password, "csrf_token": token},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return token


def htmx(form_id: str, page: str = "http://testserver/") -> dict[str, str]:
    """The headers htmx sends for a request made by the element with id `form_id`."""
    return {**HTMX, "HX-Trigger": form_id, "HX-Current-URL": page}


def text_of(html: str) -> str:
    """The visible text of some HTML, whitespace collapsed: assertions on words, not markup."""
    without_tags = re.sub(r"<[^>]+>", " ", html)
    return re.sub(r"\s+", " ", unescape(without_tags)).strip()


def textarea_value(html: str, element_id: str) -> str:
    found = re.search(rf'<textarea[^>]*id="{element_id}"[^>]*>(.*?)</textarea>', html, re.DOTALL)
    assert found, f"no textarea #{element_id}"
    return unescape(found.group(1))


def entry_ids(html: str) -> list[int]:
    """Numbers of the log entries shown, in page order."""
    return [int(n) for n in re.findall(r'<li class="entry[^"]*" id="entry-(\d+)"', html)]
