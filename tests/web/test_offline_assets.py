"""Every page, the API documentation included, loads only what the app itself serves.

The crisis room may have no internet: a script, stylesheet or font from elsewhere would leave
a page broken exactly when it is needed.
"""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from app.db import Database
from tests import factories
from tests.factories import Account
from tests.web.helpers import sign_in

ASSET = re.compile(r"""(?:src|href)\s*[=:]\s*["']([^"']+)["']""")


def _assets(html: str) -> list[str]:
    return [url for url in ASSET.findall(html) if not url.startswith(("#", "mailto:"))]


@pytest.mark.parametrize("path", ["/docs", "/login"])
def test_public_pages_load_only_local_assets(client: TestClient, path: str) -> None:
    page = client.get(path)
    assert page.status_code == 200
    assets = _assets(page.text)
    assert assets, "expected the page to load at least one asset"
    for url in assets:
        assert url.startswith("/"), f"{path} loads {url} from elsewhere"
        if url.startswith("/static/"):
            assert client.get(url).status_code == 200, url


def test_signed_in_pages_load_only_local_assets(
    client: TestClient, db: Database, staff: Account
) -> None:
    incident = factories.incident(db, staff, title="Flom i Nedre Eiker")
    sign_in(client, staff)
    for path in ("/", "/incidents/new", f"/incidents/{incident.id}"):
        page = client.get(path)
        assert page.status_code == 200, path
        for url in _assets(page.text):
            assert url.startswith("/") and not url.startswith("//"), f"{path} loads {url}"
            if url.startswith("/static/"):
                assert client.get(url).status_code == 200, url
