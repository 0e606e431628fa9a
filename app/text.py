"""One rule for user-written text, used by every input model.

Text is NFC-normalised (so the hash chain sees one spelling of "ø"), trimmed, has its line
breaks unified, and may not carry control characters: PostgreSQL refuses NUL outright and the
others only hide things from the reader. Bidirectional controls are refused too: they make a
page show text in another order than it was typed (and than the hash chain holds).
"""

from __future__ import annotations

import unicodedata

_ALLOWED_CONTROLS = {"\n", "\t"}

# Embeddings, overrides and isolates (U+202A–202E, U+2066–2069), the marks (U+200E, U+200F,
# U+061C): category Cf, so the control check above does not see them.
BIDI_CONTROLS = frozenset(
    "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
)


def clean_text(value: object, *, multiline: bool = False) -> object:
    """Normalise a string; leave other types for pydantic to reject with its own message."""
    if not isinstance(value, str):
        return value
    text = unicodedata.normalize("NFC", value.replace("\r\n", "\n").replace("\r", "\n")).strip()
    allowed = _ALLOWED_CONTROLS if multiline else set()
    for char in text:
        if unicodedata.category(char) == "Cc" and char not in allowed:
            raise ValueError("must not contain control characters")
    refuse_bidi_controls(text)
    return text


def refuse_bidi_controls(text: str) -> None:
    """What a page shows must be what was typed: no characters that reorder the text around them."""
    if not BIDI_CONTROLS.isdisjoint(text):
        raise ValueError("must not contain bidirectional control characters")
