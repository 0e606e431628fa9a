"""Domain errors.

Services raise these; `app.api.problems` turns them into `application/problem+json` and
`app.web` into a message on the page. `message` is an English msgid with `{placeholders}`,
translated into the reader's language at the edge, so a rule and its wording live together.
"""

from __future__ import annotations

from typing import Any

from app.i18n import N_


class DomainError(Exception):
    status = 400
    code = "bad-request"

    def __init__(self, message: str, *, field: str | None = None, **params: Any) -> None:
        super().__init__(message.format(**params) if params else message)
        self.message = message
        self.field = field
        self.params = params


class Invalid(DomainError):
    status = 422
    code = "invalid"


class NotFound(DomainError):
    status = 404
    code = "not-found"


class AuthRequired(DomainError):
    status = 401
    code = "unauthorized"


class NotAllowed(DomainError):
    status = 403
    code = "forbidden"


class Conflict(DomainError):
    status = 409
    code = "conflict"


class IncidentClosed(Conflict):
    code = "incident-closed"

    def __init__(self) -> None:
        super().__init__(N_("This incident is closed: nothing more can be logged or changed."))


class RateLimited(DomainError):
    status = 429
    code = "rate-limited"
