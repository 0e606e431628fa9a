"""`samvirke verify --seal`: logs written before checkpoints existed get their head signed once,
by an operator's choice, and only if they verify in every other respect."""

from __future__ import annotations

from pathlib import Path

from app.db import Database
from tests import factories
from tests.helpers import disable_append_only, raw
from tests.support.server import run_cli as samvirke


def _unsigned_logs(database_url: str) -> tuple[int, int]:
    """As a database upgraded from before migration 0004 holds them: a long open log and a
    closed one, written by a server that had no key (so nothing is signed)."""
    db = Database(database_url, signer=None)
    try:
        anne = factories.account(db, name="Anne Admin", email="anne@example.no", role="admin")
        long_one = factories.incident(db, anne, title="Storm Ingunn")
        for number in range(55):
            factories.entry(db, anne, long_one, text=f"Update {number}")
        closed_one = factories.incident(db, anne, title="Water main burst")
        factories.entry(db, anne, closed_one, kind="decision", text="Boil water notice")
        factories.change(db, anne, closed_one, phase="closed")
        assert long_one.id is not None and closed_one.id is not None
        return long_one.id, closed_one.id
    finally:
        db.dispose()


def test_seal_signs_whole_unsigned_logs_once(database_url: str, tmp_path: Path) -> None:
    long_one, closed_one = _unsigned_logs(database_url)
    data = tmp_path / "data"

    before = samvirke("verify", cwd=tmp_path, database_url=database_url, data_dir=data)
    assert before.returncode == 1, before.stdout + before.stderr
    assert "entries after the last checkpoint" in before.stdout
    assert "closed, but the last checkpoint (#0) is not the last entry" in before.stdout

    sealed = samvirke("verify", "--seal", cwd=tmp_path, database_url=database_url, data_dir=data)
    assert sealed.returncode == 0, sealed.stdout + sealed.stderr
    assert f"incident {long_one}: sealed, head #56 signed" in sealed.stdout
    assert f"incident {closed_one}: sealed, head #" in sealed.stdout
    assert sealed.stdout.count(": ok (") == 2

    again = samvirke("verify", "--seal", cwd=tmp_path, database_url=database_url, data_dir=data)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "sealed" not in again.stdout  # nothing left to sign: no second checkpoint
    checked = samvirke("verify", cwd=tmp_path, database_url=database_url, data_dir=data)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_seal_refuses_a_log_that_does_not_verify(database_url: str, tmp_path: Path) -> None:
    long_one, closed_one = _unsigned_logs(database_url)
    data = tmp_path / "data"
    db = Database(database_url)
    try:
        disable_append_only(db)
        raw(
            db,
            "UPDATE log_entry SET text = 'Nothing happened' WHERE incident_id = :i AND number = 3",
            i=long_one,
        )
    finally:
        db.dispose()

    sealed = samvirke("verify", "--seal", cwd=tmp_path, database_url=database_url, data_dir=data)
    assert sealed.returncode == 1, sealed.stdout + sealed.stderr
    assert f"incident {long_one}: not sealed, the log does not verify" in sealed.stdout
    assert "#3: content does not match its digest" in sealed.stdout
    assert f"incident {closed_one}: sealed" in sealed.stdout  # the whole log is still sealed
    assert f"incident {closed_one}: ok" in sealed.stdout
