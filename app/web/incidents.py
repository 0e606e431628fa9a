"""Pages for incidents: the list, opening one, its page, and changing its level and phase.

The incident page is its header and the panels the domains contribute (`app/ui/panels.py`);
writing log entries and the paper log are in `web/log.py`. A level or phase change from the
page answers htmx with the header block and the log's newest entries out of band (the change
wrote a system entry); closing reloads the page, which then has no inputs.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from app.accounts.models import User
from app.db import Database
from app.deps import Db, DbSession
from app.incidents import service as incidents
from app.incidents.listing import load_incident_list
from app.incidents.models import Incident, IncidentChange, IncidentCreate, Phase
from app.log import panel as log_panel
from app.ui.panels import PAGE, PageView, Panel, incident_context
from app.ui.reader import language_of
from app.web import log as log_pages
from app.web.deps import Csrf, PageIncident, PageUser
from app.web.errors import error_response
from app.web.forms import again, parse_form, submit
from app.web.render import is_htmx, render, render_blocks

router = APIRouter()
router.include_router(log_pages.router)


@router.get("/")
def incident_list(request: Request, session: DbSession, user: PageUser) -> Response:
    # The same snapshot the live push sends, so the page and its pushes render alike.
    context = {"listing": load_incident_list(session), "nav": "incidents"}
    return render(request, "incidents/list.html", context, user=user)


@router.get("/incidents/new")
def new_incident_page(request: Request, user: PageUser) -> Response:
    form = {"title": "", "category": "other", "level": "yellow", "exercise": False}
    return render(
        request, "incidents/new.html", {"form": form, "errors": {}, "nav": "incidents"}, user=user
    )


@router.post("/incidents", dependencies=[Csrf])
def open_incident(
    request: Request,
    db: Db,
    user: PageUser,
    title: Annotated[str, Form()] = "",
    category: Annotated[str, Form()] = "",
    level: Annotated[str, Form()] = "",
    exercise: Annotated[str, Form()] = "",
) -> Response:
    form = {"title": title, "category": category, "level": level, "exercise": exercise != ""}
    return submit(
        request,
        user,
        lambda lang: incidents.open_incident(
            db, actor=user, data=parse_form(IncidentCreate, form, lang)
        ),
        done=lambda incident: RedirectResponse(f"/incidents/{incident.id}", status_code=303),
        refused=again(request, "incidents/new.html", {"form": form, "nav": "incidents"}, user=user),
    )


@router.get("/incidents/{incident_id}")
def incident_page(
    request: Request, session: DbSession, user: PageUser, incident: PageIncident
) -> Response:
    """The page with every panel; an htmx request aimed at one of a panel's targets (the log's
    filter and paging links aim at `#log`) gets that panel's block alone."""
    panels: tuple[Panel, ...] = request.app.state.panels
    target = request.headers.get("hx-target") if is_htmx(request) else None
    aimed = [p for p in panels if target in p.targets]
    view = PageView(session, user, incident, language_of(request, user), dict(request.query_params))
    context = incident_context(view, aimed or panels)
    if aimed and target is not None:
        block = target.replace("-", "_")
        return render(request, aimed[0].template, context, user=user, block=block)
    return render(request, PAGE, context, user=user)


@router.post("/incidents/{incident_id}/level", dependencies=[Csrf])
def change_level(
    request: Request,
    db: Db,
    session: DbSession,
    user: PageUser,
    incident: PageIncident,
    level: Annotated[str, Form()] = "",
) -> Response:
    return _change(request, db, user, incident, {"level": level})


@router.post("/incidents/{incident_id}/phase", dependencies=[Csrf])
def change_phase(
    request: Request,
    db: Db,
    session: DbSession,
    user: PageUser,
    incident: PageIncident,
    phase: Annotated[str, Form()] = "",
    confirm: Annotated[str, Form()] = "",
) -> Response:
    if phase == Phase.closed and confirm != "yes" and not incident.is_closed:
        # Without JavaScript there was no confirmation dialog: ask on a page of its own.
        context = {"incident": incidents.present_incident(session, incident), "nav": "incidents"}
        return render(request, "incidents/close.html", context, user=user)
    return _change(request, db, user, incident, {"phase": phase})


def _change(
    request: Request,
    db: Database,
    user: User,
    incident: Incident,
    fields: dict[str, str],
) -> Response:
    def changed(incident: Incident) -> Response:
        if not is_htmx(request):
            return RedirectResponse(f"/incidents/{incident.id}", status_code=303)
        if incident.is_closed:
            return Response(status_code=204, headers={"HX-Refresh": "true"})
        # The change wrote a system entry: the log's newest entries go along, out of band, in
        # the view the page is showing.
        query = log_pages.view_of_current_url(request)
        context = log_pages.answer_context(request, user, incident, (log_panel.PANEL,), query=query)
        return render_blocks(
            request,
            context,
            [(PAGE, ("incident_header",)), (log_panel.TEMPLATE, ("log_entries", "log_more"))],
            user=user,
        )

    return submit(
        request,
        user,
        lambda lang: incidents.change_incident(
            db, actor=user, incident=incident, change=parse_form(IncidentChange, fields, lang)
        ),
        done=changed,
        refused=lambda refusal: error_response(request, refusal.status, refusal.messages),
    )
