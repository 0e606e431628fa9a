"""The JSON API under /api/v1: bearer tokens, problem+json errors, the same services as the pages."""

from fastapi import APIRouter

from app.api import incidents, log, tokens, users
from app.api.problems import PROBLEM_RESPONSES

router = APIRouter(prefix="/api/v1", responses=PROBLEM_RESPONSES)
router.include_router(incidents.router)
router.include_router(log.router)
router.include_router(tokens.router)
router.include_router(users.router)
