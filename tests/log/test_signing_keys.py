"""The signing key: where it comes from, its file modes, `samvirke keys show`, the verifier's key."""

from __future__ import annotations

import base64
import hashlib
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from app.config import Settings
from app.db import Database
from app.log.signing import KEY_FILE_NAME, SigningKeyError
from app.main import create_app
from tests.helpers import open_incident
from tests.log.offline import verify_export, verify_log
from tests.log.test_checkpoints import checkpoints
from tests.support.server import run_cli

PHASE = {"phase": "response"}


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _settings(tmp_path: Path, **fields: object) -> Settings:
    return Settings(
        database_url=f"sqlite:///{tmp_path / 'samvirke.db'}",
        secret_key="test-secret-key-not-for-production",
        base_url="http://testserver",
        **fields,  # type: ignore[arg-type]
    )


def test_generated_on_first_start_with_private_modes(tmp_path: Path) -> None:
    data = tmp_path / "fresh" / "data"
    app = create_app(_settings(tmp_path, data_dir=data))
    try:
        key = data / KEY_FILE_NAME
        assert _mode(key) == 0o600
        assert _mode(data) == 0o700
        first = app.state.db.signer.fingerprint
    finally:
        app.state.db.dispose()
    again = create_app(_settings(tmp_path, data_dir=data))  # the same key on the next start
    try:
        assert again.state.db.signer.fingerprint == first
        assert [p.name for p in data.iterdir()] == [KEY_FILE_NAME]  # no temporary file left
    finally:
        again.state.db.dispose()


def test_a_configured_key_file_is_used(tmp_path: Path) -> None:
    private = Ed25519PrivateKey.generate()
    path = tmp_path / "operator.pem"
    path.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    data = tmp_path / "data"
    app = create_app(_settings(tmp_path, data_dir=data, signing_key_file=path))
    try:
        raw = private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        assert app.state.db.signer.fingerprint == hashlib.sha256(raw).hexdigest()
        assert not (data / KEY_FILE_NAME).exists()
    finally:
        app.state.db.dispose()
    with pytest.raises(SigningKeyError, match="cannot read"):
        create_app(_settings(tmp_path, data_dir=data, signing_key_file=tmp_path / "missing.pem"))
    (tmp_path / "not-a-key.pem").write_text("hello")
    with pytest.raises(SigningKeyError, match="not an unencrypted PEM private key"):
        create_app(_settings(tmp_path, data_dir=data, signing_key_file=tmp_path / "not-a-key.pem"))


@pytest.mark.parametrize("form", ["pem", "base64"])
def test_keys_show_prints_what_the_verifier_accepts(
    api: TestClient, db: Database, settings: Settings, tmp_path: Path, form: str
) -> None:
    incident_id = open_incident(api)["id"]
    assert api.patch(f"/api/v1/incidents/{incident_id}", json=PHASE).status_code == 200
    assert len(checkpoints(api, incident_id)) == 1

    args = ["keys", "show"] + (["--base64"] if form == "base64" else [])
    shown = run_cli(*args, cwd=tmp_path, data_dir=settings.data_dir)
    assert shown.returncode == 0, shown.stderr
    signer = db.signer
    assert signer is not None
    raw = signer.public_raw
    assert f"# fingerprint (SHA-256 of the raw key): {hashlib.sha256(raw).hexdigest()}\n" in (
        shown.stdout
    )
    if form == "pem":
        assert shown.stdout.endswith(signer.public_pem)
        assert "-----BEGIN PUBLIC KEY-----" in shown.stdout
    else:
        assert shown.stdout.splitlines()[-1] == base64.b64encode(raw).decode()
    assert "PRIVATE" not in shown.stdout

    export = api.get(f"/api/v1/incidents/{incident_id}/log/export").text
    result = verify_export(export, tmp_path, public_key=shown.stdout)  # as noted in the minutes
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 checkpoints signed by the given key" in result.stdout


def test_the_verifier_says_when_cryptography_is_missing(tmp_path: Path) -> None:
    """--public-key needs `cryptography`; without it the script says so (exit 2)."""
    blocker = tmp_path / "blocked" / "cryptography"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('not installed here')\n")
    export = tmp_path / "export.jsonl"
    export.write_text("")
    key = tmp_path / "server.pub"
    key.write_text("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n")
    result = verify_log(
        str(export), "--public-key", str(key), env={"PYTHONPATH": str(blocker.parent)}
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "needs the Python package `cryptography`" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_cli_makes_the_data_folder_private(tmp_path: Path) -> None:
    data = tmp_path / "fresh" / "data"
    assert run_cli("migrate", cwd=tmp_path, data_dir=data).returncode == 0
    assert _mode(data) == 0o700
    assert not (data / KEY_FILE_NAME).exists()  # made by the server's start or keys show
    assert run_cli("keys", "show", cwd=tmp_path, data_dir=data).returncode == 0
    assert _mode(data / KEY_FILE_NAME) == 0o600
