"""HTML pages and htmx fragments. Same services as the JSON API; cookie sessions and CSRF."""

from fastapi import APIRouter

from app.web import admin, auth, errors, incidents, tokens

router = APIRouter(include_in_schema=False)
router.include_router(auth.router)
router.include_router(incidents.router)
router.include_router(admin.router)
router.include_router(tokens.router)

__all__ = ["errors", "router"]
