"""Security and caching headers on every kind of answer; gzip; versioned static files.

Pages, fragments, API reads and exports, errors and the sockets' handshakes may all carry
restricted text: each says `Cache-Control: no-store` and sends the policy headers. Static files
linked from the pages carry a content hash (`?v=`) and are cached for a year; without it, briefly.
"""

from __future__ import annotations

import gzip
import re

import pytest
from fastapi.testclient import TestClient

from app.db import Database
from app.ui import assets
from tests import factories
from tests.factories import Account
from tests.web.helpers import csrf_of, htmx, sign_in

STATIC_LINK = re.compile(r"""(?:src|href)="(/static/[^"]+)\"""")
NO_ENCODING = {"Accept-Encoding": "identity"}


def directives(response: object) -> dict[str, str]:
    policy = response.headers["content-security-policy"]  # type: ignore[attr-defined]
    return {
        name: rest.strip()
        for name, _, rest in (part.strip().partition(" ") for part in policy.split(";"))
    }


def assert_restricted_answer(response: object, what: str) -> None:
    """The headers of an answer that may show restricted text."""
    headers = response.headers  # type: ignore[attr-defined]
    assert headers["cache-control"] == "no-store", what
    assert headers["x-content-type-options"] == "nosniff", what
    assert headers["referrer-policy"] == "same-origin", what
    policy = directives(response)
    assert policy["default-src"] == "'self'", what
    assert policy["script-src"] == "'self'", what  # no 'unsafe-inline', no 'unsafe-eval'
    assert policy["style-src"] == "'self'", what
    assert policy["frame-ancestors"] == "'none'", what
    assert policy["object-src"] == "'none'", what


@pytest.fixture
def incident_id(db: Database, staff: Account) -> int:
    incident = factories.incident(db, staff, title="Flom i Nedre Eiker")
    factories.entry(db, staff, incident, text="Vannstanden stiger ved Hokksund")
    return incident.id


def test_pages_and_fragments_are_not_stored_and_send_the_policy(
    client: TestClient, staff: Account, incident_id: int
) -> None:
    assert_restricted_answer(client.get("/login"), "/login")
    token = sign_in(client, staff)
    for path in ("/", "/incidents/new", f"/incidents/{incident_id}", "/no-such-page"):
        assert_restricted_answer(client.get(path), path)
    fragment = client.post(
        f"/incidents/{incident_id}/log",
        data={"text": "Evakuering av Steinberg", "kind": "decision", "csrf_token": token},
        headers=htmx("log-form", f"http://testserver/incidents/{incident_id}"),
    )
    assert fragment.status_code == 200, fragment.text
    assert_restricted_answer(fragment, "the htmx answer")
    redirect = client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert redirect.status_code == 303
    assert redirect.headers["cache-control"] == "no-store"


def test_api_reads_exports_and_errors_are_not_stored(api: TestClient, incident_id: int) -> None:
    base = f"/api/v1/incidents/{incident_id}"
    for path in (base, f"{base}/log", f"{base}/log/1", f"{base}/log/export", f"{base}/log/99"):
        response = api.get(path)
        assert response.status_code in (200, 404), (path, response.status_code)
        assert_restricted_answer(response, path)
    api.headers.pop("Authorization")
    assert_restricted_answer(api.get(f"{base}/log"), "a 401")


def test_pages_carry_no_inline_script_style_or_handler(
    client: TestClient, admin: Account, incident_id: int
) -> None:
    """What the policy would refuse must not be in the markup in the first place."""
    sign_in(client, admin)
    pages = ("/", "/admin/users", "/incidents/new", f"/incidents/{incident_id}/print", "/docs")
    for path in (*pages, "/login", "/setup", f"/incidents/{incident_id}"):
        response = client.get(path)
        assert path not in pages or response.status_code == 200, (path, response.status_code)
        html = response.text
        for tag in re.findall(r"<script\b[^>]*>", html):
            assert " src=" in tag, (path, tag)
        assert not any(re.findall(r"<script\b[^>]*>(.*?)</script>", html, re.DOTALL)), path
        assert not re.search(r"\son[a-z]+\s*=", html), path  # onclick=… and friends
        assert not re.search(r"\shx-on[:-]", html), path  # htmx's eval'd handlers
        assert not re.search(r"<style\b|\sstyle\s*=", html), path
    assert '"allowEval":false' in html and '"includeIndicatorStyles":false' in html


def test_the_api_docs_live_under_the_same_policy(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    assert_restricted_answer(page, "/docs")
    for url in STATIC_LINK.findall(page.text):
        assert client.get(url).status_code == 200, url


def test_static_links_are_versioned_and_immutable(
    client: TestClient, staff: Account, incident_id: int
) -> None:
    sign_in(client, staff)
    links = {
        url
        for path in ("/", f"/incidents/{incident_id}", "/docs")
        for url in STATIC_LINK.findall(client.get(path).text)
    }
    assert any("htmx.min.js" in url for url in links)
    for url in links:
        name, _, version = url.removeprefix("/static/").partition("?v=")
        found = assets.asset(name)
        assert found is not None and version == found.version, url
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.headers["cache-control"] == "public, max-age=31536000, immutable", url
        assert "no-store" not in response.headers["cache-control"]
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.content == found.body, url  # httpx undid the gzip, if any
        again = client.get(url, headers={"If-None-Match": response.headers["etag"]})
        assert again.status_code == 304 and again.content == b"", url


def test_unversioned_or_outdated_static_urls_are_cached_briefly(client: TestClient) -> None:
    for url in ("/static/css/app.css", "/static/css/app.css?v=0123456789abcdef"):
        response = client.get(url)
        assert response.status_code == 200
        assert response.headers["cache-control"] == "public, max-age=300", url
    assert client.get("/static/css/nothing.css").status_code == 404
    assert client.get("/static/../main.py").status_code == 404
    assert client.post("/static/css/app.css").status_code == 405


def test_a_head_request_gets_the_headers_of_a_get(client: TestClient) -> None:
    url = assets.static_url("vendor/htmx.min.js")
    head = client.head(url, headers=NO_ENCODING)
    assert head.status_code == 200 and head.content == b""
    assert int(head.headers["content-length"]) == len(assets.asset("vendor/htmx.min.js").body)  # type: ignore[union-attr]


def test_gzip_is_negotiated(client: TestClient, staff: Account, incident_id: int) -> None:
    sign_in(client, staff)
    page_url = f"/incidents/{incident_id}"
    raw = client.get(page_url, headers=NO_ENCODING)
    assert "content-encoding" not in raw.headers
    packed = client.get(page_url, headers={"Accept-Encoding": "gzip"})
    assert packed.headers["content-encoding"] == "gzip"
    assert "accept-encoding" in packed.headers["vary"].lower()
    assert int(packed.headers["content-length"]) < len(raw.content) / 3
    assert packed.headers["cache-control"] == "no-store"

    script = assets.static_url("vendor/htmx.min.js")
    body = assets.asset("vendor/htmx.min.js").body  # type: ignore[union-attr]
    with client.stream("GET", script, headers={"Accept-Encoding": "gzip"}) as response:
        assert response.headers["content-encoding"] == "gzip"
        assert gzip.decompress(b"".join(response.iter_raw())) == body
    assert "content-encoding" not in client.get(script, headers=NO_ENCODING).headers
    # Already compressed, or tiny: sent as they are.
    png = client.get(assets.static_url("vendor/swagger-favicon.png"))
    assert "content-encoding" not in png.headers
    tiny = client.get("/healthz", headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in tiny.headers and tiny.json() == {"status": "ok"}


def test_the_socket_handshake_is_not_stored(
    client: TestClient, staff: Account, incident_id: int
) -> None:
    with client.websocket_connect(
        f"/api/v1/incidents/{incident_id}/events",
        headers={"Authorization": f"Bearer {staff.token}"},
    ) as socket:
        assert (b"cache-control", b"no-store") in (socket.extra_headers or [])


def test_the_csrf_token_differs_on_every_page_and_each_one_works(
    client: TestClient, staff: Account, incident_id: int
) -> None:
    """A compressed page must not repeat a secret an attacker could guess byte by byte (BREACH)."""
    sign_in(client, staff)
    page = f"/incidents/{incident_id}"
    tokens = {csrf_of(client.get(page)) for _ in range(3)}
    assert len(tokens) == 3
    for n, token in enumerate(tokens):
        response = client.post(
            f"/incidents/{incident_id}/log",
            data={"text": f"Melding {n}", "kind": "information", "csrf_token": token},
            follow_redirects=False,
        )
        assert response.status_code == 303, response.text
