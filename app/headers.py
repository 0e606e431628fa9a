"""Security headers on every answer: what a browser may load, frame, send on and keep.

One pure ASGI middleware, so pages, fragments, the API, error answers, redirects and the
sockets' handshakes all get the same headers without any route having to remember them:

- `Content-Security-Policy`: scripts, styles, images, fonts and connections from this origin
  only; no inline script or `eval` (templates carry no inline script or handler; htmx is told
  by its meta config not to eval nor inject its indicator style); no plugins, no `<base>`, forms
  post only here, and no other site may frame a page (`frame-ancestors 'none'`, with
  `X-Frame-Options: DENY` for browsers that predate it). `img-src` also allows `data:` for the
  icons inlined in app.css and swagger-ui.css. /docs (Swagger UI) lives under the same policy:
  it is started by a static file, and Swagger UI 5 sets its styles through the DOM, which the
  policy allows (tests/e2e/test_headers_browser.py records no violation there).
- `Referrer-Policy: same-origin`: incident URLs (ids, filters) never leave in a Referer.
- `X-Content-Type-Options: nosniff`: an answer is only ever what its Content-Type says.
- `Cache-Control: no-store` on every answer that did not set its own: pages, fragments, API
  reads, exports and errors may show restricted text, which must not stay in a shared
  browser's or a proxy's cache. Only /static sets its own (long for versioned URLs, see
  `app.web.assets`). A socket's handshake answer carries it too.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
# Added to every HTTP answer that does not set the header itself.
HEADERS = {
    "content-security-policy": POLICY,
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
    "cache-control": "no-store",
}


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":

            async def send_http(message: Message) -> None:
                if message["type"] == "http.response.start":
                    headers = MutableHeaders(scope=message)
                    for name, value in HEADERS.items():
                        headers.setdefault(name, value)
                await send(message)

            await self.app(scope, receive, send_http)
        elif scope["type"] == "websocket":

            async def send_ws(message: Message) -> None:
                if message["type"] == "websocket.accept":
                    message = {
                        **message,
                        "headers": [*message.get("headers", []), (b"cache-control", b"no-store")],
                    }
                await send(message)

            await self.app(scope, receive, send_ws)
        else:
            await self.app(scope, receive, send)
