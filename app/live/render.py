"""Live messages for the pages: htmx out-of-band swaps inside one `<template>` per message.

The swaps come from the event's type (`EventType.page`, rendered from the pages' own templates
by the domain that declared it); this module only wraps them (docs/live.md, "The page
socket"): `data-seq` says where the message stands, `data-closed` that the incident is closed,
`data-blocks` which of the page's blocks it touches (live.js applies it again when an htmx
answer replaces one of them). Rendered once per audience and language by the hub.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo

from markupsafe import Markup

from app.accounts.viewer import Viewer
from app.live.events import LiveEvent, PageFragment

_MESSAGE = Markup('<template data-seq="{}"{}{}{}>{}</template>')
_NOTHING = PageFragment("")


def page_message(
    seq: int,
    fragment: PageFragment,
    *,
    blocks: Sequence[str] = (),
    type: str | None = None,
) -> str:
    """One page message: `fragment`'s swaps, standing at `seq` (an event's, or a list version)."""
    return str(
        _MESSAGE.format(
            int(seq),
            Markup(' data-type="{}"').format(type) if type is not None else "",
            Markup(" data-closed") if fragment.closed else "",
            Markup(' data-blocks="{}"').format(" ".join(blocks)) if blocks else "",
            Markup(fragment.html),
        )
    )


def incident_message(event: LiveEvent[Any], viewer: Viewer, *, lang: str, zone: ZoneInfo) -> str:
    """The incident page's message for one event, as this audience may see it."""
    kind = event.kind
    fragment = _NOTHING if kind is None else kind.page(event, viewer, lang, zone)
    blocks = kind.blocks if kind is not None else ()
    return page_message(event.seq, fragment, blocks=blocks, type=event.type)
