"""`samvirke tokens create|list|revoke`, run as a program on both databases."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.db import Database
from tests import factories
from tests.factories import Account
from tests.helpers import bearer
from tests.live.conftest import open_socket
from tests.support.server import run_cli


def rows(listing: str) -> list[list[str]]:
    header, *lines = listing.splitlines()
    assert header.split("\t") == [
        "id", "user", "name", "state", "created", "last used", "expires"
    ]  # fmt: skip
    return [line.split("\t") for line in lines]


def test_create_list_and_revoke(
    database_url: str, client: TestClient, db: Database, staff: Account, tmp_path: Path
) -> None:
    def cli(*args: str) -> str:
        result = run_cli(*args, cwd=tmp_path, database_url=database_url)
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    other = factories.account(db, name="Rolf", email="rolf@example.no")
    made = run_cli(
        "tokens", "create", "--email", staff.email, "--name", "wall screen",
        "--expires-in-days", "30", cwd=tmp_path, database_url=database_url,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert "expires" in made.stderr
    secret = made.stdout.splitlines()[-1]
    assert client.get("/api/v1/incidents", headers=bearer(secret)).status_code == 200

    everything = rows(cli("tokens", "list"))
    assert {r[1] for r in everything} == {staff.email, other.email}
    [new] = [r for r in everything if r[2] == "wall screen"]
    assert new[1] == staff.email and new[3] == "active" and new[6] != "-"
    assert secret not in cli("tokens", "list")
    assert {r[1] for r in rows(cli("tokens", "list", "--email", other.email))} == {other.email}

    incident = factories.incident(db, other)
    with open_socket(client, incident.id, secret, after=0) as socket:
        socket.event()
        revoked = cli("tokens", "revoke", new[0])
        assert f"revoked token {new[0]} (wall screen) of {staff.email}" in revoked
        # From another process: by NOTIFY, or on SQLite through the server's socket (app/bus.py).
        assert socket.close_code(timeout=1.0) == 4401
    assert client.get("/api/v1/incidents", headers=bearer(secret)).status_code == 401
    assert client.get("/api/v1/incidents", headers=bearer(staff.token)).status_code == 200
    [after] = [r for r in rows(cli("tokens", "list", "--email", staff.email)) if r[0] == new[0]]
    assert after[3] == "revoked"


@pytest.mark.parametrize(
    "args",
    [
        ["tokens", "revoke", "999"],
        ["tokens", "list", "--email", "nobody@example.no"],
        ["tokens", "create", "--email", "nobody@example.no"],
        ["tokens", "create", "--email", "x@example.no", "--expires-in-days", "0"],
    ],
)
def test_refusals(database_url: str, tmp_path: Path, args: list[str]) -> None:
    result = run_cli(*args, cwd=tmp_path, database_url=database_url)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
