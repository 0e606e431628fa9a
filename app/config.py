"""Settings from `SAMVIRKE_*` environment variables (and an optional `.env`).

Defaults run the whole product on one laptop: SQLite in `./data`, a secret key generated once
and kept in the data folder, Norwegian bokmål, Europe/Oslo.
"""

from __future__ import annotations

import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.db import WRITE_WAIT
from app.log.signing import Signer, find_signer, load_signer

Language = Literal["nb", "en"]
LANGUAGES: tuple[str, ...] = ("nb", "en")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SAMVIRKE_", env_file=".env", extra="ignore")

    data_dir: Path = Path("data")
    database_url: str = ""
    # PostgreSQL: migrations run as this role, which owns the tables; the server connects with
    # database_url as a role that owns nothing and gets only its rights (docs/security/guards.md).
    migration_database_url: str = ""
    secret_key: str = ""
    base_url: str = "http://127.0.0.1:8000"
    default_language: Language = "nb"
    time_zone: str = "Europe/Oslo"
    session_days: int = Field(default=14, ge=1, le=365)
    invite_days: int = Field(default=7, ge=1, le=90)
    login_rate_limit: str = "10/minute"
    # Accounts (docs/security/accounts.md). Proxies whose X-Forwarded-For/-Proto are believed:
    # comma-separated addresses or networks; none by default, so no client can pick its address.
    trusted_proxies: str = ""
    # How long an administrator's password reset link works.
    password_reset_hours: int = Field(default=24, ge=1, le=168)
    # How long a write may wait for its turn before the writer is told (503) to look and retry.
    write_wait: float = Field(default=WRITE_WAIT, gt=0, le=600)
    # The Ed25519 key that signs the logs' checkpoints (PEM, PKCS#8, unencrypted); unset: one
    # generated once into the data folder (docs/security/checkpoints.md).
    signing_key_file: Path | None = None
    # The largest request body (JSON or form) read at all: refused with 413 while it arrives.
    max_body_bytes: int = Field(default=1_048_576, ge=16_384, le=1_073_741_824)

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        ZoneInfo(value)  # raises for an unknown zone: fail at start, not at first render
        return value

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'samvirke.db').resolve()}"

    @property
    def resolved_migration_url(self) -> str:
        return self.migration_database_url or self.resolved_database_url

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")

    @property
    def secure_cookies(self) -> bool:
        return self.base_url.startswith("https://")

    def link(self, path: str) -> str:
        """The public address of `path` ("/reset/…"), for links shown or printed to people."""
        return self.base_url.rstrip("/") + path

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    def signer(self) -> Signer:
        """The signing key: the configured file, else the data folder's (made on first use)."""
        return load_signer(key_file=self.signing_key_file, data_dir=self.data_dir)

    def existing_signer(self) -> Signer | None:
        """The signing key if there is one yet (to check checkpoints, never to make one)."""
        return find_signer(key_file=self.signing_key_file, data_dir=self.data_dir)

    def resolved_secret_key(self) -> str:
        """The configured key, else one generated once and kept in the data folder."""
        if self.secret_key:
            return self.secret_key
        path = self.data_dir / "secret_key"
        if path.exists():
            return path.read_text().strip()
        key = secrets.token_urlsafe(48)
        write_private_file(path, key.encode())
        return key


def write_private_file(path: Path, content: bytes) -> None:
    """Write a new file that only its owner may read (0600; a umask can only take away), in a
    data folder made 0700 if it is not there yet. Refuses to overwrite an existing file."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(content)


@lru_cache
def get_settings() -> Settings:
    return Settings()
