"""The log, as the spine sees it: its event type and its panel on the incident page."""

from __future__ import annotations

from app.domain import Domain
from app.log import live, panel

DOMAIN = Domain(name="log", events=live.EVENT_TYPES, panels=(panel.PANEL,))
