"""Inputs that used to end in a 500 on pages, each now a clear 4xx on SQLite and PostgreSQL.

Ids beyond 2^31 in page URLs, a CSRF token that is not ASCII, a NUL byte or invalid UTF-8 in a
form, a form body over the size limit, and two people accepting one invite at the same time.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from app.accounts import service as accounts
from app.accounts.models import Role, UserCreate
from app.db import Database
from tests import factories
from tests.factories import Account
from tests.web.helpers import csrf_of, sign_in, text_of

BIG_IDS = [2**31, 2**63, 10**30]
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.mark.parametrize("big", BIG_IDS)
def test_ids_beyond_the_database_integer_are_not_found(
    client: TestClient, staff: Account, big: int
) -> None:
    token = sign_in(client, staff)
    for path in (f"/incidents/{big}", f"/incidents/{big}/print"):
        response = client.get(path)
        assert response.status_code == 404, (path, response.text[:300])
        assert "does not exist" in text_of(response.text)
    for path, data in (
        (f"/incidents/{big}/log", {"kind": "information", "text": "x"}),
        (f"/incidents/{big}/level", {"level": "red"}),
        (f"/incidents/{big}/phase", {"phase": "response"}),
    ):
        response = client.post(path, data={**data, "csrf_token": token}, follow_redirects=False)
        assert response.status_code == 404, (path, response.text[:300])


@pytest.mark.parametrize("big", BIG_IDS)
def test_a_user_id_beyond_the_database_integer_is_not_found(
    client: TestClient, admin: Account, big: int
) -> None:
    token = sign_in(client, admin)
    response = client.post(f"/admin/users/{big}", data={"active": "0", "csrf_token": token})
    assert response.status_code == 404
    assert "does not exist" in text_of(response.text)


def test_a_csrf_token_that_is_not_ascii_is_refused(client: TestClient, staff: Account) -> None:
    sign_in(client, staff)
    as_field = client.post("/logout", data={"csrf_token": "æøå"}, follow_redirects=False)
    assert as_field.status_code == 403
    assert "This form has expired" in text_of(as_field.text)
    as_header = client.post(
        "/logout", headers={b"X-CSRF-Token": "æøå".encode()}, follow_redirects=False
    )
    assert as_header.status_code == 403
    assert client.get("/", follow_redirects=False).status_code == 200  # still signed in


def test_a_nul_byte_in_the_login_email_is_refused(client: TestClient, staff: Account) -> None:
    token = csrf_of(client.get("/login"))
    for email in ("siri\x00@example.no", staff.email + "\x00"):
        response = client.post(
            "/login",
            data={"email": email, "password": staff.password, "csrf_token": token},
            follow_redirects=False,
        )
        assert response.status_code == 400, response.text[:300]
        assert "NUL" in text_of(response.text)
    assert client.get("/", follow_redirects=False).status_code == 303  # not signed in


def _post_raw(client: TestClient, path: str, body: bytes) -> tuple[int, str]:
    response = client.post(path, content=body, headers=FORM, follow_redirects=False)
    return response.status_code, text_of(response.text)


@pytest.mark.parametrize(
    "title",
    [
        b"%FF%FEStorm",  # not UTF-8 at all
        b"Storm%C3",  # cut in the middle of "\xc3\xb8"
        b"Storm%00Ingunn",  # NUL, which PostgreSQL refuses
        "Storm Ø".encode(),  # raw bytes, not percent-encoded: would be stored as "Ã\x98"
    ],
)
def test_a_form_that_is_not_utf8_text_is_refused_and_nothing_is_stored(
    client: TestClient, staff: Account, title: bytes
) -> None:
    token = sign_in(client, staff)
    body = b"title=" + title + b"&level=red&csrf_token=" + token.encode()
    status, text = _post_raw(client, "/incidents", body)
    assert status == 400, text[:300]
    assert "not sent as UTF-8 text" in text
    assert "Storm" not in text_of(client.get("/").text)


def test_a_form_in_proper_utf8_is_stored_as_typed(client: TestClient, staff: Account) -> None:
    token = sign_in(client, staff)
    body = f"title={quote('Flom i Ålesund ø')}&level=red&csrf_token={token}".encode()
    status, _ = _post_raw(client, "/incidents", body)
    assert status == 303
    assert "Flom i Ålesund ø" in text_of(client.get("/").text)


def test_a_multipart_form_is_refused(client: TestClient, staff: Account) -> None:
    token = sign_in(client, staff)
    response = client.post(
        "/incidents", files={"title": (None, "Storm")}, data={"csrf_token": token}
    )
    assert response.status_code == 415
    assert "application/x-www-form-urlencoded" in text_of(response.text)


def _big_form(token: str, size: int) -> bytes:
    return f"csrf_token={token}&kind=information&text=".encode() + b"x" * size


def test_a_form_over_the_size_limit_is_413(client: TestClient, staff: Account) -> None:
    token = sign_in(client, staff)
    incident = factories.incident(client.app.state.db, staff)  # type: ignore[attr-defined]
    path = f"/incidents/{incident.id}/log"
    declared = client.post(path, content=_big_form(token, 1_100_000), headers=FORM)
    assert declared.status_code == 413
    assert "The request is too large." in text_of(declared.text)

    def streamed() -> Iterator[bytes]:
        body = _big_form(token, 1_100_000)
        for start in range(0, len(body), 65_536):
            yield body[start : start + 65_536]

    chunked = client.post(path, content=streamed(), headers={**FORM, "HX-Request": "true"})
    assert chunked.status_code == 413
    assert chunked.headers["HX-Retarget"] == "#flash"  # htmx shows it in the page's flash
    assert "The request is too large." in text_of(chunked.text)


def _invite(db: Database, admin: Account) -> str:
    _, raw = accounts.invite_user(
        db,
        actor=admin.user,
        data=UserCreate(email="ola@example.no", name="Ola", role=Role.staff),
        days=7,
    )
    return raw


ACCEPTORS = 6


def test_two_people_accepting_one_invite_at_once_make_one_user(
    client: TestClient, db: Database, admin: Account
) -> None:
    raw = _invite(db, admin)
    page = client.get(f"/invite/{raw}")
    token = csrf_of(page)
    start = threading.Barrier(ACCEPTORS)
    statuses: list[int] = []

    def accept(n: int) -> None:
        start.wait()
        response = client.post(
            f"/invite/{raw}",
            data={"name": f"Ola {n}", "password": "a long enough password", "csrf_token": token},
            follow_redirects=False,
        )
        statuses.append(response.status_code)

    threads = [threading.Thread(target=accept, args=(n,)) for n in range(ACCEPTORS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(statuses) == [303] + [404] * (ACCEPTORS - 1), statuses
    with db.read_session() as session:
        assert accounts.get_user_by_email(session, "ola@example.no") is not None
        assert len(accounts.list_users(session)) == 2  # the administrator and Ola
