"""Translations: Babel catalogues in app/translations, `nb` by default, `en` available.

Message ids are English. The `.po` catalogues are compiled in memory when first used, so a
checkout runs without a separate compile step and can never serve a stale `.mo`.
"""

from __future__ import annotations

from functools import lru_cache
from io import BytesIO
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

from app.config import LANGUAGES

TRANSLATIONS_DIR = Path(__file__).parent / "translations"


@lru_cache
def translations(language: str) -> NullTranslations:
    po_path = TRANSLATIONS_DIR / language / "LC_MESSAGES" / "messages.po"
    if language not in LANGUAGES or not po_path.exists():
        return NullTranslations()
    with po_path.open("rb") as po_file:
        catalog = read_po(po_file, locale=language)
    buffer = BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(buffer)


class Term(str):
    """A message parameter that is itself a msgid (a marked word, such as the name of a
    classification): translated along with the message it goes into."""

    __slots__ = ()


def _words(language: str, params: dict[str, object]) -> dict[str, object]:
    catalogue = translations(language)
    return {k: catalogue.gettext(v) if isinstance(v, Term) else v for k, v in params.items()}


def gettext(language: str, msgid: str, /, **params: object) -> str:
    text = translations(language).gettext(msgid)
    return text.format(**_words(language, params)) if params else text


def ngettext(language: str, singular: str, plural: str, n: int, /, **params: object) -> str:
    text = translations(language).ngettext(singular, plural, n)
    return text.format(n=n, **_words(language, params))


def negotiate(accept_language: str | None, default: str) -> str:
    """Pick the best of our languages from an Accept-Language header."""
    if not accept_language:
        return default
    ranked: list[tuple[float, str]] = []
    for part in accept_language.split(","):
        tag, _, quality = part.strip().partition(";q=")
        try:
            weight = float(quality) if quality else 1.0
        except ValueError:
            continue
        primary = tag.strip().lower().split("-")[0]
        if primary in ("no", "nn"):
            primary = "nb"  # Norwegian readers read bokmål; we have no nynorsk catalogue yet
        if primary in LANGUAGES:
            ranked.append((weight, primary))
    return max(ranked, key=lambda item: item[0])[1] if ranked else default


def N_(message: str) -> str:
    """Mark a string for extraction; it is translated later, where the reader is known."""
    return message
