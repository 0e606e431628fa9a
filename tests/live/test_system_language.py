"""System entries are shown in each reader's language, on the page, in the JSON API and in both
live pushes; what is stored and hashed is their message, in no language."""

from __future__ import annotations

from html import unescape

from fastapi.testclient import TestClient

from app.accounts import service as accounts
from app.db import Database
from app.incidents.models import Incident, Level
from tests import factories
from tests.factories import Account
from tests.helpers import bearer
from tests.live.conftest import Socket, events_url, head_seq
from tests.live.test_pages import incident_path, messages_through, page_socket, session_of
from tests.web.helpers import sign_in

ENGLISH = "Alert level changed from yellow to red. (Rolf Restricted)"
NORWEGIAN = "Beredskapsnivå endret fra gul til rød. (Rolf Restricted)"
OPENED_EN = "Incident opened at alert level yellow. (Rolf Restricted)"
OPENED_NB = "Hendelse opprettet med beredskapsnivå gul. (Rolf Restricted)"


def raise_level(db: Database, actor: Account, incident: Incident) -> None:
    factories.change(db, actor, incident, level=Level.red)


def test_api_text_follows_the_requests_language(
    client: TestClient, db: Database, cleared: Account, incident: Incident
) -> None:
    url = f"/api/v1/incidents/{incident.id}/log"

    def first_text(**headers: str) -> str:
        answer = client.get(url, headers={**bearer(cleared.token), **headers})
        text: str = answer.json()["items"][0]["text"]
        return text

    assert first_text() == OPENED_NB  # the instance's language, as before
    assert first_text(**{"Accept-Language": "en-GB,en;q=0.9"}) == OPENED_EN
    assert first_text(**{"Accept-Language": "nb"}) == OPENED_NB
    accounts.set_language(db, user=cleared.user, language="en")  # the pages' choice, not theirs
    assert first_text() == OPENED_NB
    one = client.get(f"{url}/1", headers={**bearer(cleared.token), "Accept-Language": "nb"})
    assert one.json()["text"] == OPENED_NB
    export = client.get(f"{url}/export", headers={**bearer(cleared.token), "Accept-Language": "en"})
    assert OPENED_EN in export.text
    assert one.json()["message"] == {
        "msgid": "Incident opened at alert level {level}.",
        "params": {"level": "yellow"},
        "actor": {"id": cleared.user.id, "name": "Rolf Restricted"},
    }


def test_pages_and_pushes_are_in_each_readers_language(
    client: TestClient, db: Database, cleared: Account, incident: Incident
) -> None:
    norwegian = factories.account(db, name="Nina Norsk", email="nina@example.no")
    english = factories.account(db, name="Emma English", email="emma@example.no", language="en")
    head = head_seq(db, incident)
    nb_session, en_session = session_of(client, norwegian), session_of(client, english)
    path = incident_path(incident)
    with (
        page_socket(client, path, nb_session, after=head) as nb_page,
        page_socket(client, path, en_session, after=head) as en_page,
        client.websocket_connect(
            events_url(incident.id, head),
            headers={**bearer(cleared.token), "Accept-Language": "en"},
        ) as en_json,
        client.websocket_connect(
            events_url(incident.id, head),
            headers={**bearer(cleared.token), "Accept-Language": "nb"},
        ) as nb_json,
    ):
        raise_level(db, cleared, incident)
        pushed = {
            "nb page": unescape("".join(m[2] for m in messages_through(nb_page, head + 2))),
            "en page": unescape("".join(m[2] for m in messages_through(en_page, head + 2))),
        }
        json_entries = {
            name: next(
                e["data"]["entry"]
                for e in Socket(raw).events_through(head + 2)
                if e["type"] == "log.appended"
            )
            for name, raw in (("en", en_json), ("nb", nb_json))
        }
    assert NORWEGIAN in pushed["nb page"] and ENGLISH not in pushed["nb page"]
    assert ENGLISH in pushed["en page"] and NORWEGIAN not in pushed["en page"]
    assert json_entries["en"]["text"] == ENGLISH
    assert json_entries["nb"]["text"] == NORWEGIAN
    assert json_entries["en"]["message"] == json_entries["nb"]["message"]

    for who, shown, opened, hidden in (
        (english, ENGLISH, OPENED_EN, NORWEGIAN),
        (norwegian, NORWEGIAN, OPENED_NB, ENGLISH),
    ):
        client.cookies.clear()
        sign_in(client, who)
        for page in (f"/incidents/{incident.id}", f"/incidents/{incident.id}/print"):
            html = unescape(client.get(page).text)
            assert shown in html and opened in html and hidden not in html, page
