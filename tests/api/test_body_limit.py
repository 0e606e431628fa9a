"""Request bodies are bounded while they arrive, and the caller is known before the body is read.

A body over SAMVIRKE_MAX_BODY_BYTES (1 MB by default) is refused with 413 problem+json: at once
when its Content-Length says so, at the first byte past the limit when it is streamed. A bad
token is refused before a byte of the body is read, and text is measured before it is cleaned.
The same on pages in tests/web/test_edge_inputs.py; the server staying responsive while a
200 MB body arrives is tests/live/test_no_stall.py.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator

import anyio
import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.config import Settings
from tests.helpers import assert_problem, bearer

LIMIT = 1_048_576


def big_entry(size: int) -> bytes:
    return json.dumps({"kind": "information", "text": "x" * size}).encode()


def chunks(body: bytes, size: int = 65_536) -> Iterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


def test_the_default_limit_is_one_megabyte() -> None:
    assert Settings().max_body_bytes == LIMIT


def test_an_entry_declared_over_the_limit_is_413_problem(api: TestClient, incident_id: int) -> None:
    response = api.post(
        f"/api/v1/incidents/{incident_id}/log",
        content=big_entry(LIMIT + 1),
        headers={"Content-Type": "application/json"},
    )
    body = assert_problem(response, 413, "too-large")
    assert body["detail"] == "The request is too large."
    assert response.headers["connection"] == "close"  # the rest is not read


def test_a_streamed_entry_over_the_limit_is_413_problem(api: TestClient, incident_id: int) -> None:
    response = api.post(
        f"/api/v1/incidents/{incident_id}/log",
        content=chunks(big_entry(LIMIT + 1)),  # no Content-Length: Transfer-Encoding: chunked
        headers={"Content-Type": "application/json"},
    )
    assert "content-length" not in response.request.headers
    assert_problem(response, 413, "too-large")


def test_a_body_at_the_limit_is_read(api: TestClient, incident_id: int) -> None:
    """Up to the limit the body is parsed as before: here the text is merely too long (422)."""
    body = big_entry(LIMIT - 100)
    body += b" " * (LIMIT - len(body))
    response = api.post(
        f"/api/v1/incidents/{incident_id}/log",
        content=chunks(body),
        headers={"Content-Type": "application/json"},
    )
    assert_problem(response, 422, "invalid")


def test_other_json_posts_are_bounded_too(api: TestClient) -> None:
    response = api.post(
        "/api/v1/incidents",
        content=json.dumps({"title": "x" * (LIMIT + 1)}),
        headers={"Content-Type": "application/json"},
    )
    assert_problem(response, 413, "too-large")


@pytest.fixture
def small_limit(settings: Settings) -> None:
    """SAMVIRKE_MAX_BODY_BYTES=20000; ask for it before `client`, which makes the app."""
    settings.max_body_bytes = 20_000


def test_a_smaller_limit_can_be_set(small_limit: None, client: TestClient) -> None:
    assert_problem(client.post("/api/v1/incidents", content=b" " * 20_001), 413, "too-large")
    response = client.post("/api/v1/incidents", content=b" " * 20_000)
    assert response.status_code != 413


def test_a_bad_token_is_401_before_the_body_is_read(app: FastAPI, incident_id: int) -> None:
    """The body is streamed to the app one chunk per receive(): not one chunk is asked for."""
    pulled = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal pulled
        for part in chunks(big_entry(LIMIT // 2)):
            pulled += 1
            yield part

    async def post() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            return await http.post(
                f"/api/v1/incidents/{incident_id}/log",
                content=body(),
                headers={**bearer("smv_not-a-token"), "Content-Type": "application/json"},
            )

    response = anyio.run(post)
    assert_problem(response, 401, "unauthorized")
    assert pulled == 0
    assert response.headers["connection"] == "close"


def test_a_bad_token_with_a_body_over_the_limit_is_refused_unread(
    client: TestClient, incident_id: int
) -> None:
    response = client.post(
        f"/api/v1/incidents/{incident_id}/log",
        content=big_entry(5 * LIMIT),
        headers={**bearer("smv_not-a-token"), "Content-Type": "application/json"},
    )
    assert response.status_code in (401, 413)
    assert_problem(response, response.status_code)


def test_a_missing_token_is_401_as_before(client: TestClient, incident_id: int) -> None:
    client.headers.pop("Authorization")  # set by `incident_id`'s staff client
    response = client.post(
        f"/api/v1/incidents/{incident_id}/log", json={"kind": "information", "text": "x"}
    )
    body = assert_problem(response, 401, "unauthorized")
    assert "Missing bearer token" in body["detail"]


def test_a_bad_token_on_an_id_that_is_none_is_401(client: TestClient) -> None:
    response = client.post(
        "/api/v1/incidents/abc/log",
        json={"kind": "information", "text": "x"},
        headers=bearer("smv_not-a-token"),
    )
    assert_problem(response, 401, "unauthorized")


def test_a_good_token_on_an_id_that_is_none_is_422(api: TestClient) -> None:
    response = api.post("/api/v1/incidents/abc/log", json={"kind": "information", "text": "x"})
    assert_problem(response, 422, "invalid")


@pytest.mark.parametrize("text", ["\x00" * 30_000, "a\x07" * 15_000, " " * 25_000 + "\x01"])
def test_overlong_text_is_refused_for_its_length_before_its_characters(
    api: TestClient, incident_id: int, text: str
) -> None:
    """Measured first: the answer is "too long", never "control characters", which only a pass
    over every character could have found."""
    response = api.post(
        f"/api/v1/incidents/{incident_id}/log", json={"kind": "information", "text": text}
    )
    body = assert_problem(response, 422, "invalid")
    assert "at most 10000 characters" in body["detail"], body
    assert "control characters" not in body["detail"]


def test_text_that_fits_once_trimmed_is_still_accepted(api: TestClient, incident_id: int) -> None:
    text = "\n" * 5_000 + "y" * 10_000 + " " * 5_000
    response = api.post(
        f"/api/v1/incidents/{incident_id}/log", json={"kind": "information", "text": text}
    )
    assert response.status_code == 201, response.text
    assert response.json()["text"] == "y" * 10_000


def test_an_overlong_title_is_refused_for_its_length(api: TestClient) -> None:
    response = api.post("/api/v1/incidents", json={"title": "\x00" * 1_000})
    body = assert_problem(response, 422, "invalid")
    assert "at most 200 characters" in body["detail"]
