"""The log's happy path over HTTP, on both databases."""

from fastapi.testclient import TestClient


def test_open_incident_and_log_a_decision(api: TestClient) -> None:
    created = api.post(
        "/api/v1/incidents",
        json={"title": "Storm Ingunn", "category": "water_supply", "level": "yellow", "exercise": False},
    )
    assert created.status_code == 201, created.text
    incident_id = created.json()["id"]

    logged = api.post(
        f"/api/v1/incidents/{incident_id}/log", json={"kind": "decision", "text": "Open the crisis room"}
    )
    assert logged.status_code == 201, logged.text
    entry = logged.json()
    assert entry["number"] == 2  # 1 is the system entry for the opening
    assert entry["text"] == "Open the crisis room"

    page = api.get(f"/api/v1/incidents/{incident_id}/log", params={"after": 0}).json()
    assert [e["number"] for e in page["items"]] == [1, 2]
    assert page["items"][0]["system"] is True
    assert page["next_after"] is None

    verified = api.get(f"/api/v1/incidents/{incident_id}/log/verify").json()
    assert verified["ok"] is True
    assert verified["head"] == {"number": 2, "hash": entry["hash"]}
