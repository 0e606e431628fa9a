"""Imports every table so the metadata (and Alembic) knows them all."""

from app.accounts.models import ApiToken, Invite, User, UserSession
from app.events.models import Event
from app.incidents.models import Incident
from app.log.models import LogCheckpoint, LogEntry
from app.worker.models import JobRun, WorkItem

__all__ = [
    "ApiToken",
    "Event",
    "Incident",
    "Invite",
    "JobRun",
    "LogCheckpoint",
    "LogEntry",
    "User",
    "UserSession",
    "WorkItem",
]
