"""The log on the incident page: writing by form and by htmx, errors that keep the text,
corrections, filters, paging, clearance and the paper log."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from httpx2 import Response

from app.actions import transaction
from app.db import Database
from app.incidents.models import Incident
from app.incidents.service import get_incident, lock_incident
from tests import factories
from tests.factories import Account
from tests.web.helpers import entry_ids, htmx, sign_in, text_of, textarea_value


def _post(
    client: TestClient,
    incident: Incident,
    token: str,
    headers: dict[str, str] | None = None,
    **fields: str,
) -> Response:
    data = {"kind": "information", "classification": "internal", "csrf_token": token, **fields}
    return client.post(
        f"/incidents/{incident.id}/log", data=data, headers=headers or {}, follow_redirects=False
    )


def _api_entries(
    client: TestClient, account: Account, incident: Incident
) -> list[dict[str, object]]:
    response = client.get(
        f"/api/v1/incidents/{incident.id}/log", headers={"Authorization": f"Bearer {account.token}"}
    )
    items: list[dict[str, object]] = response.json()["items"]
    return items


def test_log_an_entry_with_a_plain_form(client: TestClient, db: Database, staff: Account) -> None:
    incident = factories.incident(db, staff)
    token = sign_in(client, staff)
    response = _post(
        client, incident, token, kind="decision", text="Open the crisis room.\nCall in the staff."
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"/incidents/{incident.id}"
    page = client.get(response.headers["location"]).text
    entry = re.search(
        r'<li class="entry entry--decision" id="entry-2"[^>]*>.*?</li>', page, re.DOTALL
    )
    assert entry, "the new entry is listed first, as a decision"
    assert "Open the crisis room.\nCall in the staff." in entry.group(0)  # line break kept
    assert "Siri Staff" in text_of(entry.group(0))
    assert entry_ids(page) == [2, 1]


def test_log_an_entry_with_htmx_answers_the_list(
    client: TestClient, db: Database, staff: Account
) -> None:
    incident = factories.incident(db, staff)
    token = sign_in(client, staff)
    response = _post(
        client, incident, token, htmx("log-form"), text="Water tanker sent to <Solbakken>"
    )
    assert response.status_code == 200
    assert response.text.lstrip().startswith('<ol id="log-entries"')
    assert "<html" not in response.text
    assert "Water tanker sent to &lt;Solbakken&gt;" in response.text  # escaped, never markup
    assert entry_ids(response.text) == [2, 1]
    assert re.search(r'<nav id="log-more"[^>]*hx-swap-oob="true"', response.text)
    newest = _api_entries(client, staff, incident)[-1]
    assert newest["text"] == "Water tanker sent to <Solbakken>"


@pytest.mark.parametrize(
    ("fields", "status", "message"),
    [
        ({"text": "   "}, 422, "Text must be filled in."),
        ({"text": "x" * 10_001}, 422, "Text can have at most 10000 characters."),
        (
            {"text": "Later", "occurred_at": "2999-01-01T10:00"},
            422,
            "The time it happened cannot be in the future.",
        ),
        (
            {"text": "Secret", "classification": "restricted"},
            403,
            "You are not cleared to write restricted entries.",
        ),
        ({"text": "Fix", "corrects": "99"}, 422, "Entry #99 does not exist in this log."),
    ],
)
def test_a_refused_entry_keeps_the_text_with_htmx(
    client: TestClient,
    db: Database,
    staff: Account,
    fields: dict[str, str],
    status: int,
    message: str,
) -> None:
    incident = factories.incident(db, staff)
    token = sign_in(client, staff)
    response = _post(client, incident, token, htmx("log-form"), **fields)
    assert response.status_code == status
    assert response.headers["HX-Retarget"] == "#log-form-errors"
    assert response.headers["HX-Reswap"] == "innerHTML"
    assert message in text_of(response.text)
    assert len(_api_entries(client, staff, incident)) == 1  # nothing was written


def test_a_refused_entry_keeps_the_text_without_javascript(
    client: TestClient, db: Database, staff: Account
) -> None:
    incident = factories.incident(db, staff)
    token = sign_in(client, staff)
    typed = "Evacuate Solbakken care home\nbefore 18:00"
    response = _post(
        client, incident, token, text=typed, kind="action", occurred_at="2999-01-01T10:00"
    )
    assert response.status_code == 422
    errors = re.search(r'<div id="log-form-errors".*?</div>', response.text, re.DOTALL)
    assert errors and "The time it happened cannot be in the future." in text_of(errors.group(0))
    assert textarea_value(response.text, "log-text") == typed
    assert re.search(r'value="action"[^>]* checked', response.text)
    assert 'value="2999-01-01T10:00"' in response.text


def test_a_closed_incident_refuses_an_entry_with_a_clear_message(
    client: TestClient, db: Database, staff: Account
) -> None:
    incident = factories.incident(db, staff)
    token = sign_in(client, staff)
    page = f"http://testserver/incidents/{incident.id}"
    client.post(
        f"/incidents/{incident.id}/phase",
        data={"phase": "closed", "confirm": "yes", "csrf_token": token},
    )

    with_htmx = _post(client, incident, token, htmx("log-form", page), text="Too late")
    assert with_htmx.status_code == 409
    closed_message = "This incident is closed: nothing more can be logged or changed."
    assert closed_message in text_of(with_htmx.text)

    plain = _post(client, incident, token, text="Also too late")
    assert plain.status_code == 409
    assert "This incident is closed." in text_of(plain.text)
    assert "Also too late" in text_of(plain.text)  # shown so it can be kept elsewhere
    assert [e["kind"] for e in _api_entries(client, staff, incident)] == ["system", "system"]


def test_happened_at_is_read_in_the_local_time_zone(
    client: TestClient, db: Database, staff: Account
) -> None:
    incident = factories.incident(db, staff)
    token = sign_in(client, staff)
    _post(client, incident, token, text="Power lost", occurred_at="2024-01-15T10:00")
    _post(client, incident, token, text="Power back", occurred_at="2024-07-15T10:00")
    winter, summer = _api_entries(client, staff, incident)[1:]
    assert datetime.fromisoformat(str(winter["occurred_at"])).astimezone(UTC).hour == 9  # CET
    assert datetime.fromisoformat(str(summer["occurred_at"])).astimezone(UTC).hour == 8  # CEST
    page = client.get(f"/incidents/{incident.id}").text
    assert "15.01.2024 10:00" in page  # the date is shown when it is not today


def test_restricted_entries_are_withheld_from_uncleared_staff(
    client: TestClient, db: Database, staff: Account, cleared: Account
) -> None:
    incident = factories.incident(db, staff)
    secret = factories.entry(
        db, cleared, incident, text="Patient list for ward 3", classification="restricted"
    )
    sign_in(client, staff)
    page = client.get(f"/incidents/{incident.id}").text
    assert "Patient list for ward 3" not in page
    assert "Rolf Restricted" not in page
    withheld = re.search(
        rf'<li class="entry entry--withheld" id="entry-{secret.number}"[^>]*>.*?</li>',
        page,
        re.DOTALL,
    )
    assert withheld and "Restricted entry (you are not cleared)" in text_of(withheld.group(0))
    assert '<option value="restricted"' not in page  # not offered to write either
    # The kind filter must not reveal a withheld entry's kind.
    assert "Patient list" not in client.get(f"/incidents/{incident.id}?kind=information").text
    assert "Patient list" not in client.get(f"/incidents/{incident.id}/print").text

    client.cookies.clear()
    sign_in(client, cleared)
    page = client.get(f"/incidents/{incident.id}").text
    assert "Patient list for ward 3" in page
    assert '<option value="restricted"' in page


def test_a_correction_is_linked_both_ways(client: TestClient, db: Database, staff: Account) -> None:
    incident = factories.incident(db, staff)
    wrong = factories.entry(db, staff, incident, kind="decision", text="Evacuate ward 2")
    token = sign_in(client, staff)

    # Without JavaScript the "Correct" link opens the page with the form filled in.
    prefilled = client.get(f"/incidents/{incident.id}?corrects={wrong.number}").text
    assert textarea_value(prefilled, "log-text") == "Evacuate ward 2"
    assert re.search(rf'id="log-corrects" value="{wrong.number}"', prefilled)

    _post(
        client, incident, token, kind="decision", text="Evacuate ward 4", corrects=str(wrong.number)
    )
    page = client.get(f"/incidents/{incident.id}").text
    original = re.search(
        rf'<li class="entry[^"]*" id="entry-{wrong.number}"[^>]*>.*?</li>', page, re.DOTALL
    )
    correction = re.search(r'<li class="entry[^"]*" id="entry-3"[^>]*>.*?</li>', page, re.DOTALL)
    assert original and "entry--corrected" in original.group(0)
    assert "Corrected by #3" in text_of(original.group(0))
    assert correction and f"Corrects #{wrong.number}" in text_of(correction.group(0))


def test_filter_by_kind_with_and_without_htmx(
    client: TestClient, db: Database, staff: Account
) -> None:
    incident = factories.incident(db, staff)
    factories.entry(db, staff, incident, kind="decision", text="Decided A")
    factories.entry(db, staff, incident, kind="action", text="Did B")
    sign_in(client, staff)
    page = client.get(f"/incidents/{incident.id}?kind=decision").text
    assert "Decided A" in page and "Did B" not in page
    assert entry_ids(page) == [2]

    block = client.get(
        f"/incidents/{incident.id}?kind=action", headers={"HX-Request": "true", "HX-Target": "log"}
    )
    assert block.text.lstrip().startswith('<div id="log">')
    assert entry_ids(block.text) == [3]


def test_show_older_pages_through_a_long_log(
    client: TestClient, db: Database, staff: Account
) -> None:
    incident = factories.incident(db, staff)
    for n in range(104):
        factories.entry(db, staff, incident, text=f"Update {n}")
    sign_in(client, staff)
    first = client.get(f"/incidents/{incident.id}").text
    assert entry_ids(first) == list(range(105, 5, -1))
    older = re.search(r'href="(/incidents/\d+\?before=6)"', first)
    assert older, "a link to the older entries"
    second = client.get(older.group(1)).text
    assert entry_ids(second) == [5, 4, 3, 2, 1]
    assert "Show the newest entries" in text_of(second)

    printed = client.get(f"/incidents/{incident.id}/print").text
    assert "Update 0" in printed and "Update 103" in printed
    assert printed.index("Update 0") < printed.index("Update 103")  # paper reads oldest first


def test_csrf_is_required_for_a_log_entry(client: TestClient, db: Database, staff: Account) -> None:
    incident = factories.incident(db, staff)
    sign_in(client, staff)
    response = client.post(
        f"/incidents/{incident.id}/log",
        data={"kind": "information", "text": "Forged"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 403
    assert len(_api_entries(client, staff, incident)) == 1


def test_edited_query_values_are_ignored(client: TestClient, db: Database, staff: Account) -> None:
    incident = factories.incident(db, staff)
    sign_in(client, staff)
    for query in ("before=abc", "corrects=%C2%B2", "kind=bogus", "before=99999999999999999999"):
        page = client.get(f"/incidents/{incident.id}?{query}")
        assert page.status_code == 200, query
        assert entry_ids(page.text) == [1], query


def test_an_entry_the_database_cannot_take_in_time_says_so_in_the_form(
    short_write_wait: None, client: TestClient, db: Database, staff: Account
) -> None:
    incident = factories.incident(db, staff)
    token = sign_in(client, staff)
    with transaction(db) as stuck:  # another writer holds the incident's write lock
        lock_incident(stuck.session, get_incident(stuck.session, incident.id))
        response = _post(client, incident, token, htmx("log-form"), text="Evakuer sone B.")
        stuck.session.rollback()
    assert response.status_code == 503
    assert response.headers["HX-Retarget"] == "#log-form-errors"  # the typed text stays
    message = text_of(response.text)
    assert "svarte ikke i tide" in message or "did not answer in time" in message
    assert len(_api_entries(client, staff, incident)) == 1  # only the opening line


def test_a_form_sent_twice_logs_one_entry(client: TestClient, db: Database, staff: Account) -> None:
    """The answer to the first send never came (the network dropped it); the page sends the
    same form again, with the same request key, and the entry is logged once."""
    incident = factories.incident(db, staff)
    token = sign_in(client, staff)
    page = client.get(f"/incidents/{incident.id}").text
    key = re.search(r'name="request_key" id="log-request-key" value="([0-9a-f]{32})"', page)
    assert key, "the form carries a request key"
    for _ in range(2):
        response = _post(
            client,
            incident,
            token,
            htmx("log-form"),
            text="Strømmen er tilbake.",
            request_key=key[1],
        )
        assert response.status_code == 200
    assert [e["text"] for e in _api_entries(client, staff, incident)].count(
        "Strømmen er tilbake."
    ) == 1
    fresh = client.get(f"/incidents/{incident.id}").text
    assert key[1] not in fresh  # every page load has a key of its own
    refused = _post(
        client, incident, token, htmx("log-form"), text="Noe annet.", request_key=key[1]
    )
    assert refused.status_code == 409
    assert "#2" in text_of(refused.text)
