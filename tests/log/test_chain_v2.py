"""Chain version 2: a withheld entry's digest cannot be matched against guesses, and the
entries written before it (version 1, unsalted) still verify beside the new ones, on the
server (`GET …/verify`, `samvirke verify`) and offline (tools/verify_log.py)."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.accounts.models import User
from app.actions import transaction
from app.db import Database
from app.incidents.models import Incident
from app.incidents.service import lock_incident
from app.log import chain
from app.log.models import Classification, EntryKind
from app.log.service import write_entry
from tests.factories import Account
from tests.helpers import all_entries, bearer, check_chain, disable_append_only, raw
from tests.log.offline import verify_export
from tests.support.server import run_cli


def guesses(users: list[Account]) -> Iterator[str]:
    """What an uncleared colleague might try for a short restricted entry: every kind, short
    answers, every author they know. The issue's attack found its entry in 160 of these."""
    texts = ["yes", "no", "Yes", "No", "Yes.", "No.", "ja", "nei", "Ja", "Nei", "Ja.", "Nei."]
    kinds = ["decision", "information", "action", "message_in", "message_out"]
    for kind, text, user in itertools.product(kinds, texts, users):
        yield chain.content_digest(
            kind=kind, text=text, author_id=user.user.id, author_name=user.user.name, corrects=None
        )


def write_v1(
    db: Database,
    incident_id: int,
    monkeypatch: pytest.MonkeyPatch,
    *,
    text: str,
    author: User | None,
    kind: EntryKind = EntryKind.decision,
    classification: Classification = Classification.internal,
) -> None:
    """An entry as the code before chain version 2 wrote it: no salt, `"v": 1`, plain text
    (also for a system entry, which then held its words in the instance's language)."""
    with monkeypatch.context() as old, transaction(db) as tx:
        old.setattr(chain, "new_salt", lambda: None)
        old.setattr(chain, "VERSION", 1)
        incident = tx.session.get(Incident, incident_id)
        assert incident is not None
        lock_incident(tx.session, incident)
        write_entry(
            tx,
            incident=incident,
            kind=kind,
            text=text,
            classification=classification,
            author=author,
        )


def post(client: TestClient, path: str, who: Account, **body: Any) -> dict[str, Any]:
    response = client.post(path, json=body, headers=bearer(who.token))
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def log(client: TestClient, incident_id: int, who: Account, **body: Any) -> dict[str, Any]:
    body.setdefault("kind", "decision")
    return post(client, f"/api/v1/incidents/{incident_id}/log", who, **body)


def test_a_dictionary_attack_on_a_withheld_entry_fails(
    client: TestClient,
    db: Database,
    staff: Account,
    admin: Account,
    cleared: Account,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    incident_id = int(post(client, "/api/v1/incidents", admin, title="Storm Ingunn")["id"])
    # The same restricted decision twice: once as before version 2, once as now.
    write_v1(
        db,
        incident_id,
        monkeypatch,
        text="yes",
        author=admin.user,
        classification=Classification.restricted,
    )
    written = log(client, incident_id, admin, text="yes", classification="restricted")
    assert written["v"] == 2 and len(written["salt"]) >= 32  # 128 bits, for its writer

    seen = all_entries(client, incident_id, headers=bearer(staff.token))
    old, new = seen[1], seen[2]
    assert old["withheld"] and new["withheld"]
    assert (old["v"], new["v"]) == (1, 2)
    assert new["salt"] is None and new["message"] is None
    one = client.get(f"/api/v1/incidents/{incident_id}/log/3", headers=bearer(staff.token))
    assert one.json()["salt"] is None
    export = client.get(f"/api/v1/incidents/{incident_id}/log/export", headers=bearer(staff.token))
    assert written["salt"] not in export.text and written["salt"] not in json.dumps(seen)

    digests = set(guesses([staff, admin, cleared]))
    assert old["content_digest"] in digests  # version 1: a guess confirms the content
    assert new["content_digest"] not in digests  # version 2: the digest tells nothing
    # The cleared reader gets the salt with the content, and checks it.
    cleared_view = all_entries(client, incident_id, headers=bearer(cleared.token))
    assert cleared_view[2]["salt"] == written["salt"]
    check_chain(cleared_view)
    check_chain(seen)


def test_a_mixed_log_verifies_online_and_offline(
    client: TestClient,
    db: Database,
    database_url: str,
    staff: Account,
    cleared: Account,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """v1 entries (system and person, open to restricted), then v2 entries after them."""
    incident_id = int(
        post(client, "/api/v1/incidents", staff, title="Storm Ingunn")["id"]
    )  # #1, v2
    write_v1(
        db,
        incident_id,
        monkeypatch,
        kind=EntryKind.system,
        text="Beredskapsnivå endret fra gul til rød. (Siri Staff)",
        author=None,
    )  # 2
    write_v1(db, incident_id, monkeypatch, text="Evacuate Nordbyen.", author=staff.user)  # 3
    write_v1(
        db,
        incident_id,
        monkeypatch,
        text="Names at the care home.",
        author=cleared.user,
        classification=Classification.restricted,
    )  # 4
    log(client, incident_id, staff, text="Evacuation done.", corrects=3)
    log(client, incident_id, cleared, text="More names.", classification="restricted")
    changed = client.patch(
        f"/api/v1/incidents/{incident_id}", json={"level": "red"}, headers=bearer(staff.token)
    )
    assert changed.status_code == 200  # 7, a v2 system entry

    verified = client.get(
        f"/api/v1/incidents/{incident_id}/log/verify", headers=bearer(staff.token)
    )
    assert verified.json()["ok"] is True, verified.json()
    assert verified.json()["checked"] == 7
    head = verified.json()["head"]["hash"]
    cli = run_cli("verify", "--incident", str(incident_id), cwd=tmp_path, database_url=database_url)
    assert cli.returncode == 0, cli.stdout + cli.stderr

    for token, withheld in ((staff.token, 2), (cleared.token, 0)):
        export = client.get(
            f"/api/v1/incidents/{incident_id}/log/export", headers=bearer(token)
        ).text
        entries = [json.loads(line) for line in export.split("\n") if line]
        assert [e["v"] for e in entries] == [2, 1, 1, 1, 2, 2, 2]
        check_chain(entries)
        result = verify_export(export, tmp_path, "--head", head)
        assert result.returncode == 0, result.stdout + result.stderr
        assert f"7 entries ({withheld} withheld)" in result.stdout

    # Tampering with either version is still caught, online and offline.
    disable_append_only(db)
    raw(
        db,
        "UPDATE log_entry SET text = 'Stay put.' WHERE incident_id = :i AND number = 3",
        i=incident_id,
    )
    raw(
        db,
        "UPDATE log_entry SET text = 'Stay put.' WHERE incident_id = :i AND number = 5",
        i=incident_id,
    )
    broken = client.get(f"/api/v1/incidents/{incident_id}/log/verify", headers=bearer(staff.token))
    assert {p["number"] for p in broken.json()["problems"]} == {3, 5}
    export = client.get(f"/api/v1/incidents/{incident_id}/log/export", headers=bearer(staff.token))
    result = verify_export(export.text, tmp_path)
    assert result.returncode == 1
    assert {line.split(":")[0] for line in result.stdout.splitlines()[1:]} == {"#3", "#5"}


def test_the_chain_covers_a_system_entrys_message(
    client: TestClient, db: Database, staff: Account, tmp_path: Path
) -> None:
    incident_id = int(post(client, "/api/v1/incidents", staff, title="Storm Ingunn")["id"])
    client.patch(
        f"/api/v1/incidents/{incident_id}", json={"level": "red"}, headers=bearer(staff.token)
    )
    entries = all_entries(client, incident_id, headers=bearer(staff.token))
    message: dict[str, Any] = entries[1]["message"]
    assert message == {
        "msgid": "Alert level changed from {old} to {new}.",
        "params": {"old": "yellow", "new": "red"},
        "actor": {"id": staff.user.id, "name": "Siri Staff"},
    }

    # Offline: a changed parameter in the export no longer matches the digest.
    export = client.get(f"/api/v1/incidents/{incident_id}/log/export", headers=bearer(staff.token))
    forged = export.text.replace('"new": "red"', '"new": "green"')
    assert forged != export.text
    result = verify_export(forged, tmp_path)
    assert result.returncode == 1 and "#2: content" in result.stdout, result.stdout

    # Online: the same change in the database.
    disable_append_only(db)
    raw(
        db,
        "UPDATE log_entry SET message = replace(message, '\"red\"', '\"green\"') "
        "WHERE incident_id = :i AND number = 2",
        i=incident_id,
    )
    broken = client.get(f"/api/v1/incidents/{incident_id}/log/verify", headers=bearer(staff.token))
    assert broken.json()["problems"] == [
        {"number": 2, "problem": "content does not match its digest"}
    ]


def test_a_tampered_message_that_does_not_format_is_shown_as_its_id(
    client: TestClient, db: Database, staff: Account
) -> None:
    incident_id = int(post(client, "/api/v1/incidents", staff, title="Storm Ingunn")["id"])
    disable_append_only(db)
    raw(
        db,
        "UPDATE log_entry SET message = replace(message, 'level {level}', 'level {lvl}') "
        "WHERE incident_id = :i AND number = 1",
        i=incident_id,
    )
    first = all_entries(client, incident_id, headers=bearer(staff.token))[0]
    assert first["text"] == "Incident opened at alert level {lvl}. (Siri Staff)"
    broken = client.get(f"/api/v1/incidents/{incident_id}/log/verify", headers=bearer(staff.token))
    assert broken.json()["problems"] == [
        {"number": 1, "problem": "content does not match its digest"}
    ]
