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
from sqlmodel import Session

from app import i18n
from app.accounts.models import User
from app.accounts.viewer import Viewer
from app.config import Settings
from app.db import Database, utcnow
from app.deps import DbSession
from app.errors import DomainError
from app.incidents import service as incidents
from app.incidents.models import Incident
from app.log import panel as log_panel
from app.log import service as log_service
from app.log.models import REQUEST_KEY_PATTERN, LogEntryCreate, LogEntryPublic
from app.ui.panels import PAGE, PageView, Panel, Refused, incident_context
from app.ui.reader import language_of
from app.web.deps import Csrf, PageIncident, PageUser
from app.web.errors import error_response
from app.web.forms import FormInvalid, parse_form
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
    """`incident_context` for the answer to a write, read in a read session of its own.

    The request's session is a write session: on SQLite its next transaction would take the
    write lock again and hold it while the page is read and rendered, and every other writer
    (each log append over the API too) would wait for that.
    """
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
    lang = language_of(request, user)
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
    try:
        data = parse_form(LogEntryCreate, fields, lang)
        log_service.append_entry(
            session, actor=user, incident=incident, data=data, request_key=request_key
        )
    except FormInvalid as exc:
        return _refused(request, session, user, incident, form, view_kind, 422, exc.messages)
    except DomainError as exc:
        message = i18n.gettext(lang, exc.message, **exc.params)
        if exc.field == "request_key":
            form.pop("request_key", None)  # used already: the next send is a new request
        return _refused(
            request,
            session,
            user,
            incident,
            form,
            view_kind,
            exc.status,
            {exc.field or "form": message},
        )
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


def _refused(
    request: Request,
    session: Session,
    user: User,
    incident: Incident,
    form: dict[str, str],
    view_kind: str,
    status: int,
    messages: dict[str, str],
) -> Response:
    if is_htmx(request):
        return error_response(request, status, list(messages.values()))
    session.rollback()  # a refused write leaves nothing behind, and holds no lock
    context = answer_context(
        request,
        user,
        incident,
        request.app.state.panels,
        query={"kind": view_kind},
        refused=Refused(log_panel.NAME, form, messages),
    )
    return render(request, PAGE, context, user=user, status_code=status)


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
