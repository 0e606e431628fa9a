"""The `samvirke` command, run as a program: users, tokens, verify, and where the data lives."""

from __future__ import annotations

import sqlite3
import subprocess
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.db import Database
from app.main import create_app
from tests import factories
from tests.factories import Account
from tests.helpers import bearer, cut_the_tail, disable_append_only, raw
from tests.support.server import run_cli


def _query(path: Path, sql: str) -> list[tuple[object, ...]]:
    assert path.exists(), path
    with closing(sqlite3.connect(path)) as conn:
        return list(conn.execute(sql).fetchall())


def _create_user(
    email: str, name: str, *options: str, **where: Any
) -> subprocess.CompletedProcess[str]:
    """`samvirke users create --email EMAIL --name NAME OPTIONS…` (`where`: cwd and database)."""
    return run_cli("users", "create", "--email", email, "--name", name, *options, **where)


def test_users_and_tokens_on_a_fresh_data_folder(tmp_path: Path) -> None:
    data = tmp_path / "fresh" / "data"  # not there yet: the command makes and migrates it
    created = _create_user(
        "Kari@Example.no",
        "Kari Nordmann",
        "--role",
        "admin",
        "--restricted",
        cwd=tmp_path,
        data_dir=data,
    )
    assert created.returncode == 0, created.stderr
    assert "kari@example.no" in created.stdout
    database = data / "samvirke.db"
    assert database.exists()

    listed = run_cli("users", "list", cwd=tmp_path, data_dir=data)
    assert listed.returncode == 0, listed.stderr
    [line] = listed.stdout.splitlines()
    assert line.split("\t")[1:] == ["kari@example.no", "Kari Nordmann", "admin restricted"]

    token = run_cli("tokens", "create", "--email", "kari@example.no", cwd=tmp_path, data_dir=data)
    assert token.returncode == 0, token.stderr
    raw_token = token.stdout.splitlines()[-1]
    assert raw_token == raw_token.strip() and " " not in raw_token and len(raw_token) >= 32

    # The token works against the app built on the same database.
    app = create_app(Settings(data_dir=data, secret_key="cli-test", base_url="http://testserver"))
    try:
        with TestClient(app) as client:
            assert client.get("/api/v1/incidents", headers=bearer("smv_wrong")).status_code == 401
            opened = client.post(
                "/api/v1/incidents", json={"title": "Flom"}, headers=bearer(raw_token)
            )
            assert opened.status_code == 201, opened.text
            assert opened.json()["opened_by"] == "Kari Nordmann"
            response = client.post(
                f"/api/v1/incidents/{opened.json()['id']}/log",
                json={"kind": "decision", "text": "Secret", "classification": "restricted"},
                headers=bearer(raw_token),
            )
            assert response.status_code == 201, response.text  # --restricted took effect
    finally:
        app.state.db.dispose()


def test_users_create_refuses_bad_input(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = _create_user("ola@example.no", "Ola", cwd=tmp_path, data_dir=data)
    assert first.returncode == 0, first.stderr

    refusals = {
        "already exists": ("OLA@example.no", "Ola Again"),
        "boss": ("per@example.no", "Per", "--role", "boss"),
    }
    for said, args in refusals.items():
        refused = _create_user(*args, cwd=tmp_path, data_dir=data)
        assert refused.returncode != 0, said
        assert said in refused.stderr
        assert "Traceback" not in refused.stderr

    no_user = run_cli(
        "tokens", "create", "--email", "nobody@example.no", cwd=tmp_path, data_dir=data
    )
    assert no_user.returncode != 0
    assert "nobody@example.no" in no_user.stderr
    assert no_user.stdout.strip() == ""  # nothing a script could mistake for a token

    assert _query(data / "samvirke.db", "SELECT email, name FROM user_account") == [
        ("ola@example.no", "Ola")
    ]


def test_database_url_wins_over_data_dir(tmp_path: Path) -> None:
    ignored = tmp_path / "ignored"
    chosen = tmp_path / "chosen.db"
    created = _create_user(
        "eva@example.no", "Eva", cwd=tmp_path, database_url=f"sqlite:///{chosen}", data_dir=ignored
    )
    assert created.returncode == 0, created.stderr
    assert not ignored.exists()
    assert _query(chosen, "SELECT email FROM user_account") == [("eva@example.no",)]


def test_verify_exit_codes(database_url: str, db: Database, staff: Account, tmp_path: Path) -> None:
    """On both databases, given by URL (with a data folder that must be left alone)."""
    good = factories.incident(db, staff, title="Good")
    bad = factories.incident(db, staff, title="Bad")
    for incident in (good, bad):
        factories.entry(db, staff, incident, kind="decision", text="Evacuate.")
        factories.entry(db, staff, incident, text="Done.")
    unused = tmp_path / "unused"

    ok = run_cli("verify", cwd=tmp_path, database_url=database_url, data_dir=unused)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert f"incident {good.id}: ok" in ok.stdout
    assert f"incident {bad.id}: ok" in ok.stdout

    disable_append_only(db)
    raw(
        db,
        "UPDATE log_entry SET text = 'Stay put.' WHERE incident_id = :i AND number = 2",
        i=bad.id,
    )

    one_bad = run_cli("verify", "--incident", str(bad.id), cwd=tmp_path, database_url=database_url)
    assert one_bad.returncode == 1, one_bad.stdout + one_bad.stderr
    assert "BROKEN" in one_bad.stdout
    assert "#2" in one_bad.stdout
    every = run_cli("verify", cwd=tmp_path, database_url=database_url)
    assert every.returncode == 1
    assert f"incident {good.id}: ok" in every.stdout  # still checks and reports the rest
    missing = run_cli("verify", "--incident", "999", cwd=tmp_path, database_url=database_url)
    assert missing.returncode not in (0, 1)  # not "broken": there is nothing to check
    assert "999" in missing.stderr
    assert "Traceback" not in missing.stderr
    assert not unused.exists()


def test_verify_catches_a_removed_tail(
    database_url: str, db: Database, staff: Account, tmp_path: Path
) -> None:
    """Issue 9: a REPLACE and an UPDATE of the counters left a shorter, valid chain, and
    `samvirke verify` said ok; the log.appended event of the removed entry gives it away."""
    incident = factories.incident(db, staff)
    factories.entry(db, staff, incident, kind="decision", text="Evacuate.")
    factories.entry(db, staff, incident, text="Stay put.")
    assert incident.id is not None
    cut_the_tail(db, incident.id)
    result = run_cli("verify", cwd=tmp_path, database_url=database_url)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"incident {incident.id}: BROKEN (2 entries" in result.stdout
    assert "#3: missing, though event" in result.stdout


def test_grants_are_for_postgresql(tmp_path: Path) -> None:
    result = run_cli("grants", cwd=tmp_path, data_dir=tmp_path / "data")
    assert result.returncode == 2
    assert "PostgreSQL" in result.stderr


@pytest.mark.parametrize("command", [["verify"], ["users", "list"]])
def test_every_command_migrates_by_itself(tmp_path: Path, command: list[str]) -> None:
    """users create and tokens create are shown to do so above; migrate is its whole job."""
    data = tmp_path / "data"
    result = run_cli(*command, cwd=tmp_path, data_dir=data)
    assert result.returncode == 0, result.stderr
    schema = _query(data / "samvirke.db", "SELECT type, name FROM sqlite_master")
    tables = {name for kind, name in schema if kind == "table"}
    triggers = {name for kind, name in schema if kind == "trigger"}
    assert {"alembic_version", "user_account", "incident", "log_entry", "event"} <= tables
    assert {"log_entry_no_update", "log_entry_no_delete"} <= triggers
