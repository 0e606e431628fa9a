"""Pages for incidents and their logs (filled in by the pages work)."""

from fastapi import APIRouter

router = APIRouter()
