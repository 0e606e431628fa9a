"""The server's signing key: Ed25519, kept outside the database (docs/security/checkpoints.md).

The key signs checkpoints of the decision logs (app/log/checkpoints.py). Whoever can change
the database but cannot read this file cannot make a checkpoint, so a rebuilt chain is caught.

Where it lives: `SAMVIRKE_SIGNING_KEY_FILE` (an unencrypted PKCS#8 PEM file the operator
provides), else `signing_key.pem` in the data folder, generated on first start with mode 0600
(the folder 0700 when we create it). Generation is atomic: the key is written to a private
temporary file and linked into place, so two processes starting at once end up with one key.

The public key's fingerprint is the SHA-256 of its 32 raw bytes, in hex: what goes into the
minutes, what every checkpoint names, and what `samvirke keys show` prints.
"""

from __future__ import annotations

import base64
import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

KEY_FILE_NAME = "signing_key.pem"


class SigningKeyError(Exception):
    """The configured key file is missing, unreadable or not an Ed25519 private key."""


def fingerprint(public_raw: bytes) -> str:
    return hashlib.sha256(public_raw).hexdigest()


@dataclass(frozen=True)
class Signer:
    """The private key, and what may be told about it."""

    private: Ed25519PrivateKey
    path: Path

    @property
    def public_raw(self) -> bytes:
        return self.private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.public_raw)

    @property
    def public_pem(self) -> str:
        return (
            self.private.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )

    @property
    def public_base64(self) -> str:
        return base64.b64encode(self.public_raw).decode()

    def sign(self, message: bytes) -> str:
        """The signature of `message`, in standard base64 (88 characters)."""
        return base64.b64encode(self.private.sign(message)).decode()

    def verify(self, message: bytes, signature: str) -> bool:
        return verify(self.public_raw, message, signature)


def verify(public_raw: bytes, message: bytes, signature: str) -> bool:
    try:
        raw = base64.b64decode(signature, validate=True)
        Ed25519PublicKey.from_public_bytes(public_raw).verify(raw, message)
    except (InvalidSignature, ValueError):
        return False
    return True


def load_signer(*, key_file: Path | None, data_dir: Path) -> Signer:
    """The configured key, else the data folder's, generated there on first use."""
    if key_file is not None:
        return _read(key_file)
    path = data_dir / KEY_FILE_NAME
    if not path.exists():
        _generate(path)
    return _read(path)


def find_signer(*, key_file: Path | None, data_dir: Path) -> Signer | None:
    """The key if there is one, for checking: a new key would only make every checkpoint fail."""
    if key_file is None and not (data_dir / KEY_FILE_NAME).exists():
        return None
    return load_signer(key_file=key_file, data_dir=data_dir)


def _read(path: Path) -> Signer:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SigningKeyError(f"cannot read the signing key {path}: {exc.strerror}") from exc
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise SigningKeyError(f"{path} is not an unencrypted PEM private key") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError(f"{path} holds a {type(key).__name__}, not an Ed25519 key")
    return Signer(private=key, path=path)


def _generate(path: Path) -> None:
    if not path.parent.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    # mkstemp creates the file with mode 0600; link() refuses to replace a key that another
    # process put there first, and then that one is used.
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".signing_key.")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(pem)
            out.flush()
            os.fsync(out.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass
    finally:
        os.unlink(temporary)
