"""The application factory: `create_app(settings)` wires database, routes and error handlers."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

from anyio import to_thread
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeout
from starlette.exceptions import HTTPException
from starlette.middleware.gzip import GZipMiddleware
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from app import access_log, api, domains, web
from app.accounts import service as accounts
from app.api import problems
from app.bus import Bus
from app.config import Settings, get_settings
from app.db import Database
from app.edge import BodyLimit
from app.errors import DomainError, database_unavailable
from app.headers import SecurityHeaders
from app.live import pages as live_pages
from app.live import ws as live_ws
from app.live.events import Registry
from app.live.guard import Guard
from app.live.hub import Hub
from app.ui import assets
from app.ui.templates import env as templates_env
from app.worker import Worker

log = logging.getLogger("samvirke")
# Answers smaller than this go as they are: compressing them saves no packet.
GZIP_MINIMUM = 1024


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


E = TypeVar("E", bound=Exception)


def _by_face(
    api: Callable[[Request, E], Response], page: Callable[[Request, E], Response]
) -> Callable[[Request, E], Awaitable[Response]]:
    """One handler for an error both faces answer: problem+json under /api/, a page elsewhere."""

    async def answer(request: Request, exc: E) -> Response:
        return (api if _is_api(request) else page)(request, exc)

    return answer


def announce_setup(db: Database, settings: Settings) -> str | None:
    """While nobody can sign in, print the one-time link that creates the first administrator."""
    with db.read_session() as session:
        if not accounts.needs_setup(session):
            return None
    link = settings.link(f"/setup?token={accounts.setup_token(settings.resolved_secret_key())}")
    print(
        f"\nSamvirke has no users yet. Create the first administrator here:\n\n  {link}\n",
        flush=True,
    )
    return link


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    db = Database(
        settings.resolved_database_url,
        language=settings.default_language,
        write_wait=settings.write_wait,
        signer=settings.signer(),
    )

    bus = Bus(db)
    hub = Hub(db, bus, Registry(domains.event_types()))
    guard = Guard(db, hub, bus)
    worker = Worker(db, bus, [*domains.jobs(), *hub.jobs])

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        announce_setup(db, settings)
        await to_thread.run_sync(assets.load)  # hash and gzip the static files before serving
        await hub.start()
        await guard.start()
        await bus.start()
        await worker.start()
        yield
        await worker.stop()
        await bus.stop()
        await guard.stop()
        await hub.stop()
        db.dispose()

    app = FastAPI(
        title="Samvirke",
        version="0.1.0",
        summary="Crisis-staff support: incidents and a tamper-evident, append-only decision log.",
        lifespan=lifespan,
        docs_url=None,  # served below from our own copy of Swagger UI, not from a CDN
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.db = db
    app.state.bus = bus
    app.state.hub = hub
    app.state.guard = guard
    app.state.panels = domains.panels()  # the incident page's, in order (app/ui/panels.py)
    app.state.secret_key = settings.resolved_secret_key()

    _domain = _by_face(problems.domain_problem, web.errors.domain_error_page)
    _http = _by_face(problems.http_problem, web.errors.http_error_page)
    app.exception_handler(DomainError)(_domain)
    app.exception_handler(HTTPException)(_http)
    app.exception_handler(RequestValidationError)(
        _by_face(problems.validation_problem, web.errors.validation_error_page)
    )

    @app.exception_handler(OperationalError)
    @app.exception_handler(SQLAlchemyTimeout)
    async def _database(request: Request, exc: Exception) -> Response:
        log.warning("database failed %s %s: %s", request.method, request.url.path, exc)
        return await _domain(request, database_unavailable(exc))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        if _is_api(request):
            return problems.problem(
                request, status=500, code="internal", detail="Something went wrong on the server."
            )
        return PlainTextResponse("Internal error", status_code=500)

    # Outside everything that parses: bodies are bounded (and forms checked) while they arrive.
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes, refuse=_http)

    @app.get("/healthz", tags=["health"], summary="Ready to serve")
    def healthz() -> JSONResponse:
        with db.read_session() as session:
            accounts.needs_setup(session)  # proves the database answers
        return JSONResponse({"status": "ok"})

    @app.get("/docs", include_in_schema=False)
    def api_docs() -> HTMLResponse:
        """Swagger UI from our own copy, started by a static file (no inline script)."""
        page = templates_env.get_template("api_docs.html").render(openapi_url="/openapi.json")
        return HTMLResponse(page)

    app.include_router(api.router)
    app.include_router(live_ws.router)
    app.include_router(live_pages.router)
    app.include_router(web.router)
    app.mount("/static", assets.serve_static, name="static")
    access_log.install()
    # Outermost last: the headers see the compressed answer; GZip leaves the socket, answers
    # under GZIP_MINIMUM, server-sent events and the pre-compressed static files alone.
    app.add_middleware(GZipMiddleware, minimum_size=GZIP_MINIMUM, compresslevel=6)
    app.add_middleware(SecurityHeaders)
    if settings.trusted_proxies.strip():
        # Only these peers may say who the client is; `samvirke serve` turns uvicorn's own
        # handling (which believes 127.0.0.1 by default) off, so this is the one place.
        app.add_middleware(
            ProxyHeadersMiddleware,
            trusted_hosts=[h.strip() for h in settings.trusted_proxies.split(",") if h.strip()],
        )
    return app
