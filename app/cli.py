"""The `samvirke` command: serve, manage users and tokens, verify logs, show the signing key.

Each command honours SAMVIRKE_DATABASE_URL (which wins) and SAMVIRKE_DATA_DIR, and migrates
the database first (as SAMVIRKE_MIGRATION_DATABASE_URL's role, when set), so any of them works
on a fresh data folder.
"""

from __future__ import annotations

import sys
from datetime import datetime, timedelta
from typing import Annotated, Literal

import typer
from pydantic import ValidationError
from sqlalchemy import create_engine, make_url
from sqlalchemy.pool import NullPool

from app.accounts import recovery, tokens
from app.accounts import service as accounts
from app.accounts.models import PASSWORD_MIN, Role, User, UserCreate
from app.config import get_settings
from app.db import Database, normalise_url, utcnow
from app.errors import DomainError
from app.incidents import service as incidents
from app.log import chain
from app.log import verify as log_verify
from app.log.signing import SigningKeyError
from app.migrate import upgrade_for
from app.roles import grant_statements

cli = typer.Typer(help="Samvirke: crisis-staff support tool.", no_args_is_help=True)
users_cli = typer.Typer(help="Manage users.", no_args_is_help=True)
tokens_cli = typer.Typer(help="Manage API tokens.", no_args_is_help=True)
cli.add_typer(users_cli, name="users")
cli.add_typer(tokens_cli, name="tokens")
keys_cli = typer.Typer(help="The key that signs the logs' checkpoints.", no_args_is_help=True)
cli.add_typer(keys_cli, name="keys")


def _database(*, key: Literal["none", "existing", "make"] = "none") -> Database:
    """The database, migrated; with the signing key if there is one, to check checkpoints
    (`existing`), or made if there is none, to sign them (`make`, as the server does at its
    start; only `verify --seal` signs anything here)."""
    settings = get_settings()
    upgrade_for(settings)
    signer = {"none": None, "existing": settings.existing_signer, "make": settings.signer}[key]
    return Database(
        settings.resolved_database_url,
        language=settings.default_language,
        write_wait=settings.write_wait,
        signer=signer() if signer is not None else None,
    )


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=2)


def _user(db: Database, email: str) -> User:
    """The user with this e-mail address, or the command fails saying there is none."""
    with db.read_session() as session:
        user = accounts.get_user_by_email(session, email)
    if user is None:
        raise _fail(f"no user with the e-mail {email}")
    return user


@cli.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes (PostgreSQL only).")] = 1,
) -> None:
    """Migrate the database, then serve the app."""
    import uvicorn

    settings = get_settings()
    upgrade_for(settings)
    if workers > 1 and settings.is_sqlite:
        raise _fail("several workers need PostgreSQL; SQLite is served by one process")
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        proxy_headers=False,  # create_app believes only SAMVIRKE_TRUSTED_PROXIES
        log_level="info",
    )


@cli.command()
def migrate() -> None:
    """Bring the database to the newest schema."""
    upgrade_for(get_settings())
    typer.echo("database is up to date")


@cli.command()
def grants(
    role: Annotated[
        str | None,
        typer.Option(help="The serving role; by default the user in SAMVIRKE_DATABASE_URL."),
    ] = None,
) -> None:
    """PostgreSQL: print the serving role's rights on the schema (`migrate` applies them)."""
    settings = get_settings()
    if settings.is_sqlite:
        raise _fail("grants are for PostgreSQL; a SQLite file is guarded by its file mode")
    role = role or make_url(normalise_url(settings.resolved_database_url)).username
    if not role:
        raise _fail("no role given, and SAMVIRKE_DATABASE_URL names no user")
    upgrade_for(settings)
    engine = create_engine(normalise_url(settings.resolved_migration_url), poolclass=NullPool)
    try:
        with engine.connect() as connection:
            for statement in grant_statements(connection, role):
                typer.echo(f"{statement};")
    finally:
        engine.dispose()


@users_cli.command("create")
def users_create(
    email: Annotated[str, typer.Option(help="E-mail address (also the sign-in name).")],
    name: Annotated[str, typer.Option(help="Full name as shown in the log.")],
    role: Annotated[Role, typer.Option(help="admin or staff.")] = Role.staff,
    restricted: Annotated[bool, typer.Option(help="Cleared to read restricted entries.")] = False,
    password: Annotated[
        str | None,
        typer.Option(help="Password; if left out, the user signs in through an invite or a token."),
    ] = None,
) -> None:
    """Create a user."""
    try:
        data = UserCreate(email=email, name=name, role=role, restricted=restricted)
    except ValidationError as exc:
        raise _fail("; ".join(f"{e['loc'][0]}: {e['msg']}" for e in exc.errors())) from exc
    if password is not None and len(password) < PASSWORD_MIN:
        raise _fail(f"the password must have at least {PASSWORD_MIN} characters")
    try:
        user = accounts.create_user(_database(), data=data, password=password)
    except DomainError as exc:
        raise _fail(str(exc)) from exc
    typer.echo(f"created {user.role} {user.email} (id {user.id})")


@users_cli.command("list")
def users_list() -> None:
    """List users."""
    db = _database()
    with db.read_session() as session:
        for user in accounts.list_users(session):
            flags = " restricted" if user.restricted else ""
            flags += "" if user.active else " inactive"
            typer.echo(f"{user.id}\t{user.email}\t{user.name}\t{user.role}{flags}")


@users_cli.command("reset-password")
def users_reset_password(
    email: Annotated[str, typer.Option(help="The user who needs a new password.")],
) -> None:
    """Make a single-use password reset link; it is printed once, alone on the last line."""
    settings = get_settings()
    db = _database()
    user = _user(db, email)
    assert user.id is not None
    reset, user, secret = recovery.issue_password_reset(
        db, actor=None, user_id=user.id, hours=settings.password_reset_hours
    )
    typer.echo(
        f"Password reset link for {user.email}, valid until {reset.expires_at:%Y-%m-%d %H:%M} UTC "
        "(shown once; using it signs the user out everywhere else):",
        err=True,
    )
    typer.echo(settings.link(f"/reset/{secret}"))


@tokens_cli.command("create")
def tokens_create(
    email: Annotated[str, typer.Option(help="The user the token acts as.")],
    name: Annotated[str, typer.Option(help="What the token is for.")] = "cli",
    expires_in_days: Annotated[
        int | None,
        typer.Option(min=1, max=3650, help="Stops working after this many days (default: never)."),
    ] = None,
) -> None:
    """Create an API token; it is printed once, alone on the last line."""
    expires = None if expires_in_days is None else utcnow() + timedelta(days=expires_in_days)
    db = _database()
    user = _user(db, email)
    raw = tokens.create_api_token(db, user=user, name=name, expires_at=expires)
    until = f", expires {expires:%Y-%m-%d %H:%M} UTC" if expires else ""
    typer.echo(f"API token for {user.email}{until} (shown once, keep it safe):", err=True)
    typer.echo(raw)


def _when(moment: datetime | None) -> str:
    return "-" if moment is None else f"{moment:%Y-%m-%d %H:%M}"


@tokens_cli.command("list")
def tokens_list(
    email: Annotated[str | None, typer.Option(help="Only this user's tokens.")] = None,
) -> None:
    """List API tokens, newest first: id, user, name, state, created, last used, expires (UTC)."""
    db = _database()
    user_id = None if email is None else _user(db, email).id
    with db.read_session() as session:
        listed = tokens.list_api_tokens(session, user_id=user_id)
    typer.echo("id\tuser\tname\tstate\tcreated\tlast used\texpires")
    for t in listed:
        times = "\t".join(_when(m) for m in (t.created_at, t.last_used_at, t.expires_at))
        typer.echo(f"{t.id}\t{t.user_email}\t{t.name}\t{t.state}\t{times}")


@tokens_cli.command("revoke")
def tokens_revoke(
    token_id: Annotated[int, typer.Argument(help="The token's id (see `tokens list`).")],
) -> None:
    """Revoke an API token at once: requests with it get 401, its open sockets close."""
    try:
        token = tokens.revoke_api_token(_database(), actor=None, token_id=token_id)
    except DomainError as exc:
        raise _fail(str(exc)) from exc
    typer.echo(f"revoked token {token.id} ({token.name}) of {token.user_email}")


@cli.command()
def verify(
    incident: Annotated[int | None, typer.Option(help="Only this incident.")] = None,
    seal: Annotated[
        bool,
        typer.Option(
            "--seal",
            help="Sign the head of every log that verifies but that no checkpoint covers yet "
            "(logs written before checkpoints existed). Run once, after upgrading.",
        ),
    ] = False,
) -> None:
    """Verify the hash chain and the signed checkpoints of every log (or one); exits 1 if any
    is broken."""
    try:
        db = _database(key="make" if seal else "existing")
    except SigningKeyError as exc:
        raise _fail(str(exc)) from exc
    with db.read_session() as session:
        chosen = (
            [incidents.get_incident(session, incident)]
            if incident is not None
            else incidents.list_incidents(session)
        )
        ids = sorted(i.id for i in chosen if i.id is not None)
    if seal:
        for incident_id in ids:
            _seal(db, incident_id)
    broken = False
    with db.read_session() as session:
        for incident_id in ids:
            item = incidents.get_incident(session, incident_id)
            result = log_verify.verify_chain(session, incident=item, signer=db.signer)
            head = f"#{result.head.number} {result.head.hash}" if result.head else "empty"
            typer.echo(
                f"incident {item.id}: {'ok' if result.ok else 'BROKEN'} ({result.checked} entries, head {head})"
            )
            for problem in result.problems:
                typer.echo(f"  #{problem.number}: {problem.problem}")
            broken = broken or not result.ok
    if broken:
        raise typer.Exit(code=1)


def _seal(db: Database, incident_id: int) -> None:
    sealed = log_verify.seal_unsigned(db, incident_id=incident_id)
    if sealed.checkpoint is not None:
        typer.echo(
            f"incident {incident_id}: sealed, head #{sealed.checkpoint.number} signed "
            f"{chain.format_time(sealed.checkpoint.signed_at)}"
        )
    elif sealed.problems:
        typer.echo(f"incident {incident_id}: not sealed, the log does not verify")


@keys_cli.command("show")
def keys_show(
    base64: Annotated[
        bool, typer.Option("--base64", help="The raw 32-byte key in base64 instead of PEM.")
    ] = False,
) -> None:
    """Print the public key and its fingerprint, for the minutes and for verify_log.py.

    The output as a whole is a public-key file `tools/verify_log.py --public-key` accepts
    (lines starting with # are comments). Made on first use, like at the server's start.
    """
    try:
        signer = get_settings().signer()
    except SigningKeyError as exc:
        raise _fail(str(exc)) from exc
    typer.echo("# Samvirke checkpoint signing key (Ed25519), public part")
    typer.echo(f"# key file: {signer.path}")
    typer.echo(f"# fingerprint (SHA-256 of the raw key): {signer.fingerprint}")
    typer.echo(signer.public_base64 if base64 else signer.public_pem.rstrip("\n"))


def main() -> None:
    try:
        cli()
    except DomainError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)
