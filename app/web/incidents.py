"""Pages for incidents: the list, opening one, its page, and changing its level and phase.

The log part of the incident page (its view, writing entries, the paper log) is in `web/log.py`.
A level or phase change from the page answers htmx with the header block and the log blocks out
of band (the change wrote a system entry); closing reloads the page, which then has no inputs.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel import Session

from app.accounts.models import User
from app.accounts.viewer import Viewer
from app.db import Database
from app.deps import Db, DbSession
from app.incidents import service as incidents
from app.incidents.models import Incident, IncidentChange, IncidentCreate, Phase
from app.live.events import load_incident_list
from app.log import service as log_service
from app.web import labels  # noqa: F401  (installs the vocabulary for the templates)
from app.web import log as log_pages
from app.web.deps import Csrf, PageIncident, PageUser
from app.web.errors import error_response
from app.web.forms import again, parse_form, submit
from app.web.render import is_htmx, language_of, render

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
    request: Request,
    session: DbSession,
    user: PageUser,
    incident: PageIncident,
    kind: str = "",
    before: str = "",
    corrects: str = "",
) -> Response:
    # Query values come from links people may have edited: anything unreadable is ignored.
    form: dict[str, object] = {}
    number = log_pages.parse_number(corrects)
    if number is not None:  # the "Correct" link without JavaScript: the form starts filled in
        original = log_service.get_entry(
            session,
            viewer=Viewer.of(user),
            incident=incident,
            number=number,
            lang=language_of(request, user),
        )
        if not original.withheld and not original.system and original.kind is not None:
            form = {
                "corrects": number,
                "text": original.text,
                "kind": original.kind.value,
                "classification": original.classification.value,
            }
    context = log_pages.page_context(
        session,
        user,
        incident,
        lang=language_of(request, user),
        kind=log_pages.parse_kind(kind),
        before=log_pages.parse_number(before),
        form=form,
    )
    block = "log" if is_htmx(request) and request.headers.get("hx-target") == "log" else None
    return render(request, log_pages.PAGE_TEMPLATE, context, user=user, block=block)


@router.post("/incidents/{incident_id}/level", dependencies=[Csrf])
def change_level(
    request: Request,
    db: Db,
    session: DbSession,
    user: PageUser,
    incident: PageIncident,
    level: Annotated[str, Form()] = "",
) -> Response:
    return _change(request, db, session, user, incident, {"level": level})


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
    return _change(request, db, session, user, incident, {"phase": phase})


def _change(
    request: Request,
    db: Database,
    session: Session,
    user: User,
    incident: Incident,
    fields: dict[str, str],
) -> Response:
    def changed(incident: Incident) -> Response:
        if not is_htmx(request):
            return RedirectResponse(f"/incidents/{incident.id}", status_code=303)
        if incident.is_closed:
            return Response(status_code=204, headers={"HX-Refresh": "true"})
        kind, before = log_pages.view_of_current_url(request)
        lang = language_of(request, user)
        context = log_pages.page_context(
            session, user, incident, lang=lang, kind=kind, before=before
        )
        return log_pages.render_blocks(
            request, context, user, "incident_header", "log_entries", "log_more"
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
