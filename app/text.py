"""One rule for user-written text, used by every input model.

Text is NFC-normalised (so the hash chain sees one spelling of "ø"), trimmed, has its line
breaks unified, and may not carry control characters: PostgreSQL refuses NUL outright and the
others only hide things from the reader. Bidirectional controls are refused too: they make a
page show text in another order than it was typed (and than the hash chain holds).

The length is checked before any of that: a megabyte of text is refused for its length at the
cost of `len()`, not after a pass over every character on the event loop.
"""

from __future__ import annotations

import unicodedata

from pydantic_core import PydanticCustomError

_ALLOWED_CONTROLS = {"\n", "\t"}
# Room for what cleaning removes or joins (surrounding blanks, decomposed accents), so a text
# that fits once cleaned is never refused for its raw length.
_RAW_SLACK = 2

# Embeddings, overrides and isolates (U+202A–202E, U+2066–2069), the marks (U+200E, U+200F,
# U+061C): category Cf, so the control check above does not see them.
BIDI_CONTROLS = frozenset(
    "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
)


def clean_text(value: object, *, multiline: bool = False, max_length: int | None = None) -> object:
    """Normalise a string; leave other types for pydantic to reject with its own message.

    `max_length` is the field's own limit, which pydantic checks again on the cleaned text.
    """
    if not isinstance(value, str):
        return value
    if max_length is not None and len(value) > _RAW_SLACK * max_length:
        raise PydanticCustomError(
            "string_too_long",
            "String should have at most {max_length} characters",
            {"max_length": max_length},
        )
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
