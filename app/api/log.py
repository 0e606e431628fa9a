"""JSON API: an incident's decision log."""

from __future__ import annotations

from typing import Annotated

from anyio import to_thread
from fastapi import APIRouter, Header, Path, Query, Request
from fastapi.responses import Response

from app.accounts.access import Credential
from app.accounts.viewer import Viewer
from app.db import INT_MAX, Database
from app.deps import (
    ApiIncident,
    ApiUser,
    BearerToken,
    Db,
    DbSession,
    IncidentId,
    WriteLimiter,
    record_use,
    token_user_and_incident,
)
from app.log import service
from app.log.models import (
    REQUEST_KEY_PATTERN,
    EntryKind,
    LogEntryCreate,
    LogEntryPublic,
    LogPage,
    VerifyResult,
)

router = APIRouter(prefix="/incidents/{incident_id}/log", tags=["log"])


@router.post("", status_code=201, response_model=LogEntryPublic, summary="Append an entry")
async def append_entry(
    request: Request,
    db: Db,
    limiter: WriteLimiter,
    token: BearerToken,
    incident_id: IncidentId,
    data: LogEntryCreate,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            pattern=REQUEST_KEY_PATTERN,
            description="Your key for this entry (e.g. a UUID; up to 64 printable ASCII "
            "characters). Sending the same entry again with the same key, after an answer "
            "that never came, gives back the entry already logged instead of a second one.",
        ),
    ] = None,
) -> LogEntryPublic:
    """Answers 201 only once the entry is durably committed.

    The hot path, so all its blocking work is one thread-pool call (`_append`); sync
    dependencies and a sync endpoint would cost one call each, and one more to check the answer.
    The token's last use is recorded beside it, at most once a minute (`record_use`).
    """
    found, entry = await to_thread.run_sync(
        _append, db, token, incident_id, data, idempotency_key, limiter=limiter
    )
    record_use(request, token, found)
    return entry


def _append(
    db: Database, token: str, incident_id: int, data: LogEntryCreate, key: str | None
) -> tuple[Credential, LogEntryPublic]:
    found, incident = token_user_and_incident(db, token, incident_id)
    with db.write_session() as session:  # its transaction begins inside the service
        return found, service.append_entry(
            session, actor=found.user, incident=incident, data=data, request_key=key
        )


@router.get("", response_model=LogPage, summary="Read entries after a number, oldest first")
def list_entries(
    session: DbSession,
    user: ApiUser,
    incident: ApiIncident,
    after: Annotated[
        int, Query(ge=0, le=INT_MAX, description="Return entries with a larger number.")
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=service.PAGE_MAX)] = 100,
    kind: Annotated[EntryKind | None, Query(description="Only entries of this kind.")] = None,
) -> LogPage:
    return service.list_entries(
        session, viewer=Viewer.of(user), incident=incident, after=after, limit=limit, kind=kind
    )


@router.get("/verify", response_model=VerifyResult, summary="Verify the hash chain")
def verify(session: DbSession, user: ApiUser, incident: ApiIncident) -> VerifyResult:
    return service.verify_chain(session, incident=incident)


@router.get(
    "/export",
    summary="Export the log as JSON Lines (verify with tools/verify_log.py)",
    response_class=Response,
    responses={
        200: {"content": {"application/x-ndjson": {}}, "description": "One entry per line."}
    },
)
def export(session: DbSession, user: ApiUser, incident: ApiIncident) -> Response:
    body = "".join(service.export_lines(session, viewer=Viewer.of(user), incident=incident))
    return Response(
        body,
        media_type="application/x-ndjson",
        headers={
            "Content-Disposition": f'attachment; filename="samvirke-incident-{incident.id}-log.jsonl"'
        },
    )


@router.get("/{number}", response_model=LogEntryPublic, summary="Get one entry")
def get_entry(
    session: DbSession,
    user: ApiUser,
    incident: ApiIncident,
    number: Annotated[int, Path(ge=1, le=INT_MAX, description="The entry's number.")],
) -> LogEntryPublic:
    return service.get_entry(session, viewer=Viewer.of(user), incident=incident, number=number)
