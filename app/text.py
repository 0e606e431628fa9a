"""One rule for user-written text, used by every input model.

Text is NFC-normalised (so the hash chain sees one spelling of "ø"), trimmed, has its line
breaks unified, and may not carry control characters: PostgreSQL refuses NUL outright and the
others only hide things from the reader.
"""

from __future__ import annotations

import unicodedata

_ALLOWED_CONTROLS = {"\n", "\t"}


def clean_text(value: object, *, multiline: bool = False) -> object:
    """Normalise a string; leave other types for pydantic to reject with its own message."""
    if not isinstance(value, str):
        return value
    text = unicodedata.normalize("NFC", value.replace("\r\n", "\n").replace("\r", "\n")).strip()
    allowed = _ALLOWED_CONTROLS if multiline else set()
    for char in text:
        if unicodedata.category(char) == "Cc" and char not in allowed:
            raise ValueError("must not contain control characters")
    return text
