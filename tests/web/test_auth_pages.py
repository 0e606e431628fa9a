"""Signing in and out, the set-up link, invites and CSRF, through HTTP like a browser."""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx2 import Response

from app.accounts import service as accounts
from tests.factories import Account
from tests.web.helpers import csrf_of, sign_in, text_of


def test_sign_in_with_the_form_opens_the_incident_list(client: TestClient, staff: Account) -> None:
    token = csrf_of(client.get("/login"))
    response = client.post(
        "/login",
        data={"email": staff.email, "password": staff.password, "csrf_token": token, "next": "/"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/"
    page = client.get("/")
    assert page.status_code == 200
    assert "Siri Staff" in text_of(page.text)
    assert "New incident" in text_of(page.text)


def test_wrong_password_is_refused_with_a_clear_message(client: TestClient, staff: Account) -> None:
    token = csrf_of(client.get("/login"))
    response = client.post(
        "/login",
        data={"email": staff.email, "password": "not the password", "csrf_token": token},
        follow_redirects=False,
    )
    assert response.status_code == 401
    assert "Wrong e-mail or password." in text_of(response.text)
    assert f'value="{staff.email}"' in response.text  # the address stays filled in
    assert client.get("/", follow_redirects=False).status_code == 303  # still not signed in


def test_sign_in_without_csrf_token_is_refused(client: TestClient, staff: Account) -> None:
    client.get("/login")  # the browser has its CSRF cookie, but the form lacks the token
    response = client.post(
        "/login", data={"email": staff.email, "password": staff.password}, follow_redirects=False
    )
    assert response.status_code == 403
    assert "This form has expired" in text_of(response.text)
    assert client.get("/", follow_redirects=False).status_code == 303


def test_a_write_without_csrf_token_is_refused(client: TestClient, staff: Account) -> None:
    sign_in(client, staff)
    response = client.post(
        "/incidents", data={"title": "Forged", "level": "red"}, follow_redirects=False
    )
    assert response.status_code == 403
    assert "Forged" not in client.get("/").text


def test_unknown_session_sends_to_sign_in_with_an_expired_notice(client: TestClient) -> None:
    client.cookies.set("samvirke_session", "left-over-from-yesterday")
    response = client.get("/incidents/1?kind=decision", follow_redirects=False)
    assert response.status_code == 303
    location = response.headers["location"]
    assert location.startswith("/login?next=")
    assert "expired=1" in location
    page = client.get(location)
    assert "Your session has expired. Sign in again." in text_of(page.text)
    assert 'name="next" value="/incidents/1?kind=decision"' in page.text


def test_htmx_request_with_stale_session_redirects_the_whole_page(client: TestClient) -> None:
    token = csrf_of(client.get("/login"))
    client.cookies.set("samvirke_session", "stale")
    response = client.post(
        "/incidents/1/log",
        data={"text": "x"},
        headers={"HX-Request": "true", "X-CSRF-Token": token},
        follow_redirects=False,
    )
    assert response.headers["HX-Redirect"].startswith("/login?next=")


def test_sign_out_everywhere_ends_every_session(client: TestClient, staff: Account) -> None:
    sign_in(client, staff)
    first_browser = dict(client.cookies)
    client.cookies.clear()
    token = sign_in(client, staff)  # the same person on a second device
    assert client.get("/", follow_redirects=False).status_code == 200
    response = client.post("/logout-everywhere", data={"csrf_token": token}, follow_redirects=False)
    assert response.status_code == 303
    assert client.get("/", follow_redirects=False).status_code == 303
    client.cookies.clear()
    client.cookies.update(first_browser)
    assert client.get("/", follow_redirects=False).status_code == 303


def _set_up(client: TestClient, secret: str, csrf: str, password: str, **kw: Any) -> Response:
    """Send the set-up form that creates Kari Leder, the first administrator."""
    return client.post(
        "/setup",
        data={
            "token": secret,
            "email": "chief@example.no",
            "name": "Kari Leder",
            "password": password,
            "csrf_token": csrf,
        },
        **kw,
    )


def test_set_up_link_creates_the_first_administrator(app: FastAPI, client: TestClient) -> None:
    secret = accounts.setup_token(app.state.secret_key)
    form = client.get(f"/setup?token={secret}")
    assert form.status_code == 200
    token = csrf_of(form)

    short = _set_up(client, secret, token, "short")
    assert short.status_code == 422
    assert "Password must have at least 10 characters." in text_of(short.text)
    assert 'value="chief@example.no"' in short.text  # what was typed stays

    done = _set_up(client, secret, token, "a long enough password", follow_redirects=False)
    assert done.status_code == 303
    admin_page = client.get("/admin/users")
    assert admin_page.status_code == 200
    assert "Kari Leder" in text_of(admin_page.text)
    # Once someone exists the link is dead: no second administrator through it.
    assert client.get(f"/setup?token={secret}", follow_redirects=False).status_code == 303


def test_set_up_link_with_a_forged_token_is_refused(client: TestClient) -> None:
    page = client.get("/setup?token=forged")
    assert page.status_code == 404
    assert "This set-up link is not valid" in text_of(page.text)
    assert 'type="password"' not in page.text  # no form that could only refuse what is typed
    response = _set_up(client, "forged", csrf_of(client.get("/login")), "a long enough password")
    assert response.status_code == 404
    assert "This set-up link is not valid" in text_of(response.text)


def test_invite_link_lets_the_invited_person_in_once(client: TestClient, admin: Account) -> None:
    token = sign_in(client, admin)
    created = client.post(
        "/admin/invites",
        data={
            "email": "ola@example.no",
            "name": "Ola Nordmann",
            "role": "staff",
            "restricted": "1",
            "csrf_token": token,
        },
    )
    assert created.status_code == 200
    link = re.search(r'id="invite-link"[^>]*value="([^"]+)"', created.text)
    assert link, "the invite link is shown once"
    path = link.group(1).removeprefix("http://testserver")
    assert "ola@example.no" in text_of(client.get("/admin/users").text)  # pending
    assert path not in client.get("/admin/users").text  # and never shown again

    client.cookies.clear()  # the invited person's own browser
    page = client.get(path)
    assert page.status_code == 200
    assert "ola@example.no" in text_of(page.text)
    accepted = client.post(
        path,
        data={"name": "Ola N.", "password": "another long password", "csrf_token": csrf_of(page)},
        follow_redirects=False,
    )
    assert accepted.status_code == 303
    assert "Ola N." in text_of(client.get("/").text)
    again = client.get(path)
    assert again.status_code == 404
    assert "This invite link is not valid" in text_of(again.text)
