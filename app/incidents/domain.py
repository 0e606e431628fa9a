"""Incidents, as the spine sees them: their event types (the page's header is the page's own)."""

from __future__ import annotations

from app.domain import Domain
from app.incidents import live

DOMAIN = Domain(name="incidents", events=live.EVENT_TYPES)
