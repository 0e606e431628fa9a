"""The worker's tables: queued work items, and each periodic job's latest run.

A `work_item` exists from the commit that enqueued it until its job has run (then the row is
deleted: the table holds what is still to do) or has failed for good (state `failed`, with
the last error, kept for a person to look at). `attempts` counts the claims so far; a claim
is only as good as its number, so a run whose claim ran out cannot finish an item that
another run has taken over (app/worker/queue.py).

`job_run` has one row per periodic job: when its latest run started and ended, and its error.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Index, Text
from sqlmodel import Column, Field, SQLModel

from app.db import UTCDateTime, utcnow

NAME_MAX = 100  # a job's name, e.g. "notify.send"
ERROR_MAX = 2000  # characters of an error kept with a failed item or run


def error_text(exc: BaseException) -> str:
    """An error as it is kept: its type and message, cut to ERROR_MAX."""
    return f"{type(exc).__name__}: {exc}"[:ERROR_MAX]


class WorkState(StrEnum):
    queued = "queued"  # waits for its `run_at`
    running = "running"  # claimed until `locked_until`; after that anyone may take it over
    failed = "failed"  # gave up after its job's last attempt; `last_error` says why


class WorkItem(SQLModel, table=True):
    __tablename__ = "work_item"
    __table_args__ = (Index("ix_work_item_state_run_at", "state", "run_at"),)

    id: int | None = Field(default=None, primary_key=True)
    job: str = Field(max_length=NAME_MAX)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    state: str = Field(default=WorkState.queued, max_length=16)
    run_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    attempts: int = 0
    locked_until: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime, nullable=True)
    )
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
    failed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))


class JobRun(SQLModel, table=True):
    __tablename__ = "job_run"

    name: str = Field(primary_key=True, max_length=NAME_MAX)
    started_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    finished_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
