"""Many writers at once: numbers stay gap-free and unique, the chain stays linear."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from fastapi.testclient import TestClient

from app.db import Database
from tests.helpers import all_entries, check_chain, events

WRITERS = 32
EACH = 3


def test_32_concurrent_writers(api: TestClient, db: Database, incident_id: int) -> None:
    other = api.post("/api/v1/incidents", json={"title": "Second front"}).json()["id"]
    start = threading.Barrier(WRITERS)

    def writer(n: int) -> list[tuple[int, int]]:
        start.wait(timeout=30)
        acknowledged = []
        for k in range(EACH):
            # Every fourth writer also writes to the other incident, which must not interfere.
            target = other if n % 4 == 0 and k == 1 else incident_id
            response = api.post(
                f"/api/v1/incidents/{target}/log",
                json={"kind": "information", "text": f"writer {n} line {k}"},
            )
            assert response.status_code == 201, response.text
            acknowledged.append((target, response.json()["number"]))
        return acknowledged

    with ThreadPoolExecutor(max_workers=WRITERS) as pool:
        results = [item for chunk in pool.map(writer, range(WRITERS)) for item in chunk]

    for target in (incident_id, other):
        numbers = sorted(number for t, number in results if t == target)
        entries = all_entries(api, target)
        expected = len(numbers) + 1  # plus the opening's system entry
        assert [e["number"] for e in entries] == list(range(1, expected + 1))
        assert numbers == list(range(2, expected + 1))  # every answer named a distinct number
        texts = sorted(e["text"] for e in entries[1:])
        assert texts == sorted(
            f"writer {n} line {k}"
            for n in range(WRITERS)
            for k in range(EACH)
            if (other if n % 4 == 0 and k == 1 else incident_id) == target
        )
        check_chain(entries)
        verified = api.get(f"/api/v1/incidents/{target}/log/verify").json()
        assert verified["ok"] is True, verified
        assert verified["checked"] == expected
        seqs = [seq for seq, _, _ in events(db, target)]
        assert seqs == list(range(1, expected + 2))  # incident.opened + one per entry
    assert len(results) == WRITERS * EACH
