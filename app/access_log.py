"""Keep one-time secrets out of the access log.

Set-up, invite and password reset links carry their secret in the URL (`/setup?token=…`,
`/invite/<secret>`, `/reset/<secret>`), and uvicorn's access log prints every path with its
query. Whoever reads the log (an operator, a log shipper, a backup) could otherwise use a link
that was not theirs before its owner does. The filter rewrites the secret to `…` in each
record's arguments, so uvicorn's own formatter still gets the shape it expects. A reverse proxy
in front keeps its own log: see docs/security/accounts.md.
"""

from __future__ import annotations

import logging
import re

_SECRET_IN_PATH = re.compile(r"(/(?:invite|reset)/)[^/?#\s\"]+")
_SECRET_IN_QUERY = re.compile(r"([?&]token=)[^&#\s\"]+")
ACCESS_LOGGER = "uvicorn.access"


def redact(text: str) -> str:
    return _SECRET_IN_QUERY.sub(r"\1…", _SECRET_IN_PATH.sub(r"\1…", text))


class SecretFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.msg, str):
            record.msg = redact(record.msg)
        return True


def install() -> None:
    """Add the filter to uvicorn's access logger once (every app of the process shares it)."""
    logger = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(f, SecretFilter) for f in logger.filters):
        logger.addFilter(SecretFilter())
