"""The API token pages: your own at /tokens, everyone's at /admin/tokens (administrators)."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from app.accounts import tokens
from app.accounts.models import ApiTokenPublic
from app.db import Database
from tests.factories import Account
from tests.helpers import bearer
from tests.web.helpers import HTMX, sign_in, text_of


def secret_on(html: str) -> str:
    found = re.search(r'id="new-token-secret" type="text" readonly value="([^"]+)"', html)
    assert found, "the page shows no new token"
    return found.group(1)


def tokens_of(db: Database, account: Account) -> list[ApiTokenPublic]:
    """The account's tokens as the token pages list them, newest first."""
    with db.read_session() as session:
        return tokens.list_api_tokens(session, user_id=account.user.id)


def test_a_user_makes_sees_and_revokes_their_own_tokens(
    client: TestClient, db: Database, staff: Account, admin: Account
) -> None:
    csrf = sign_in(client, staff)
    page = client.get("/tokens")
    assert page.status_code == 200
    assert 'href="/tokens"' in page.text  # in the menu
    assert "tests" in text_of(page.text)  # the fixture's token, by name

    made = client.post(
        "/tokens",
        data={"name": "Skjerm i stabsrommet", "expires_in_days": "30", "csrf_token": csrf},
    )
    assert made.status_code == 200
    assert made.headers["cache-control"] == "no-store"
    secret = secret_on(made.text)
    assert client.get("/api/v1/incidents", headers=bearer(secret)).status_code == 200
    assert secret not in client.get("/tokens").text  # shown once
    [mine] = [t for t in tokens_of(db, staff) if t.name == "Skjerm i stabsrommet"]
    assert mine.expires_at is not None and mine.user_id == staff.user.id

    revoked = client.post(f"/tokens/{mine.id}/revoke", data={"csrf_token": csrf}, headers=HTMX)
    assert revoked.status_code == 200
    assert revoked.text.lstrip().startswith('<section id="token-list"')
    assert f'id="token-{mine.id}" data-state="revoked"' in revoked.text
    assert client.get("/api/v1/incidents", headers=bearer(secret)).status_code == 401

    # Not someone else's: an administrator's token is, to staff, not there.
    [anne] = tokens_of(db, admin)
    refused = client.post(f"/tokens/{anne.id}/revoke", data={"csrf_token": csrf})
    assert refused.status_code == 404
    assert client.get("/api/v1/incidents", headers=bearer(admin.token)).status_code == 200
    assert client.get("/admin/tokens").status_code == 403


def test_a_token_needs_a_name(client: TestClient, staff: Account) -> None:
    csrf = sign_in(client, staff)
    refused = client.post("/tokens", data={"name": "  ", "csrf_token": csrf})
    assert refused.status_code == 422
    assert "Give the token a name" in text_of(refused.text)
    assert 'id="new-token-secret"' not in refused.text


def test_an_administrator_sees_and_revokes_everyones_tokens(
    client: TestClient, staff: Account, admin: Account, db: Database
) -> None:
    csrf = sign_in(client, admin)
    page = client.get("/admin/tokens")
    assert page.status_code == 200
    assert staff.email in text_of(page.text) and admin.email in text_of(page.text)
    [siri] = tokens_of(db, staff)
    revoked = client.post(
        f"/tokens/{siri.id}/revoke", data={"csrf_token": csrf, "everyone": "1"},
        follow_redirects=False,
    )  # fmt: skip
    assert revoked.status_code == 303 and revoked.headers["location"] == "/admin/tokens"
    assert client.get("/api/v1/incidents", headers=bearer(staff.token)).status_code == 401
    assert "Revoked" in text_of(client.get("/admin/tokens").text)
    # Without CSRF nothing happens.
    [anne] = tokens_of(db, admin)
    assert client.post(f"/tokens/{anne.id}/revoke", data={}).status_code == 403
