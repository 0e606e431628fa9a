"""First start: the way to the set-up link is told, and exactly one first administrator."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.accounts import service as accounts
from app.db import Database
from tests import factories
from tests.factories import Account
from tests.web.helpers import csrf_of, text_of

WHERE = "The set-up link is printed on the server's console"


def test_sign_in_page_says_where_the_set_up_link_is_until_someone_exists(
    client: TestClient, db: Database
) -> None:
    page = client.get("/login")
    assert "Nobody has an account yet." in text_of(page.text)
    assert WHERE in text_of(page.text)
    factories.account(db, name="Anne Admin", email="anne@example.no", role="admin")
    assert WHERE not in text_of(client.get("/login").text)


def test_setup_without_a_token_says_so_before_asking_for_a_password(client: TestClient) -> None:
    page = client.get("/setup")
    assert page.status_code == 404
    assert "The first administrator is created through a set-up link." in text_of(page.text)
    assert WHERE in text_of(page.text)
    assert 'type="password"' not in page.text


def test_setup_with_a_valid_token_asks_for_the_administrator(
    app: FastAPI, client: TestClient
) -> None:
    page = client.get(f"/setup?token={accounts.setup_token(app.state.secret_key)}")
    assert page.status_code == 200
    assert 'type="password"' in page.text
    assert WHERE not in text_of(page.text)


def test_setup_page_after_the_first_administrator_sends_to_sign_in(
    app: FastAPI, client: TestClient, admin: Account
) -> None:
    for path in ("/setup", f"/setup?token={accounts.setup_token(app.state.secret_key)}"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"] == "/login"


SETUPS = 4


def test_simultaneous_set_ups_make_exactly_one_administrator(
    app: FastAPI, db: Database, client: TestClient
) -> None:
    secret = accounts.setup_token(app.state.secret_key)
    csrf = csrf_of(client.get(f"/setup?token={secret}"))
    start = threading.Barrier(SETUPS)

    def set_up(n: int) -> int:
        start.wait(timeout=30)
        response = client.post(
            "/setup",
            data={
                "token": secret,
                "email": f"chief{n}@example.no",
                "name": f"Chief {n}",
                "password": "a long enough password",
                "csrf_token": csrf,
            },
            follow_redirects=False,
        )
        return response.status_code

    with ThreadPoolExecutor(max_workers=SETUPS) as pool:
        statuses = sorted(pool.map(set_up, range(SETUPS)))
    assert statuses == [303] + [409] * (SETUPS - 1), statuses
    with db.read_session() as session:
        users = accounts.list_users(session)
    assert len(users) == 1
    assert users[0].is_admin
