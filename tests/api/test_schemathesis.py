"""Property-based tests of the JSON API from its own OpenAPI document (Schemathesis).

Every operation gets generated requests, valid and invalid, with a bearer token; no answer may
be a server error, and every answer must match what the document promises (status code,
content type, body schema). Bounded (EXAMPLES per operation and mode) so the suite stays
fast; SQLite only: the rules under test live above the database, and the rest of the suite
runs on both.

Hypothesis is driven here through `APIOperation.as_strategy()` rather than
`schemathesis.pytest.from_fixture`, whose lazy loader does not work with pytest 9.
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode, checks
from schemathesis.core.result import Ok

from app.db import Database
from app.incidents import service as incidents
from app.incidents.models import IncidentChange, Phase
from tests import factories
from tests.factories import Account
from tests.helpers import bearer

# Per operation and mode; SAMVIRKE_FUZZ_EXAMPLES=500 for a deeper search now and then.
EXAMPLES = int(os.environ.get("SAMVIRKE_FUZZ_EXAMPLES", "20"))
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    # Not negative_data_rejection: it counts an ignored unknown query parameter as accepting
    # invalid data, and ignoring those is ordinary HTTP behaviour. Invalid bodies, paths and
    # known parameters are tested for 4xx answers in test_log.py and test_incidents.py.
]


def _seed(db: Database, staff: Account) -> None:
    """Something to find at small ids: open incidents with entries and corrections, a closed one."""
    for title in ("Flom", "Brann"):
        incident = factories.incident(db, staff, title=title)
        factories.entry(db, staff, incident, kind="decision", text="Evacuate.")
        factories.entry(db, staff, incident, text="Evacuate Nordbyen only.", corrects=2)
    closed = factories.incident(db, staff, title="Over")
    incidents.change_incident(
        db, actor=staff.user, incident=closed, change=IncidentChange(phase=Phase.closed)
    )


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_api_conforms_and_never_fails(
    app: FastAPI, db: Database, staff: Account, mode: GenerationMode
) -> None:
    _seed(db, staff)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    headers = bearer(staff.token)
    failures: dict[str, str] = {}
    operations = 0
    for result in schema.get_all_operations():
        if not isinstance(result, Ok):
            failures[f"schema error {operations}"] = str(result.err())
            continue
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy(mode))
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=headers, checks=CHECKS)

        try:
            run()
        except Unsatisfiable:
            # Nothing in GET /healthz (no parameters, no body) can be made invalid.
            if mode is GenerationMode.POSITIVE or operation.path != "/healthz":
                raise
        except Exception as exc:  # noqa: BLE001 (collect every operation's failure, then report)
            failures[operation.label] = f"{type(exc).__name__}: {exc}"
    assert operations >= 9
    assert not failures, "\n\n".join(f"{label}:\n{text}" for label, text in failures.items())


def test_the_document_names_every_enum(app: FastAPI) -> None:
    components = app.openapi()["components"]["schemas"]
    assert set(components["EntryKind"]["enum"]) == {
        "decision",
        "information",
        "action",
        "message_in",
        "message_out",
        "system",
    }
    assert set(components["PersonKind"]["enum"]) == set(components["EntryKind"]["enum"]) - {
        "system"
    }
    assert set(components["Classification"]["enum"]) == {"open", "internal", "restricted"}
    assert set(components["Level"]["enum"]) == {"green", "yellow", "red"}
    assert set(components["Phase"]["enum"]) == {
        "alert",
        "first_meeting",
        "response",
        "stand_down",
        "review",
        "closed",
    }
    assert len(components["Category"]["enum"]) == 9 and "other" in components["Category"]["enum"]
    entry = components["LogEntryPublic"]["properties"]
    for field in ("number", "withheld", "kind", "text", "author", "recorded_at", "content_digest"):
        assert entry[field].get("description"), field
    problem = app.openapi()["paths"]["/api/v1/incidents"]["post"]["responses"]["401"]["content"]
    assert problem["application/problem+json"]["schema"] == {"$ref": "#/components/schemas/Problem"}
