"""The one template environment: translations, time filters and the vocabulary built in.

Pages (`web/render.py`), htmx answers and the live push (`live/`, the domains' `live.py`) all
render from this environment, so a block looks the same whichever of them renders it. The
globals exist as soon as this module is imported: nothing has to be imported for its effect.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, pass_context
from jinja2.runtime import Context

from app import i18n
from app.ui.assets import static_url
from app.ui.labels import VOCABULARY
from app.ui.times import isotime, localtime

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"
env = Environment(
    loader=FileSystemLoader(TEMPLATES_DIR),
    autoescape=True,
    extensions=["jinja2.ext.i18n"],
    trim_blocks=True,
    lstrip_blocks=True,
)


@pass_context
def _gettext(context: Context, message: str, **params: Any) -> str:
    text = i18n.translations(context.get("lang", "nb")).gettext(message)
    return text % params if params else text


@pass_context
def _ngettext(context: Context, singular: str, plural: str, n: int, **params: Any) -> str:
    text = i18n.translations(context.get("lang", "nb")).ngettext(singular, plural, n)
    return text % {"num": n, **params}


env.install_gettext_callables(_gettext, _ngettext, newstyle=True)  # type: ignore[attr-defined]
env.filters["localtime"] = localtime
env.filters["isotime"] = isotime
env.globals["static_url"] = static_url
env.globals.update(VOCABULARY)


def shared_context(
    *, lang: str, zone: ZoneInfo, oob: tuple[str, ...], **values: Any
) -> dict[str, Any]:
    """The context of a block rendered once for many readers (a live push): nothing in it may
    depend on one of them. So the CSRF fields are empty (htmx sends the page's token as a
    header, which `check_csrf` accepts), and `oob` names the blocks swapped out of band."""
    return {"lang": lang, "zone": zone, "oob": oob, "csrf_token": "", **values}
