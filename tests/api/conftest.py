"""API test helpers: an open incident made over HTTP by the staff user."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.fast_fixtures import database_url, postgres_reused  # noqa: F401


def open_incident(api: TestClient, **fields: Any) -> dict[str, Any]:
    body = {"title": "Storm Ingunn", **fields}
    response = api.post("/api/v1/incidents", json=body)
    assert response.status_code == 201, response.text
    incident: dict[str, Any] = response.json()
    return incident


def log(api: TestClient, incident_id: int, **fields: Any) -> dict[str, Any]:
    body = {"kind": "information", "text": "Power is out in Nordbyen.", **fields}
    response = api.post(f"/api/v1/incidents/{incident_id}/log", json=body)
    assert response.status_code == 201, response.text
    entry: dict[str, Any] = response.json()
    return entry


def all_entries(
    client: TestClient, incident_id: int, headers: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    response = client.get(
        f"/api/v1/incidents/{incident_id}/log", params={"limit": 1000}, headers=headers
    )
    assert response.status_code == 200, response.text
    assert response.json()["next_after"] is None
    items: list[dict[str, Any]] = response.json()["items"]
    return items


@pytest.fixture
def incident_id(api: TestClient) -> int:
    """An open incident (its log holds the system entry #1)."""
    return int(open_incident(api)["id"])
