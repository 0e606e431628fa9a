"""The incident page's log: what it shows (`page_context`), writing an entry, the paper log.

A written entry answers htmx with the `log_entries` block (and the filter and paging navs out of
band, since the view goes back to the newest entries of every kind); a plain form post gets a
303 back to the page. A refused entry keeps everything the person typed: htmx swaps only the
message into `#log-form-errors`, a plain post re-renders the page with the form filled in.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel import Session

from app.accounts.models import User
from app.accounts.viewer import Viewer
from app.config import Settings
from app.db import utcnow
from app.deps import Db, DbSession
from app.incidents import service as incidents
from app.incidents.models import Incident
from app.log import service as log_service
from app.log.models import REQUEST_KEY_PATTERN, EntryKind, LogEntryCreate, LogEntryPublic
from app.web.deps import Csrf, PageIncident, PageUser
from app.web.errors import error_response
from app.web.forms import Refusal, parse_form, submit
from app.web.render import is_htmx, language_of, render

router = APIRouter()

PAGE_SIZE = 100
PAGE_TEMPLATE = "incidents/page.html"


def parse_kind(value: str | None) -> EntryKind | None:
    """A kind from a query string; anything unknown means "every kind"."""
    try:
        return EntryKind(value) if value else None
    except ValueError:
        return None


def parse_number(value: str) -> int | None:
    """An entry number from a query string; anything else (or absurdly long) means none."""
    value = value.strip()
    return int(value) if value.isdecimal() and len(value) <= 9 else None


def view_of_current_url(request: Request) -> tuple[EntryKind | None, int | None]:
    """The filter and page an htmx request's page is showing (from its HX-Current-URL)."""
    query = parse_qs(urlsplit(request.headers.get("hx-current-url", "")).query)
    return parse_kind(query.get("kind", [""])[0]), parse_number(query.get("before", [""])[0])


def page_context(
    session: Session,
    user: User,
    incident: Incident,
    *,
    lang: str,
    kind: EntryKind | None = None,
    before: int | None = None,
    form: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Everything `incidents/page.html` and its blocks need, for one reader."""
    viewer = Viewer.of(user)
    seq = incident.event_seq  # read before the entries, so they show at least this much
    rows = log_service.list_recent(
        session,
        viewer=viewer,
        incident=incident,
        lang=lang,
        before=before,
        kind=kind,
        limit=PAGE_SIZE + 1,
    )
    entries = rows[:PAGE_SIZE]
    return {
        "incident": incidents.present_incident(session, incident),
        "seq": seq,
        "entries": entries,
        "view": {
            "kind": kind.value if kind else "",
            "before": before,
            "older_before": entries[-1].number if len(rows) > PAGE_SIZE else None,
        },
        "form": form or {},
        # The key of the next entry sent from this page: a resend after an answer that never
        # came logs nothing twice (app.js makes a new one after each entry logged).
        "request_key": (form or {}).get("request_key") or secrets.token_hex(16),
        "errors": errors or {},
        "now": utcnow(),
        "nav": "incidents",
    }


def render_blocks(
    request: Request, context: dict[str, Any], user: User, main: str, *oob: str
) -> Response:
    """One block of the page as the answer, more blocks after it swapped out of band."""
    response = render(request, PAGE_TEMPLATE, {**context, "oob": False}, user=user, block=main)
    extra = b"".join(
        render(request, PAGE_TEMPLATE, {**context, "oob": True}, user=user, block=name).body
        for name in oob
    )
    if extra:
        response.body = bytes(response.body) + extra
        response.headers["content-length"] = str(len(response.body))
    return response


def local_datetime(value: str, zone: ZoneInfo) -> datetime | str:
    """A `datetime-local` field read in the instance's time zone; the raw text if unreadable."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return value
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=zone)


@router.post("/incidents/{incident_id}/log", dependencies=[Csrf])
def log_entry(
    request: Request,
    db: Db,
    session: DbSession,
    user: PageUser,
    incident: PageIncident,
    text: Annotated[str, Form()] = "",
    kind: Annotated[str, Form()] = "",
    classification: Annotated[str, Form()] = "",
    occurred_at: Annotated[str, Form()] = "",
    corrects: Annotated[str, Form()] = "",
    view_kind: Annotated[str, Form()] = "",
    request_key: Annotated[str | None, Form(pattern=REQUEST_KEY_PATTERN)] = None,
) -> Response:
    settings: Settings = request.app.state.settings
    form = {
        "text": text,
        "kind": kind,
        "classification": classification,
        "occurred_at": occurred_at,
        "corrects": corrects,
    }
    fields = {**form, "occurred_at": local_datetime(occurred_at.strip(), settings.zone)}
    if request_key:
        form["request_key"] = request_key  # kept if refused: nothing was logged with it

    def logged(_: LogEntryPublic) -> Response:
        if is_htmx(request):
            lang = language_of(request, user)
            context = page_context(session, user, incident, lang=lang)
            response = render_blocks(
                request, context, user, "log_entries", "log_filter", "log_more"
            )
            if urlsplit(request.headers.get("hx-current-url", "")).query:
                response.headers["HX-Replace-Url"] = f"/incidents/{incident.id}"
            return response
        target = f"/incidents/{incident.id}"
        kind_filter = parse_kind(view_kind)
        return RedirectResponse(target + (f"?kind={kind_filter.value}" if kind_filter else ""), 303)

    def refused(refusal: Refusal) -> Response:
        if is_htmx(request):
            return error_response(request, refusal.status, refusal.messages)
        if "request_key" in refusal.errors:
            form.pop("request_key", None)  # used already: the next send is a new request
        context = page_context(
            session,
            user,
            incident,
            lang=language_of(request, user),
            kind=parse_kind(view_kind),
            form=form,
            errors=refusal.errors,
        )
        return render(request, PAGE_TEMPLATE, context, user=user, status_code=refusal.status)

    return submit(
        request,
        user,
        lambda lang: log_service.append_entry(
            db,
            actor=user,
            incident=incident,
            data=parse_form(LogEntryCreate, fields, lang),
            request_key=request_key,
        ),
        done=logged,
        refused=refused,
        shows=True,
    )


@router.get("/incidents/{incident_id}/print")
def print_log(
    request: Request, session: DbSession, user: PageUser, incident: PageIncident
) -> Response:
    """The whole log, oldest first, for paper: the picture must survive a dead network."""
    viewer = Viewer.of(user)
    entries: list[LogEntryPublic] = []
    after: int | None = 0
    while after is not None:
        page = log_service.list_entries(
            session,
            viewer=viewer,
            incident=incident,
            lang=language_of(request, user),
            after=after,
            limit=log_service.PAGE_MAX,
        )
        entries.extend(page.items)
        after = page.next_after
    context = {
        "incident": incidents.present_incident(session, incident),
        "entries": entries,
        "now": utcnow(),
        "nav": "incidents",
    }
    return render(request, "incidents/print.html", context, user=user)
