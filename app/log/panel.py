"""The log's panel on the incident page: the entry form and the log, newest first.

The log is filtered by kind (`?kind=`) and paged (`?before=N`); `?corrects=N` starts the form
filled in with entry N, for correcting it without JavaScript. Query values come from links
people may have edited: anything unreadable is ignored. `web/log.py` renders the panel's blocks
as the answers to writing an entry.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

from app.log import service as log_service
from app.log.models import EntryKind
from app.ui.panels import PageView, Panel

NAME = "log"
TEMPLATE = "log/panel.html"
PAGE_SIZE = 100


def parse_kind(value: str | None) -> EntryKind | None:
    """A kind from a query string; anything unknown means "every kind"."""
    try:
        return EntryKind(value) if value else None
    except ValueError:
        return None


def parse_number(value: str | None) -> int | None:
    """An entry number from a query string; anything else (or absurdly long) means none."""
    value = (value or "").strip()
    return int(value) if value.isdecimal() and len(value) <= 9 else None


def context(view: PageView) -> dict[str, Any]:
    """The panel's values: the entries this view shows, and the form (kept if refused)."""
    kept = view.kept(NAME)
    if kept is not None:
        form, errors = kept.form, kept.errors
    else:
        form, errors = _correcting(view, parse_number(view.query.get("corrects"))), {}
    kind = parse_kind(view.query.get("kind"))
    before = parse_number(view.query.get("before"))
    rows = log_service.list_recent(
        view.session,
        viewer=view.viewer,
        incident=view.incident,
        lang=view.lang,
        before=before,
        kind=kind,
        limit=PAGE_SIZE + 1,
    )
    entries = rows[:PAGE_SIZE]
    return {
        "entries": entries,
        "view": {
            "kind": kind.value if kind else "",
            "before": before,
            "older_before": entries[-1].number if len(rows) > PAGE_SIZE else None,
        },
        "form": form,
        # The key of the next entry sent from this page: a resend after an answer that never
        # came logs nothing twice (app.js makes a new one after each entry logged).
        "request_key": form.get("request_key") or secrets.token_hex(16),
        "errors": errors,
    }


def _correcting(view: PageView, number: int | None) -> Mapping[str, Any]:
    """The form filled in with entry `number`, when it is one this reader may correct."""
    if number is None:
        return {}
    original = log_service.get_entry(
        view.session, viewer=view.viewer, incident=view.incident, number=number, lang=view.lang
    )
    if original.withheld or original.system or original.kind is None:
        return {}
    return {
        "corrects": number,
        "text": original.text,
        "kind": original.kind.value,
        "classification": original.classification.value,
    }


PANEL = Panel(name=NAME, template=TEMPLATE, context=context, targets=("log",))
