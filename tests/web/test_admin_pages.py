"""The administrators' page: who may open it, changing users, invites and their errors."""

from __future__ import annotations

from fastapi.testclient import TestClient

from app.accounts import service as accounts
from app.db import Database
from tests.factories import Account
from tests.web.helpers import sign_in, text_of


def test_staff_may_not_open_or_use_the_admin_page(
    client: TestClient, staff: Account, admin: Account
) -> None:
    token = sign_in(client, staff)
    page = client.get("/admin/users")
    assert page.status_code == 403
    assert "Only administrators can open this page." in text_of(page.text)
    assert 'href="/admin/users"' not in client.get("/").text  # and it is not in the menu
    changed = client.post(
        f"/admin/users/{staff.user.id}", data={"role": "admin", "csrf_token": token}
    )
    assert changed.status_code == 403
    invited = client.post(
        "/admin/invites", data={"email": "x@example.no", "name": "X", "csrf_token": token}
    )
    assert invited.status_code == 403


def test_admin_gives_clearance_and_deactivates(
    client: TestClient, db: Database, admin: Account, staff: Account
) -> None:
    token = sign_in(client, admin)
    assert "Siri Staff" in text_of(client.get("/admin/users").text)
    response = client.post(
        f"/admin/users/{staff.user.id}",
        data={"restricted": "1", "csrf_token": token},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    assert response.text.lstrip().startswith('<section id="users"')
    assert "Remove clearance" in text_of(response.text)
    client.post(f"/admin/users/{staff.user.id}", data={"active": "0", "csrf_token": token})
    with db.read_session() as session:
        user = accounts.get_user_by_id(session, staff.user.id or 0)
        assert user.restricted is True
        assert user.active is False


def test_admin_cannot_lock_themselves_out(client: TestClient, admin: Account) -> None:
    token = sign_in(client, admin)
    page = client.get("/admin/users").text
    assert f'id="user-{admin.user.id}-active"' not in page  # not even offered
    response = client.post(
        f"/admin/users/{admin.user.id}",
        data={"active": "0", "csrf_token": token},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 422
    assert response.headers["HX-Retarget"] == "#flash"
    assert "You cannot remove your own administrator access." in text_of(response.text)


def test_invite_errors_keep_what_was_typed(
    client: TestClient, admin: Account, staff: Account
) -> None:
    token = sign_in(client, admin)
    bad = client.post(
        "/admin/invites", data={"email": "not-an-address", "name": "Per", "csrf_token": token}
    )
    assert bad.status_code == 422
    assert "E-mail is not a valid e-mail address." in text_of(bad.text)
    assert 'value="Per"' in bad.text

    taken = client.post(
        "/admin/invites", data={"email": staff.email, "name": "Siri again", "csrf_token": token}
    )
    assert taken.status_code == 409
    assert f"A user with the e-mail {staff.email} already exists." in text_of(taken.text)
    assert 'id="invite-link"' not in taken.text
