"""The one registration of every domain: the spine reads its event types, panels and jobs here."""

from __future__ import annotations

from app.domain import Domain

DOMAINS: tuple[Domain, ...] = ()
