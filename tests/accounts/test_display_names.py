"""What a page shows is what was typed: no two active users look alike, no text that reorders
itself (bidirectional controls), through pages, the API and the CLI."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.db import Database
from tests import factories
from tests.factories import Account
from tests.helpers import assert_problem, bearer
from tests.support.server import run_cli
from tests.web.helpers import csrf_of, sign_in, text_of

# Each of these shows as "Siri Staff" to a reader (case, full-width letters, a ligature-free
# compatibility form, a doubled space, a zero-width space).
LOOKALIKES = ["siri staff", "ＳＩＲＩ Staff", "Siri  Staff", "Siri\u200b Staff"]
BIDI = ["\u202e", "\u202a", "\u2066", "\u2067", "\u2068", "\u2069", "\u200e", "\u200f", "\u061c"]


def _invite(client: TestClient, token: str, name: str, email: str = "new@example.no") -> str:
    response = client.post(
        "/admin/invites", data={"email": email, "name": name, "csrf_token": token}
    )
    return f"{response.status_code} {text_of(response.text)}"


@pytest.mark.parametrize("name", LOOKALIKES)
def test_an_invite_may_not_use_an_active_users_name(
    client: TestClient, admin: Account, staff: Account, name: str
) -> None:
    token = sign_in(client, admin)
    answer = _invite(client, token, name)
    assert answer.startswith("409 ")
    assert "Another user is already shown as Siri Staff." in answer


def test_accepting_an_invite_with_a_taken_name_keeps_the_form(
    client: TestClient, admin: Account, staff: Account
) -> None:
    token = sign_in(client, admin)
    created = client.post(
        "/admin/invites", data={"email": "ola@example.no", "name": "Ola", "csrf_token": token}
    )
    link = re.search(r'id="invite-link"[^>]*value="([^"]+)"', created.text)
    assert link
    path = link.group(1).removeprefix("http://testserver")
    client.cookies.clear()
    page = client.get(path)
    taken = client.post(
        path,
        data={
            "name": "ANNE ADMIN",
            "password": "another long password",
            "csrf_token": csrf_of(page),
        },
    )
    assert taken.status_code == 409
    assert "Another user is already shown as Anne Admin." in text_of(taken.text)
    assert 'type="password"' in taken.text  # the form again, the link still usable
    done = client.post(
        path,
        data={"name": "Ola", "password": "another long password", "csrf_token": csrf_of(page)},
        follow_redirects=False,
    )
    assert done.status_code == 303


def test_a_deactivated_users_name_is_free_until_they_come_back(
    client: TestClient, db: Database, admin: Account, staff: Account
) -> None:
    token = sign_in(client, admin)
    client.post(f"/admin/users/{staff.user.id}", data={"active": "0", "csrf_token": token})
    factories.account(db, name="SIRI STAFF", email="siri2@example.no")
    back = client.post(
        f"/admin/users/{staff.user.id}",
        data={"active": "1", "csrf_token": token},
        headers={"HX-Request": "true"},
    )
    assert back.status_code == 409
    assert "Another user is already shown as SIRI STAFF." in text_of(back.text)


def _cli_create(database_url: str, tmp_path: Path, name: str) -> subprocess.CompletedProcess[str]:
    """`samvirke users create` of a new address with this name."""
    return run_cli(
        "users", "create", "--email", "other@example.no", "--name", name,
        cwd=tmp_path, database_url=database_url, data_dir=tmp_path / "cli",
    )  # fmt: skip


def test_cli_refuses_a_taken_name(database_url: str, tmp_path: Path, staff: Account) -> None:
    done = _cli_create(database_url, tmp_path, "SIRI  staff")
    assert done.returncode == 2
    assert "Another user is already shown as Siri Staff." in done.stderr


def test_names_with_bidirectional_controls_are_refused(client: TestClient, admin: Account) -> None:
    token = sign_in(client, admin)
    for mark in BIDI:
        answer = _invite(client, token, f"Ola {mark}nnamdroN")
        assert answer.startswith("422 "), repr(mark)
        assert "must not contain characters that change the text's direction." in answer


def test_cli_refuses_a_name_with_bidirectional_controls(database_url: str, tmp_path: Path) -> None:
    done = _cli_create(database_url, tmp_path, "Ola \u202enamdroN")
    assert done.returncode == 2
    assert "bidirectional control" in done.stderr


def test_log_text_with_bidirectional_controls_is_refused(
    client: TestClient, db: Database, staff: Account
) -> None:
    incident = factories.incident(db, staff)
    token = sign_in(client, staff)
    for mark in BIDI:
        # "Evacuate [RLO]htron sector" would show as "Evacuate rotces north".
        text = f"Evacuate {mark}htron sector"
        response = client.post(
            f"/api/v1/incidents/{incident.id}/log",
            json={"kind": "decision", "text": text},
            headers=bearer(staff.token),
        )
        assert_problem(response, 422, "invalid")
        page = client.post(
            f"/incidents/{incident.id}/log",
            data={
                "kind": "decision",
                "classification": "internal",
                "text": text,
                "csrf_token": token,
            },
        )
        assert page.status_code == 422, repr(mark)
        assert "must not contain characters that change the text's direction." in text_of(page.text)
    entries = client.get(f"/api/v1/incidents/{incident.id}/log", headers=bearer(staff.token))
    assert len(entries.json()["items"]) == 1  # only the opening entry
