"""JSON API: an incident's decision log."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from anyio import to_thread
from fastapi import APIRouter, Header, Path, Query, Request
from fastapi.responses import Response
from fastapi.routing import APIRoute

from app.accounts.access import Credential
from app.accounts.models import User
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
    bearer_of,
    reader_language,
    record_use,
    token_user_and_incident,
    token_user_only,
)
from app.incidents.models import Incident
from app.log import checkpoints, service
from app.log import verify as log_verify
from app.log.models import (
    REQUEST_KEY_PATTERN,
    CheckpointPublic,
    EntryKind,
    LogEntryCreate,
    LogEntryPublic,
    LogPage,
    VerifyResult,
)

router = APIRouter(prefix="/incidents/{incident_id}/log", tags=["log"])


class CallerFirst(APIRoute):
    """The caller (bearer token) and the incident are looked up before FastAPI reads the body.

    So a bad token costs one lookup and not one byte of its body (which `app.edge` then does
    not read: the connection closes). An incident id that is not one is left to FastAPI's 422.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def checked(request: Request) -> Response:
            db: Database = request.app.state.db
            token = bearer_of(request.headers.get("authorization"))
            raw_id = str(request.path_params.get("incident_id", ""))
            incident_id = int(raw_id) if raw_id.isdecimal() and len(raw_id) <= 10 else 0
            if 1 <= incident_id <= INT_MAX:
                request.state.caller = await to_thread.run_sync(
                    token_user_and_incident, db, token, incident_id
                )
            else:  # not an id: FastAPI answers 422 once the token is known to be good
                await to_thread.run_sync(token_user_only, db, token)
            return await handler(request)

        return checked


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

    The hot path, so its blocking work is two thread-pool calls: the caller's lookup before the
    body is read (`CallerFirst`), and the write (`_append`); sync dependencies and a sync
    endpoint would cost one call each, and one more to check the answer. The token's last use
    is recorded beside it, at most once a minute (`record_use`).
    """
    caller: tuple[Credential, Incident] | None = getattr(request.state, "caller", None)
    if caller is None:  # an id spelt in a way only FastAPI reads (`+1`): look up now
        caller = await to_thread.run_sync(token_user_and_incident, db, token, incident_id)
    found, incident = caller
    entry = await to_thread.run_sync(
        _append, db, found.user, incident, data, idempotency_key, limiter=limiter
    )
    record_use(request, token, found)
    return entry


router.add_api_route(
    "",
    append_entry,
    methods=["POST"],
    status_code=201,
    response_model=LogEntryPublic,
    summary="Append an entry",
    route_class_override=CallerFirst,
)


def _append(
    db: Database, user: User, incident: Incident, data: LogEntryCreate, key: str | None
) -> LogEntryPublic:
    return service.append_entry(db, actor=user, incident=incident, data=data, request_key=key)


@router.get("", response_model=LogPage, summary="Read entries after a number, oldest first")
def list_entries(
    request: Request,
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
        session,
        viewer=Viewer.of(user),
        incident=incident,
        lang=reader_language(request),
        after=after,
        limit=limit,
        kind=kind,
    )


@router.get("/verify", response_model=VerifyResult, summary="Verify the hash chain")
def verify(db: Db, session: DbSession, user: ApiUser, incident: ApiIncident) -> VerifyResult:
    return log_verify.verify_chain(session, incident=incident, signer=db.signer)


@router.get(
    "/checkpoints",
    response_model=list[CheckpointPublic],
    summary="List the signed checkpoints of the log, oldest first",
)
def list_checkpoints(
    session: DbSession, user: ApiUser, incident: ApiIncident
) -> list[CheckpointPublic]:
    """Each names an entry (number and hash) the server signed as the log's head; check them
    with the server's public key (`samvirke keys show`, docs/log-chain.md)."""
    return checkpoints.list_checkpoints(session, incident=incident)


@router.get(
    "/export",
    summary="Export the log as JSON Lines (verify with tools/verify_log.py)",
    response_class=Response,
    responses={
        200: {
            "content": {"application/x-ndjson": {}},
            "description": 'One entry per line, then one `{"checkpoint": {…}}` line per '
            "signed checkpoint.",
        }
    },
)
def export(request: Request, session: DbSession, user: ApiUser, incident: ApiIncident) -> Response:
    lines = service.export_lines(
        session, viewer=Viewer.of(user), incident=incident, lang=reader_language(request)
    )
    body = "".join(lines)
    return Response(
        body,
        media_type="application/x-ndjson",
        headers={
            "Content-Disposition": f'attachment; filename="samvirke-incident-{incident.id}-log.jsonl"'
        },
    )


@router.get("/{number}", response_model=LogEntryPublic, summary="Get one entry")
def get_entry(
    request: Request,
    session: DbSession,
    user: ApiUser,
    incident: ApiIncident,
    number: Annotated[int, Path(ge=1, le=INT_MAX, description="The entry's number.")],
) -> LogEntryPublic:
    return service.get_entry(
        session,
        viewer=Viewer.of(user),
        incident=incident,
        number=number,
        lang=reader_language(request),
    )
