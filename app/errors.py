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


class Unavailable(DomainError):
    """The database did not do what was asked (busy past the wait, unreachable, disk full)."""

    status = 503
    code = "unavailable"


_DISK = ("disk is full", "disk i/o error", "no space left")


def database_unavailable(error: Exception) -> Unavailable:
    """What the reader is told when the database fails a request, in words they can act on.

    It may have failed after a commit (while reading the answer), so it never claims that
    nothing was saved: the reader is asked to look before sending again.
    """
    if any(words in str(error).lower() for words in _DISK):
        return Unavailable(
            N_(
                "The server cannot store anything more (its disk is full or failing). "
                "Tell whoever runs Samvirke; keep notes on paper meanwhile."
            )
        )
    return Unavailable(
        N_(
            "The database did not answer in time. Check the log before you send this again; "
            "if it is not there, send it again in a moment."
        )
    )
