"""API tokens over the JSON API: create (the secret once), list, last use, expiry, revoke."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.accounts import tokens
from app.db import utcnow
from tests.factories import Account
from tests.helpers import bearer, open_incident


def create(api: TestClient, headers: dict[str, str] | None = None, **body: Any) -> dict[str, Any]:
    response = api.post("/api/v1/tokens", json={"name": "wall screen", **body}, headers=headers)
    assert response.status_code == 201, response.text
    made: dict[str, Any] = response.json()
    return made


def listed(api: TestClient, **params: Any) -> dict[int, dict[str, Any]]:
    response = api.get("/api/v1/tokens", params=params)
    assert response.status_code == 200, response.text
    return {t["id"]: t for t in response.json()}


def test_a_token_is_made_shown_once_and_listed_without_its_secret(
    api: TestClient, staff: Account
) -> None:
    made = create(api)
    assert made["token"].startswith("smv_") and made["name"] == "wall screen"
    assert made["state"] == "active" and made["expires_at"] is None
    assert made["user_email"] == staff.email and made["last_used_at"] is None
    mine = listed(api)
    assert set(mine) == {made["id"], *(i for i in mine if i != made["id"])}
    assert len(mine) == 2  # the fixture's token and the new one
    assert all("token" not in t for t in mine.values())
    assert made["token"] not in api.get("/api/v1/tokens").text
    assert api.get("/api/v1/incidents", headers=bearer(made["token"])).status_code == 200


def test_last_use_is_recorded_at_most_once_a_minute(
    api: TestClient, staff: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = create(api)
    use = bearer(made["token"])
    incident = open_incident(api)
    response = api.post(
        f"/api/v1/incidents/{incident['id']}/log",  # the hot path records it too
        json={"kind": "decision", "text": "Evakuer sone B."},
        headers=use,
    )
    assert response.status_code == 201
    first = recorded_use(api, made["id"])
    for _ in range(3):
        assert api.get("/api/v1/incidents", headers=use).status_code == 200
    assert listed(api)[made["id"]]["last_used_at"] == first  # no write on every request
    monkeypatch.setattr(tokens, "LAST_USED_EVERY", 0.05)
    time.sleep(0.1)
    assert api.get("/api/v1/incidents", headers=use).status_code == 200
    assert recorded_use(api, made["id"], after=first) > first


def recorded_use(api: TestClient, token_id: int, after: str | None = None) -> str:
    """The token's last use, once recorded (beside the request that used it)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        used = listed(api)[token_id]["last_used_at"]
        if used is not None and used != after:
            return str(used)
        time.sleep(0.05)
    raise AssertionError("the use was never recorded")


def test_an_expired_token_is_refused(api: TestClient, staff: Account) -> None:
    soon = utcnow() + timedelta(seconds=1)
    made = create(api, expires_at=soon.isoformat())
    assert made["expires_at"] is not None and made["state"] == "active"
    use = bearer(made["token"])
    assert api.get("/api/v1/incidents", headers=use).status_code == 200
    time.sleep(max(0.0, (soon - utcnow()).total_seconds()) + 0.1)
    refused = api.get("/api/v1/incidents", headers=use)
    assert refused.status_code == 401
    assert refused.headers["content-type"].startswith("application/problem+json")
    incident = open_incident(api)
    appended = api.post(
        f"/api/v1/incidents/{incident['id']}/log",
        json={"kind": "decision", "text": "Nei."},
        headers=use,
    )
    assert appended.status_code == 401
    assert listed(api)[made["id"]]["state"] == "expired"


def test_an_expiry_must_be_in_the_future_and_have_a_zone(api: TestClient) -> None:
    past = (utcnow() - timedelta(minutes=1)).isoformat()
    assert api.post("/api/v1/tokens", json={"name": "x", "expires_at": past}).status_code == 422
    naive = "2099-01-01T00:00:00"
    assert api.post("/api/v1/tokens", json={"name": "x", "expires_at": naive}).status_code == 422
    assert api.post("/api/v1/tokens", json={"name": ""}).status_code == 422


def test_revoking_is_at_once_and_only_for_the_owner_or_an_administrator(
    client: TestClient, staff: Account, cleared: Account, admin: Account
) -> None:
    siri, rolf, anne = bearer(staff.token), bearer(cleared.token), bearer(admin.token)
    made = create(client, headers=siri)
    use = bearer(made["token"])
    assert client.get("/api/v1/incidents", headers=use).status_code == 200

    # Another user: not theirs to see or revoke (404, as if there were no such token).
    assert client.delete(f"/api/v1/tokens/{made['id']}", headers=rolf).status_code == 404
    assert (
        client.get("/api/v1/tokens", params={"user_id": staff.user.id}, headers=rolf).status_code
        == 403
    )
    assert client.get("/api/v1/incidents", headers=use).status_code == 200

    # The owner revokes it; the next request with it is a 401.
    assert client.delete(f"/api/v1/tokens/{made['id']}", headers=siri).status_code == 204
    assert client.get("/api/v1/incidents", headers=use).status_code == 401
    assert client.delete(f"/api/v1/tokens/{made['id']}", headers=siri).status_code == 204  # again
    state = {t["id"]: t for t in client.get("/api/v1/tokens", headers=siri).json()}
    assert state[made["id"]]["state"] == "revoked" and state[made["id"]]["revoked_at"]

    # An administrator sees and revokes anyone's.
    theirs = client.get("/api/v1/tokens", params={"user_id": staff.user.id}, headers=anne)
    assert {t["id"] for t in theirs.json()} == set(state)
    other = create(client, headers=siri)
    assert client.delete(f"/api/v1/tokens/{other['id']}", headers=anne).status_code == 204
    assert client.get("/api/v1/incidents", headers=bearer(other["token"])).status_code == 401
    assert client.delete("/api/v1/tokens/999999", headers=anne).status_code == 404
