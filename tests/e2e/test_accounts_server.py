"""`samvirke serve` as operated: secret links stay out of its access log, and it believes
X-Forwarded-For only from SAMVIRKE_TRUSTED_PROXIES."""

from __future__ import annotations

import re

import pytest

from tests.support.server import LiveServer
from tests.web.helpers import csrf_of

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

_ACCESS = re.compile(r'"(GET|POST) (\S+) HTTP/')


def _access_paths(server: LiveServer) -> list[str]:
    return [m.group(2) for m in _ACCESS.finditer(server.output(tail=1_000_000))]


def _link(html: str, element_id: str) -> str:
    found = re.search(rf'id="{element_id}"[^>]*value="([^"]+)"', html)
    assert found, f"no #{element_id}"
    return found.group(1)


def test_set_up_invite_and_reset_secrets_never_reach_the_access_log(
    live_server: LiveServer,
) -> None:
    announced = re.search(r"(/setup\?token=(\S+))", live_server.output())
    assert announced, live_server.output()
    setup_path, setup_secret = announced.groups()
    with live_server.client() as browser:
        form = browser.get(setup_path)
        assert form.status_code == 200
        done = browser.post(
            "/setup",
            data={
                "token": setup_secret,
                "email": "chief@example.no",
                "name": "Kari Leder",
                "password": "a long enough password",
                "csrf_token": csrf_of(form),
            },
        )
        assert done.status_code == 303, done.text
        token = csrf_of(browser.get("/admin/users"))
        invite = _link(
            browser.post(
                "/admin/invites",
                data={"email": "ola@example.no", "name": "Ola", "csrf_token": token},
            ).text,
            "invite-link",
        )
        reset = _link(
            browser.post("/admin/users/1/password-reset", data={"csrf_token": token}).text,
            "reset-link",
        )
        for link in (invite, reset):
            page = browser.get(link)
            assert page.status_code == 200
            browser.post(link, data={"password": "short", "csrf_token": csrf_of(page)})
    live_server.stop()  # everything it printed is in the file now

    secrets = [setup_secret, invite.rsplit("/", 1)[1], reset.rsplit("/", 1)[1]]
    paths = _access_paths(live_server)
    assert "/setup?token=…" in paths
    assert paths.count("/invite/…") == 2
    assert paths.count("/reset/…") == 2
    access = "\n".join(paths)
    for secret in secrets:
        assert secret not in access


def _attempts(server: LiveServer, forwarded_for: list[str]) -> list[int]:
    with server.client() as browser:
        token = csrf_of(browser.get("/login"))
        return [
            browser.post(
                "/login",
                data={"email": f"nobody{n}@example.no", "password": "guess", "csrf_token": token},
                headers={"X-Forwarded-For": address},
            ).status_code
            for n, address in enumerate(forwarded_for)
        ]


ROTATING = ["203.0.113.1", "203.0.113.2", "203.0.113.3", "203.0.113.4"]


@pytest.mark.server_env(SAMVIRKE_LOGIN_RATE_LIMIT="3/minute")
def test_serve_believes_no_forwarded_for_by_default(live_server: LiveServer) -> None:
    """uvicorn alone would believe 127.0.0.1: one local client could then be anyone."""
    assert _attempts(live_server, ROTATING) == [401, 401, 401, 429]


@pytest.mark.server_env(SAMVIRKE_LOGIN_RATE_LIMIT="3/minute", SAMVIRKE_TRUSTED_PROXIES="127.0.0.1")
def test_serve_believes_a_trusted_proxy(live_server: LiveServer) -> None:
    assert _attempts(live_server, ROTATING) == [401, 401, 401, 401]
    assert _attempts(live_server, ROTATING[:1] * 3) == [401, 401, 429]  # 4 from one client
