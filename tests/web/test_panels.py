"""The incident page is its header and the panels the domains declare, in order.

A made-up panel stands for the next domain's (the picture, cards, alerts): declared as a
`Panel`, it shows on the page after the log's, and answers an htmx request aimed at it alone,
with no change to the log's code or templates.
"""

from __future__ import annotations

import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from jinja2 import ChoiceLoader, DictLoader

from app import domains
from app.db import Database
from app.log import panel as log_panel
from app.ui.panels import PageView, Panel, incident_context
from app.ui.templates import env
from tests import factories
from tests.factories import Account
from tests.web.helpers import sign_in

PICTURE = """<section class="picture" aria-labelledby="picture-heading">
  <h2 id="picture-heading">Picture</h2>
  {% block picture %}<div id="picture" data-seq="{{ seq }}">{{ summary }}</div>{% endblock %}
</section>"""


def _picture(view: PageView) -> dict[str, str]:
    return {"summary": f"Situation of {view.incident.title}"}


@pytest.fixture
def picture(app: FastAPI, monkeypatch: pytest.MonkeyPatch) -> Panel:
    panel = Panel(
        name="picture", template="picture/panel.html", context=_picture, targets=("picture",)
    )
    loader = ChoiceLoader([DictLoader({panel.template: PICTURE}), env.loader])  # type: ignore[list-item]
    monkeypatch.setattr(env, "loader", loader)
    monkeypatch.setattr(app.state, "panels", (*app.state.panels, panel))
    return panel


def test_the_domains_declare_the_log_panel() -> None:
    assert log_panel.PANEL in domains.panels()


def test_a_declared_panel_shows_after_the_others(
    client: TestClient, db: Database, staff: Account, picture: Panel
) -> None:
    incident = factories.incident(db, staff, title="Storm Ingunn")
    sign_in(client, staff)
    page = client.get(f"/incidents/{incident.id}").text
    assert page.index('<section class="log"') < page.index('<section class="picture"')
    assert "Situation of Storm Ingunn" in page
    aimed = client.get(
        f"/incidents/{incident.id}", headers={"HX-Request": "true", "HX-Target": "picture"}
    ).text
    assert re.fullmatch(r'<div id="picture" data-seq="\d+">Situation of Storm Ingunn</div>', aimed)


def test_panels_may_not_overwrite_each_others_values(db: Database, staff: Account) -> None:
    incident = factories.incident(db, staff)
    clashing = Panel(name="clash", template="x.html", context=lambda view: {"entries": []})
    with db.read_session() as session:
        view = PageView(session, staff.user, incident, "en", {})
        with pytest.raises(ValueError, match="entries"):
            incident_context(view, (log_panel.PANEL, clashing))
