"""The static files under /static: versioned URLs, cached for a year, gzipped once.

Every file is read, hashed and (when it is text) gzipped once per process, the first time a page
or a request needs the table. Pages link `static_url("css/app.css")` = `/static/css/app.css?v=<hash>`:
that URL always means those bytes, so it is served `immutable` for a year, and a new release
(new hash) is a new URL. The same path without `?v=` or with an old hash is still served, but
cached for five minutes only, so a stale copy never lingers. Each answer carries an ETag, so a
revalidation costs a 304. The compressed copy is computed here and not per request by the
GZip middleware: Swagger UI's 1.7 MB bundle would cost a level-9 compression on every load.
"""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from urllib.parse import parse_qsl

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
IMMUTABLE = "public, max-age=31536000, immutable"
BRIEF = "public, max-age=300"
COMPRESSIBLE = ("text/", "application/javascript", "application/json", "image/svg+xml")
VERSION_CHARS = 16  # of the SHA-256 in hex: 64 bits, enough to never repeat between releases


@dataclass(frozen=True)
class Asset:
    body: bytes
    gzipped: bytes | None  # only when it is smaller
    media_type: str
    version: str

    @property
    def etag(self) -> str:
        return f'"{self.version}"'


def _load(path: Path) -> Asset:
    body = path.read_bytes()
    media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    if media_type.startswith("text/"):
        media_type += "; charset=utf-8"
    gzipped = None
    if media_type.startswith(COMPRESSIBLE) and len(body) > 1024:
        packed = gzip.compress(body, compresslevel=9, mtime=0)
        gzipped = packed if len(packed) < len(body) else None
    version = hashlib.sha256(body).hexdigest()[:VERSION_CHARS]
    return Asset(body=body, gzipped=gzipped, media_type=media_type, version=version)


@cache
def load() -> dict[str, Asset]:
    """Every file, by its path under the folder: a request can only pick one of these."""
    return {
        path.relative_to(STATIC_DIR).as_posix(): _load(path)
        for path in sorted(STATIC_DIR.rglob("*"))
        if path.is_file()
    }


def asset(name: str) -> Asset | None:
    """The file `name` (relative to the static folder), or None if there is no such file."""
    return load().get(name)


def static_url(name: str) -> str:
    """The versioned URL of a static file; a missing file fails the render, not the browser."""
    found = asset(name)
    if found is None:
        raise LookupError(f"no static file {name!r}")
    return f"/static/{name}?v={found.version}"


async def serve_static(scope: Scope, receive: Receive, send: Send) -> None:
    """The ASGI app mounted at /static (GET and HEAD)."""
    if scope["method"] not in ("GET", "HEAD"):
        raise HTTPException(status_code=405)
    found = asset(scope["path"].removeprefix(scope.get("root_path", "")).lstrip("/"))
    if found is None:
        raise HTTPException(status_code=404)
    headers = Headers(scope=scope)
    query = dict(parse_qsl(scope["query_string"].decode("latin-1")))
    cache_control = IMMUTABLE if query.get("v") == found.version else BRIEF
    common = {"Cache-Control": cache_control, "ETag": found.etag}
    if found.gzipped is not None:
        common["Vary"] = "Accept-Encoding"
    if found.etag in headers.get("if-none-match", ""):
        response = Response(status_code=304, headers=common)
    elif found.gzipped is not None and "gzip" in headers.get("accept-encoding", ""):
        response = Response(
            found.gzipped,
            media_type=found.media_type,
            headers={**common, "Content-Encoding": "gzip"},
        )
    else:
        response = Response(found.body, media_type=found.media_type, headers=common)
    if scope["method"] == "HEAD":
        response.body = b""  # the headers, Content-Length included, stay those of a GET
    await response(scope, receive, send)
