"""Page tests read English: the reader's language comes from Accept-Language when not set."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient


@pytest.fixture
def client(client: TestClient) -> TestClient:
    client.headers["Accept-Language"] = "en"
    return client
