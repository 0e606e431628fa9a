"""The viewer filter for log entries: the single place that decides who reads what.

Every path that shows an entry (pages, JSON API, exports, live push) goes through
`present_entry`, so a rule added here holds everywhere at once. The salt goes with the
content: a reader who may not see the content gets neither, or the digest could be matched
against guesses. A system entry with a message is rendered here in the reader's language.
"""

from __future__ import annotations

from typing import Any

from app.accounts.viewer import Viewer
from app.i18n import Term, gettext
from app.log import chain
from app.log.models import (
    Author,
    Classification,
    EntryKind,
    LogEntry,
    LogEntryPublic,
    SystemMessage,
)


def may_read(viewer: Viewer, classification: str) -> bool:
    if classification == Classification.restricted:
        return viewer.restricted
    return True


def readable_classifications(viewer: Viewer) -> list[str]:
    return [c.value for c in Classification if may_read(viewer, c)]


def render_message(message: SystemMessage, lang: str) -> str:
    """A system message in one language, naming who did it. One that does not fit its
    placeholders (only a row changed behind the app's back, which verify reports) is shown as
    its id rather than breaking the page it is on."""
    words = {name: Term(value) for name, value in message.params.items()}
    try:
        said = gettext(lang, message.msgid, **words)
    except (KeyError, IndexError, ValueError):
        said = message.msgid
    return said + " (" + message.actor.name + ")"


def present_entry(
    entry: LogEntry, viewer: Viewer, corrected_by: list[int] | None = None, *, lang: str
) -> LogEntryPublic:
    """`lang` is the reader's language, for system entries that carry a message."""
    envelope: dict[str, Any] = {
        "incident_id": entry.incident_id,
        "number": entry.number,
        "classification": Classification(entry.classification),
        "occurred_at": entry.occurred_at,
        "recorded_at": entry.recorded_at,
        "content_digest": entry.content_digest,
        "prev_hash": entry.prev_hash,
        "hash": entry.hash,
        "v": chain.version_of(entry.salt),
    }
    if not may_read(viewer, entry.classification):
        return LogEntryPublic(
            withheld=True, kind=None, text=None, author=None, system=None, corrects=None, **envelope
        )
    author = (
        Author(id=entry.author_id, name=entry.author_name or "")
        if entry.author_id is not None
        else None
    )
    message = None if entry.message is None else SystemMessage.model_validate_json(entry.message)
    return LogEntryPublic(
        withheld=False,
        kind=EntryKind(entry.kind),
        text=entry.text if message is None else render_message(message, lang),
        author=author,
        system=entry.kind == EntryKind.system,
        corrects=entry.corrects,
        corrected_by=corrected_by or [],
        message=message,
        salt=entry.salt,
        **envelope,
    )
