"""PostgreSQL with two roles: migrations as the owner, the server as a role that owns nothing.

The owner could switch the append-only triggers off; the serving role must not be able to,
and the app must still work through it. Each run makes its own roles and database.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app
from tests import factories
from tests.conftest import skip_or_fail
from tests.helpers import all_entries, bearer, check_chain, log
from tests.support import postgres
from tests.support.server import run_cli
from tests.web.helpers import sign_in

pytestmark = pytest.mark.postgres


@dataclass(frozen=True)
class TwoRoles:
    owner_url: str
    serving_url: str


def _as(url: str, role: str) -> str:
    """The URL with another user: scheme://role@host:port/db."""
    scheme, rest = url.split("://", 1)
    return f"{scheme}://{role}@{rest.split('@', 1)[-1]}"


@pytest.fixture(scope="module")
def roles(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TwoRoles]:
    """A new database owned by a new owner role, migrated by `samvirke migrate` as that role."""
    try:
        postgres.execute("SELECT 1")
    except psycopg.OperationalError as exc:
        skip_or_fail(f"PostgreSQL not reachable: {exc}")
    tag = uuid.uuid4().hex[:10]
    owner, serving, name = f"samvirke_owner_{tag}", f"samvirke_app_{tag}", f"samvirke_roles_{tag}"
    postgres.execute(f"CREATE ROLE {owner} LOGIN")
    postgres.execute(f"CREATE ROLE {serving} LOGIN")
    try:
        postgres.execute(f"CREATE DATABASE {name} OWNER {owner}")
        postgres.execute(f"REVOKE ALL ON DATABASE {name} FROM PUBLIC")
        postgres.execute(f"GRANT CONNECT ON DATABASE {name} TO {serving}")
        url = postgres.url_of(name)
        two = TwoRoles(owner_url=_as(url, owner), serving_url=_as(url, serving))
        cwd = tmp_path_factory.mktemp("roles")
        migrated = run_cli(
            "migrate", cwd=cwd, database_url=two.serving_url, migration_url=two.owner_url
        )
        assert migrated.returncode == 0, migrated.stderr
        yield two
    finally:
        postgres.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        postgres.execute(f"DROP ROLE IF EXISTS {serving}")
        postgres.execute(f"DROP ROLE IF EXISTS {owner}")


@pytest.fixture(scope="module")
def incident_id(roles: TwoRoles, tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """An incident with a few entries, written by the app connected as the serving role."""
    settings = Settings(
        database_url=roles.serving_url,
        data_dir=tmp_path_factory.mktemp("data"),
        secret_key="test-secret-key-not-for-production",
        base_url="http://testserver",
    )
    app = create_app(settings)
    try:
        with TestClient(app) as client:
            staff = factories.account(app.state.db, name="Siri Staff", email="siri@example.no")
            client.headers.update(bearer(staff.token))
            response = client.post("/api/v1/incidents", json={"title": "Flom"})
            assert response.status_code == 201, response.text
            number = response.json()["id"]
            log(client, number, kind="decision", text="Evacuate Nordbyen.")
            log(client, number, text="Buses ordered.")
            changed = client.patch(f"/api/v1/incidents/{number}", json={"level": "red"})
            assert changed.status_code == 200, changed.text
            entries = all_entries(client, number)
            assert [e["number"] for e in entries] == [1, 2, 3, 4]
            check_chain(entries)
            verified = client.get(f"/api/v1/incidents/{number}/log/verify").json()
            assert verified["ok"] is True, verified
            # The pages too: a session is written on sign-in and removed on sign-out.
            del client.headers["Authorization"]
            csrf = sign_in(client, staff)
            page = client.get(f"/incidents/{number}")
            assert page.status_code == 200
            assert "Evacuate Nordbyen." in page.text
            signed_out = client.post(
                "/logout-everywhere", data={"csrf_token": csrf}, follow_redirects=False
            )
            assert signed_out.status_code == 303, signed_out.text
            yield number
    finally:
        app.state.db.dispose()


def test_the_app_works_as_the_serving_role(
    roles: TwoRoles, incident_id: int, tmp_path: Path
) -> None:
    # Appends, a level change, reads, pages and verify above; the command line too, with the
    # serving URL alone.
    result = run_cli("verify", cwd=tmp_path, database_url=roles.serving_url)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"incident {incident_id}: ok (4 entries" in result.stdout


@pytest.mark.parametrize(
    "sql",
    [
        "ALTER TABLE log_entry DISABLE TRIGGER USER",
        "ALTER TABLE log_entry DISABLE TRIGGER log_entry_append_only",
        "ALTER TABLE event DISABLE TRIGGER ALL",
        "ALTER TABLE incident DISABLE TRIGGER incident_counters",
        "DROP TRIGGER log_entry_append_only ON log_entry",
        "DROP TRIGGER incident_counters ON incident",
        (
            "CREATE OR REPLACE FUNCTION samvirke_append_only() RETURNS trigger"
            " LANGUAGE plpgsql AS $$ BEGIN RETURN OLD; END $$"
        ),
        (
            "CREATE OR REPLACE FUNCTION samvirke_incident_counters() RETURNS trigger"
            " LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$"
        ),
        "DROP FUNCTION samvirke_append_only() CASCADE",
        "ALTER FUNCTION samvirke_append_only() OWNER TO CURRENT_USER",
        (
            "CREATE TRIGGER sneak BEFORE INSERT ON log_entry"
            " FOR EACH ROW EXECUTE FUNCTION samvirke_append_only()"
        ),
        "TRUNCATE log_entry",
        "TRUNCATE event",
        "TRUNCATE incident CASCADE",
        "DELETE FROM log_entry WHERE number = 3",
        "UPDATE log_entry SET text = 'forged' WHERE number = 2",
        "DELETE FROM event",
        "UPDATE event SET type = 'x'",
        "DELETE FROM incident",
        "UPDATE incident SET opened_at = opened_at - INTERVAL '1 day'",
        "UPDATE incident SET log_count = 2",
        "DROP TABLE log_entry CASCADE",
        "ALTER TABLE log_entry RENAME TO log_entry_old",
        "ALTER TABLE log_entry OWNER TO CURRENT_USER",
        "CREATE TABLE shadow (id int)",
        "SET session_replication_role = replica",
        "UPDATE alembic_version SET version_num = '0001'",
        "GRANT DELETE ON log_entry TO CURRENT_USER; DELETE FROM log_entry",  # grants nothing
    ],
)
def test_the_serving_role_cannot_get_around_the_guards(
    roles: TwoRoles, incident_id: int, sql: str
) -> None:
    with psycopg.connect(roles.serving_url, connect_timeout=3) as conn:
        with pytest.raises(psycopg.Error):
            conn.execute(sql)
        conn.rollback()
        counts = conn.execute(
            "SELECT (SELECT count(*) FROM log_entry), (SELECT count(*) FROM event),"
            " (SELECT log_count FROM incident WHERE id = %s),"
            " (SELECT event_seq FROM incident WHERE id = %s)",
            (incident_id, incident_id),
        ).fetchone()
    assert counts == (4, 6, 4, 6)


def test_the_owner_could(roles: TwoRoles, incident_id: int) -> None:
    """Why the split matters: the owner may switch a trigger off (and on again, here)."""
    with psycopg.connect(roles.owner_url, connect_timeout=3) as conn:
        conn.execute("ALTER TABLE log_entry DISABLE TRIGGER USER")
        conn.rollback()


def test_grants_prints_the_serving_rights(roles: TwoRoles, tmp_path: Path) -> None:
    result = run_cli(
        "grants", cwd=tmp_path, database_url=roles.serving_url, migration_url=roles.owner_url
    )
    assert result.returncode == 0, result.stderr
    serving = roles.serving_url.split("://", 1)[1].split("@", 1)[0]
    lines = result.stdout.splitlines()
    assert f"GRANT SELECT, INSERT ON public.log_entry TO {serving};" in lines
    assert f"GRANT SELECT, INSERT ON public.event TO {serving};" in lines
    assert f"GRANT SELECT ON public.alembic_version TO {serving};" in lines
    assert not any("TRUNCATE" in line or "TRIGGER" in line for line in lines)
