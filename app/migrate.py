"""Bring a database to the newest schema. Every entry point calls this before it starts."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, make_url, pool

from app.config import Settings
from app.db import create_sqlite_file, normalise_url
from app.roles import grant_serving_rights

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["url"] = normalise_url(url)
    return config


def upgrade(url: str) -> None:
    create_sqlite_file(url)
    command.upgrade(alembic_config(url), "head")


def upgrade_for(settings: Settings) -> None:
    """Migrate with the settings' migration URL (the owner role), then, when the server connects
    as another role, give that role its rights on the schema as it now is (app.roles)."""
    owner_url = settings.resolved_migration_url
    upgrade(owner_url)
    serving = make_url(normalise_url(settings.resolved_database_url))
    owner = make_url(normalise_url(owner_url))
    if settings.is_sqlite or not serving.username or serving.username == owner.username:
        return
    engine = create_engine(owner, poolclass=pool.NullPool)
    try:
        with engine.begin() as connection:
            grant_serving_rights(connection, serving.username)
    finally:
        engine.dispose()
