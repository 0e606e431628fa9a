"""Incidents through the pages: list, opening one, the exercise banner, level and phase."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient
from httpx2 import Response

from app.db import Database
from tests import factories
from tests.factories import Account
from tests.helpers import all_entries, bearer
from tests.web.helpers import csrf_of, entry_ids, htmx, sign_in, text_of


def _close(client: TestClient, incident_id: int | None, token: str, **kw: Any) -> Response:
    """Send the confirmed closing form of the incident page."""
    return client.post(
        f"/incidents/{incident_id}/phase",
        data={"phase": "closed", "confirm": "yes", "csrf_token": token},
        **kw,
    )


def test_open_an_incident_through_the_form(client: TestClient, staff: Account) -> None:
    sign_in(client, staff)
    form = client.get("/incidents/new")
    response = client.post(
        "/incidents",
        data={
            "title": "Storm Ingunn",
            "category": "water_supply",
            "level": "red",
            "csrf_token": csrf_of(form),
        },
        follow_redirects=False,
    )
    assert response.status_code == 303
    match = re.fullmatch(r"/incidents/(\d+)", response.headers["location"])
    assert match
    page = text_of(client.get(response.headers["location"]).text)
    assert "Storm Ingunn" in page
    assert "Water supply" in page
    assert "Red" in page
    assert "opened by Siri Staff" in page
    assert "EXERCISE" not in page

    listing = text_of(client.get("/").text)
    assert "Storm Ingunn" in listing


def test_opening_without_a_title_keeps_what_was_typed(client: TestClient, staff: Account) -> None:
    token = sign_in(client, staff)
    response = client.post(
        "/incidents",
        data={
            "title": "   ",
            "category": "pandemic",
            "level": "green",
            "exercise": "1",
            "csrf_token": token,
        },
    )
    assert response.status_code == 422
    assert "Title must be filled in." in text_of(response.text)
    assert re.search(r'<option value="pandemic" selected', response.text)
    assert re.search(r'value="green" checked', response.text)
    assert re.search(r'id="exercise"[^>]*checked', response.text)
    assert "Storm" not in client.get("/").text


def test_an_exercise_is_marked_on_every_page_of_it(
    client: TestClient, db: Database, staff: Account
) -> None:
    exercise = factories.incident(db, staff, title="Øvelse Nordlys", exercise=True)
    real = factories.incident(db, staff, title="Real outage")
    sign_in(client, staff)
    for path in (f"/incidents/{exercise.id}", f"/incidents/{exercise.id}/print"):
        page = client.get(path)
        assert 'class="exercise-banner"' in page.text, path
        assert "ØVELSE — EXERCISE" in text_of(page.text)
    assert 'class="exercise-banner"' not in client.get(f"/incidents/{real.id}").text
    listing = client.get("/").text
    row = re.search(
        r'<tr class="incident-row incident-row--exercise"[^>]*>.*?</tr>', listing, re.DOTALL
    )
    assert row and "Øvelse Nordlys" in row.group(0)


def test_open_incidents_are_listed_before_closed_ones(
    client: TestClient, db: Database, staff: Account
) -> None:
    closed = factories.incident(db, staff, title="Old flood")
    factories.incident(db, staff, title="Current storm")
    token = sign_in(client, staff)
    _close(client, closed.id, token)
    listing = text_of(client.get("/").text)
    assert listing.index("Open incidents") < listing.index("Current storm")
    assert (
        listing.index("Current storm")
        < listing.index("Closed incidents")
        < listing.index("Old flood")
    )


def test_changing_the_level_logs_a_system_entry(
    client: TestClient, db: Database, staff: Account
) -> None:
    incident = factories.incident(db, staff, level="yellow")
    token = sign_in(client, staff)
    response = client.post(
        f"/incidents/{incident.id}/level",
        data={"level": "red", "csrf_token": token},
        follow_redirects=False,
    )
    assert response.status_code == 303
    log = all_entries(client, incident.id or 0, bearer(staff.token))
    assert [e["system"] for e in log] == [True, True]
    assert "(Siri Staff)" in str(log[-1]["text"])
    page = client.get(f"/incidents/{incident.id}").text
    assert re.search(r'<span class="level level--red">Red</span>', page)
    newest = re.search(
        r'<li class="entry entry--system" id="entry-2"[^>]*>.*?</li>', page, re.DOTALL
    )
    assert newest and "Samvirke (automatic)" in text_of(newest.group(0))


def test_changing_the_phase_with_htmx_answers_the_header_and_the_log(
    client: TestClient, db: Database, staff: Account
) -> None:
    incident = factories.incident(db, staff)
    token = sign_in(client, staff)
    response = client.post(
        f"/incidents/{incident.id}/phase",
        data={"phase": "response", "csrf_token": token},
        headers=htmx("phase-form", f"http://testserver/incidents/{incident.id}"),
    )
    assert response.status_code == 200
    assert response.text.lstrip().startswith('<header id="incident-header"')
    assert "<html" not in response.text
    assert re.search(r'<ol id="log-entries"[^>]*hx-swap-oob="true"', response.text)
    assert entry_ids(response.text) == [2, 1]
    assert "Response" in text_of(response.text)


def test_closing_asks_first_without_javascript(
    client: TestClient, db: Database, staff: Account
) -> None:
    incident = factories.incident(db, staff, title="Heatwave")
    token = sign_in(client, staff)
    asked = client.post(
        f"/incidents/{incident.id}/phase", data={"phase": "closed", "csrf_token": token}
    )
    assert asked.status_code == 200
    assert "Close “Heatwave”?" in text_of(asked.text)
    entries = all_entries(client, incident.id or 0, bearer(staff.token))
    assert len(entries) == 1  # nothing changed yet

    closed = _close(client, incident.id, token, follow_redirects=False)
    assert closed.status_code == 303
    page = client.get(f"/incidents/{incident.id}").text
    assert "This incident is closed." in text_of(page)
    assert 'id="log-form"' not in page
    assert 'id="level-form"' not in page
    assert "data-correct" not in page


def test_closing_with_htmx_reloads_the_page(
    client: TestClient, db: Database, staff: Account
) -> None:
    incident = factories.incident(db, staff)
    token = sign_in(client, staff)
    response = _close(client, incident.id, token, headers=htmx("close-form"))
    assert response.headers["HX-Refresh"] == "true"


def test_a_closed_incident_refuses_changes_clearly(
    client: TestClient, db: Database, staff: Account
) -> None:
    incident = factories.incident(db, staff)
    token = sign_in(client, staff)
    _close(client, incident.id, token)
    response = client.post(
        f"/incidents/{incident.id}/level",
        data={"level": "red", "csrf_token": token},
        headers=htmx("level-form"),
    )
    assert response.status_code == 409
    assert response.headers["HX-Retarget"] == "#level-form-errors"
    assert "This incident is closed" in text_of(response.text)


def test_unknown_incident_is_a_clear_404(client: TestClient, staff: Account) -> None:
    sign_in(client, staff)
    response = client.get("/incidents/9999")
    assert response.status_code == 404
    assert "Incident 9999 does not exist." in text_of(response.text)
