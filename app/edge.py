"""What a request body must be before the app reads it: bounded, and a form in UTF-8 without NUL.

`BodyLimit` is pure ASGI, outside everything that parses: a body declared longer than
`max_bytes` (Content-Length) is refused at once, before the app runs; a streamed (chunked) body
is counted as it arrives and refused at the first byte past the limit (`BodyTooLarge`, a 413
raised inside whatever was reading, which the app's own handler renders as problem+json or a
page). Nothing is ever buffered beyond the limit, so a 200 MB body costs what its first
megabyte costs. A response given before the body was read to its end (a 401 for a bad token,
a 413) closes the connection, so the server does not go on receiving and discarding the rest.

FastAPI's own `max_body_size` (Starlette's `RequestBodyLimitMiddleware`) counts the same way but
lets the app run on an over-long Content-Length and swaps its answer for a plain-text 413, and
keeps the connection reading the rest; hence this small middleware.

Forms (`application/x-www-form-urlencoded`, the only kind our pages send) are read here in full
(they are within the limit by then) and refused with 400 unless every field decodes as UTF-8
without NUL: Starlette would store invalid bytes as U+FFFD or mojibake, and PostgreSQL refuses
NUL outright. `multipart/form-data` is refused (415): no page sends it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import unquote_to_bytes

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.i18n import N_

FORM = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"


class Refused(HTTPException):
    """A body refused at the edge: an HTTPException (so FastAPI's body reading passes it on
    untouched) with a stable problem `code` and a `message` (msgid) for people."""

    status = 400
    code = "bad-request"
    message = ""

    def __init__(self) -> None:
        super().__init__(status_code=self.status, detail=self.message)


class BodyTooLarge(Refused):
    status = 413
    code = "too-large"
    message = N_("The request is too large.")


class FormNotText(Refused):
    status = 400
    code = "malformed-form"
    message = N_("The form was not sent as UTF-8 text (or it holds a NUL character).")


class FormKindRefused(Refused):
    status = 415
    code = "unsupported-media-type"
    message = N_("Forms are sent as application/x-www-form-urlencoded.")


Refuse = Callable[[Request, Refused], Awaitable[Response]]


def _declared_length(headers: Headers) -> int | None:
    value = headers.get("content-length")
    return int(value) if value is not None and value.isdigit() else None


def form_is_text(body: bytes) -> bool:
    """True if the urlencoded `body` is ASCII and its fields decode as UTF-8 without NUL.

    Decoding the body as a whole is enough: the separators `&` and `=` are ASCII, so no
    multi-byte sequence spans two fields, and a broken one is broken in the whole.
    """
    if not body.isascii():  # a browser percent-encodes everything else
        return False
    try:
        text = unquote_to_bytes(body.replace(b"+", b" ")).decode("utf-8")
    except UnicodeDecodeError:
        return False
    return "\x00" not in text


class BodyLimit:
    """Pure ASGI: refuse bodies over `max_bytes` while reading them, and forms that are not text.

    `refuse` renders a refusal the way the app renders it (problem+json for the API,
    a page otherwise); it is used for what is refused before the app runs.
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int, refuse: Refuse) -> None:
        self.app, self.max_bytes, self.refuse = app, max_bytes, refuse

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        declared = _declared_length(headers)
        # Without Content-Length or Transfer-Encoding an HTTP/1.1 request has no body.
        ended = declared == 0 or (declared is None and "transfer-encoding" not in headers)
        received = 0

        async def counted() -> Message:
            nonlocal received, ended
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge()
                ended = not message.get("more_body", False)
            return message

        async def closing(message: Message) -> None:
            if message["type"] == "http.response.start" and not ended:
                message["headers"] = [*message.get("headers", []), (b"connection", b"close")]
            await send(message)

        async def refused(error: Refused) -> None:
            response = await self.refuse(Request(scope), error)
            await response(scope, receive, closing)

        if declared is not None and declared > self.max_bytes:
            await refused(BodyTooLarge())
            return
        kind = headers.get("content-type", "").partition(";")[0].strip().lower()
        if kind == MULTIPART:
            await refused(FormKindRefused())
            return
        if kind != FORM or ended:
            await self.app(scope, counted, closing)
            return
        chunks: list[bytes] = []
        try:
            while not ended:
                message = await counted()
                if message["type"] != "http.request":
                    return  # the client went away
                chunks.append(message.get("body", b""))
        except BodyTooLarge as error:
            await refused(error)
            return
        body = b"".join(chunks)
        if not form_is_text(body):
            await refused(FormNotText())
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()  # after the body: only a disconnect can come
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, closing)
