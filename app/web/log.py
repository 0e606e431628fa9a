"""Writing log entries from the incident page, and the paper log.

The log's panel on the page (what it shows, its blocks) is `app/log/panel.py`. A written entry
answers htmx with the panel's `log_entries` block (and its filter and paging navs out of band,
since the view goes back to the newest entries of every kind); a plain form post gets a 303
back to the page. A refused entry keeps everything the person typed: htmx swaps only the
message into `#log-form-errors`, a plain post re-renders the page with the form filled in.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from app.accounts.models import User
from app.accounts.viewer import Viewer
from app.config import Settings
from app.db import Database, utcnow
from app.deps import Db, DbSession
from app.incidents import service as incidents
from app.incidents.models import Incident
from app.log import panel as log_panel
from app.log import service as log_service
from app.log.models import REQUEST_KEY_PATTERN, LogEntryCreate, LogEntryPublic
from app.ui.panels import PAGE, PageView, Panel, Refused, incident_context
from app.ui.reader import language_of
from app.web.deps import Csrf, PageIncident, PageUser
from app.web.errors import error_response
from app.web.forms import Refusal, parse_form, submit
from app.web.render import is_htmx, render, render_blocks

router = APIRouter()


def view_of_current_url(request: Request) -> dict[str, str]:
    """The log's filter and page that an htmx request's page is showing (its HX-Current-URL)."""
    query = parse_qs(urlsplit(request.headers.get("hx-current-url", "")).query)
    return {name: query[name][0] for name in ("kind", "before") if name in query}


def answer_context(
    request: Request,
    user: User,
    incident: Incident,
    panels: tuple[Panel, ...],
    *,
    query: dict[str, str] | None = None,
    refused: Refused | None = None,
) -> dict[str, Any]:
    """`incident_context` for the answer to a write, read after the action in a read session
    of its own, so that it shows what the action committed."""
    db: Database = request.app.state.db
    lang = language_of(request, user)
    with db.read_session() as reading:
        view = PageView(reading, user, incident, lang, query or {}, refused)
        return incident_context(view, panels)


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
            context = answer_context(request, user, incident, (log_panel.PANEL,))
            response = render_blocks(
                request,
                context,
                [(log_panel.TEMPLATE, ("log_entries", "log_filter", "log_more"))],
                user=user,
            )
            if urlsplit(request.headers.get("hx-current-url", "")).query:
                response.headers["HX-Replace-Url"] = f"/incidents/{incident.id}"
            return response
        target = f"/incidents/{incident.id}"
        kind_filter = log_panel.parse_kind(view_kind)
        return RedirectResponse(target + (f"?kind={kind_filter.value}" if kind_filter else ""), 303)

    def refused(refusal: Refusal) -> Response:
        if is_htmx(request):
            return error_response(request, refusal.status, refusal.messages)
        if "request_key" in refusal.errors:
            form.pop("request_key", None)  # used already: the next send is a new request
        context = answer_context(
            request,
            user,
            incident,
            request.app.state.panels,
            query={"kind": view_kind},
            refused=Refused(log_panel.NAME, form, refusal.errors),
        )
        return render(request, PAGE, context, user=user, status_code=refusal.status)

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
    return render(request, "log/print.html", context, user=user)
