"""Settings from `SAMVIRKE_*` environment variables (and an optional `.env`).

Defaults run the whole product on one laptop: SQLite in `./data`, a secret key generated once
and kept in the data folder, Norwegian bokmål, Europe/Oslo.
"""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

Language = Literal["nb", "en"]
LANGUAGES: tuple[str, ...] = ("nb", "en")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SAMVIRKE_", env_file=".env", extra="ignore")

    data_dir: Path = Path("data")
    database_url: str = ""
    secret_key: str = ""
    base_url: str = "http://127.0.0.1:8000"
    default_language: Language = "nb"
    time_zone: str = "Europe/Oslo"
    session_days: int = Field(default=14, ge=1, le=365)
    invite_days: int = Field(default=7, ge=1, le=90)
    login_rate_limit: str = "10/minute"
    # How long a write may wait for its turn before the writer is told (503) to look and retry.
    write_wait: float = Field(default=30.0, gt=0, le=600)
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
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")

    @property
    def secure_cookies(self) -> bool:
        return self.base_url.startswith("https://")

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    def resolved_secret_key(self) -> str:
        """The configured key, else one generated once and kept in the data folder."""
        if self.secret_key:
            return self.secret_key
        path = self.data_dir / "secret_key"
        if path.exists():
            return path.read_text().strip()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        path.touch(mode=0o600)
        path.write_text(key)
        return key


@lru_cache
def get_settings() -> Settings:
    return Settings()
