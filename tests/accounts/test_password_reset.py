"""Password reset links (admin page, JSON API, CLI) and invites sent again, through HTTP."""

from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from fastapi.testclient import TestClient

from app.db import Database
from tests.factories import Account
from tests.helpers import assert_problem, bearer
from tests.support.server import run_cli
from tests.web.helpers import csrf_of, sign_in, text_of

NEW_PASSWORD = "a brand new password"


def _link_path(html: str, element_id: str) -> str:
    found = re.search(rf'id="{element_id}"[^>]*value="([^"]+)"', html)
    assert found, f"no #{element_id} on the page"
    return found.group(1).removeprefix("http://testserver")


def _signed_in(client: TestClient) -> bool:
    return client.get("/", follow_redirects=False).status_code == 200


def _use_reset(client: TestClient, path: str, password: str = NEW_PASSWORD) -> int:
    page = client.get(path)
    assert page.status_code == 200, page.text
    response = client.post(
        path, data={"password": password, "csrf_token": csrf_of(page)}, follow_redirects=False
    )
    return response.status_code


def _password_works(app_client: TestClient, email: str, password: str) -> bool:
    app_client.cookies.clear()
    token = csrf_of(app_client.get("/login"))
    response = app_client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": token},
        follow_redirects=False,
    )
    return response.status_code == 303


def test_admin_page_reset_link_sets_a_password_once_and_signs_out_elsewhere(
    client: TestClient, admin: Account, staff: Account
) -> None:
    sign_in(client, staff)
    staff_browser = dict(client.cookies)
    client.cookies.clear()
    token = sign_in(client, admin)
    made = client.post(f"/admin/users/{staff.user.id}/password-reset", data={"csrf_token": token})
    assert made.status_code == 200
    assert made.headers["cache-control"] == "no-store"
    assert "Password reset link for Siri Staff" in text_of(made.text)
    path = _link_path(made.text, "reset-link")
    assert path.startswith("/reset/")
    assert path not in client.get("/admin/users").text  # shown once

    client.cookies.clear()  # the user's own (new) browser
    assert _use_reset(client, path) == 303
    assert _signed_in(client)
    # The session opened before the reset is over.
    client.cookies.clear()
    client.cookies.update(staff_browser)
    assert not _signed_in(client)
    # Single use.
    client.cookies.clear()
    again = client.get(path)
    assert again.status_code == 404
    assert "This password reset link is not valid" in text_of(again.text)
    assert not _password_works(client, staff.email, staff.password)
    assert _password_works(client, staff.email, NEW_PASSWORD)


def test_reset_link_refuses_a_short_password_and_stays_usable(
    client: TestClient, admin: Account, staff: Account
) -> None:
    token = sign_in(client, admin)
    made = client.post(f"/admin/users/{staff.user.id}/password-reset", data={"csrf_token": token})
    path = _link_path(made.text, "reset-link")
    client.cookies.clear()
    assert _use_reset(client, path, "short") == 422
    assert _use_reset(client, path) == 303


def test_a_new_reset_link_kills_the_older_one(
    client: TestClient, admin: Account, staff: Account
) -> None:
    token = sign_in(client, admin)
    first = _link_path(
        client.post(
            f"/admin/users/{staff.user.id}/password-reset", data={"csrf_token": token}
        ).text,
        "reset-link",
    )
    second = _link_path(
        client.post(
            f"/admin/users/{staff.user.id}/password-reset", data={"csrf_token": token}
        ).text,
        "reset-link",
    )
    client.cookies.clear()
    assert client.get(first).status_code == 404
    assert client.get(second).status_code == 200


def test_staff_cannot_make_reset_links(
    client: TestClient, api: TestClient, staff: Account, admin: Account
) -> None:
    assert_problem(api.post(f"/api/v1/users/{admin.user.id}/password-reset"), 403, "forbidden")
    del client.headers["Authorization"]
    token = sign_in(client, staff)
    page = client.post(f"/admin/users/{admin.user.id}/password-reset", data={"csrf_token": token})
    assert page.status_code == 403


def test_api_reset_link_expires(
    client: TestClient, db: Database, admin: Account, staff: Account
) -> None:
    response = client.post(
        f"/api/v1/users/{staff.user.id}/password-reset", headers=bearer(admin.token)
    )
    assert response.status_code == 201, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["email"] == staff.email
    path = body["link"].removeprefix("http://testserver")
    assert path.startswith("/reset/")
    assert_problem(
        client.post("/api/v1/users/99999/password-reset", headers=bearer(admin.token)), 404
    )
    with db.engine.begin() as conn:  # a day later
        conn.exec_driver_sql("UPDATE password_reset SET expires_at = created_at")
    assert client.get(path).status_code == 404


def test_cli_prints_a_reset_link(
    client: TestClient, database_url: str, tmp_path: Path, staff: Account
) -> None:
    done = run_cli(
        "users", "reset-password", "--email", staff.email,
        cwd=tmp_path, database_url=database_url, data_dir=tmp_path / "cli",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    link = done.stdout.strip().splitlines()[-1]
    assert "/reset/" in link
    assert staff.email in done.stderr
    path = "/reset/" + link.split("/reset/", 1)[1]
    assert _use_reset(client, path) == 303
    assert _password_works(client, staff.email, NEW_PASSWORD)
    unknown = run_cli(
        "users", "reset-password", "--email", "nobody@example.no",
        cwd=tmp_path, database_url=database_url, data_dir=tmp_path / "cli",
    )  # fmt: skip
    assert unknown.returncode == 2
    assert "no user with the e-mail nobody@example.no" in unknown.stderr


def test_invite_sent_again_gets_a_new_link_and_the_old_one_dies(
    client: TestClient, admin: Account
) -> None:
    token = sign_in(client, admin)
    created = client.post(
        "/admin/invites",
        data={"email": "ola@example.no", "name": "Ola Nordmann", "csrf_token": token},
    )
    old = _link_path(created.text, "invite-link")
    invite_id = re.search(r'id="invite-(\d+)-resend"', created.text)
    assert invite_id, "a pending invite can be sent again"
    again = client.post(f"/admin/invites/{invite_id.group(1)}/resend", data={"csrf_token": token})
    assert again.status_code == 200
    new = _link_path(again.text, "invite-link")
    assert new != old
    # Inviting the same address through the form again replaces the invite as well.
    third = client.post(
        "/admin/invites",
        data={"email": "ola@example.no", "name": "Ola Nordmann", "csrf_token": token},
    )
    newest = _link_path(third.text, "invite-link")
    assert text_of(third.text).count("ola@example.no") >= 1
    pending = re.findall(r'id="invite-(\d+)-resend"', third.text)
    assert len(pending) == 1  # one pending invite per address

    client.cookies.clear()
    assert client.get(old).status_code == 404
    assert client.get(new).status_code == 404
    page = client.get(newest)
    assert page.status_code == 200
    accepted = client.post(
        newest,
        data={"name": "Ola N.", "password": "another long password", "csrf_token": csrf_of(page)},
        follow_redirects=False,
    )
    assert accepted.status_code == 303
    # Once accepted, there is nothing to send again.
    client.cookies.clear()
    token = sign_in(client, admin)
    replaced = client.post(
        f"/admin/invites/{invite_id.group(1)}/resend", data={"csrf_token": token}
    )
    assert replaced.status_code == 404
    late = client.post(f"/admin/invites/{pending[0]}/resend", data={"csrf_token": token})
    assert late.status_code == 409
    assert "ola@example.no has accepted the invite already." in text_of(late.text)


def test_two_simultaneous_uses_of_one_reset_link_count_once(
    client: TestClient, admin: Account, staff: Account
) -> None:
    made = client.post(
        f"/api/v1/users/{staff.user.id}/password-reset", headers=bearer(admin.token)
    ).json()
    path = made["link"].removeprefix("http://testserver")
    csrf = csrf_of(client.get(path))
    start = threading.Barrier(2)

    def use(password: str) -> int:
        start.wait(timeout=30)
        response = client.post(
            path, data={"password": password, "csrf_token": csrf}, follow_redirects=False
        )
        return response.status_code

    with ThreadPoolExecutor(max_workers=2) as pool:
        statuses = sorted(pool.map(use, ["first new password", "second new password"]))
    assert statuses == [303, 404]
    works = [
        _password_works(client, staff.email, p)
        for p in ("first new password", "second new password")
    ]
    assert sorted(works) == [False, True]
