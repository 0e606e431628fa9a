"""What Samvirke writes to disk is its owner's alone: data folder 0700, database, key and the
server's socket 0600."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app
from app.migrate import upgrade
from tests import factories
from tests.support.server import run_cli


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    """Everything allowed by the umask: the modes must come from the code, not the umask."""
    previous = os.umask(0)
    yield
    os.umask(previous)


def test_the_command_makes_a_private_data_folder(tmp_path: Path) -> None:
    data = tmp_path / "data"
    result = run_cli("users", "list", cwd=tmp_path, data_dir=data)
    assert result.returncode == 0, result.stderr
    assert _mode(data) == 0o700
    assert _mode(data / "samvirke.db") == 0o600


@pytest.mark.usefixtures("open_umask")
def test_database_wal_shm_and_key_are_private(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path / "data", database_url="", secret_key="", base_url="http://testserver"
    )
    upgrade(settings.resolved_database_url)
    app = create_app(settings)  # generates the secret key
    try:
        with TestClient(app):
            db = app.state.db
            staff = factories.account(db, name="Siri Staff", email="siri@example.no")
            factories.incident(db, staff)  # a write, so the -wal and -shm files are there
            data = settings.data_dir
            files = {p.name: _mode(p) for p in data.iterdir()}
            assert files == {
                "samvirke.db": 0o600,
                "samvirke.db-wal": 0o600,
                "samvirke.db-shm": 0o600,
                "samvirke.db.bus": 0o600,  # the server's ear for the CLI's notices (app/bus.py)
                "secret_key": 0o600,
                "signing_key.pem": 0o600,
            }
            assert _mode(data) == 0o700
    finally:
        app.state.db.dispose()


@pytest.mark.usefixtures("open_umask")
def test_a_generated_key_is_private_in_a_new_folder(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "keys", secret_key="")
    key = settings.resolved_secret_key()
    assert _mode(settings.data_dir) == 0o700
    assert _mode(settings.data_dir / "secret_key") == 0o600
    assert settings.resolved_secret_key() == key  # kept, not made again
