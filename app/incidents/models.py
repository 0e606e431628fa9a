"""The incident table, its vocabularies and public shapes.

The incident row also keeps the heads of its log chain and event sequence. Appends lock this
row, so these counters are what makes numbers and sequences gap-free; the log rows themselves
stay the evidence (`samvirke verify` checks the counters against them).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, field_validator
from pydantic import Field as PField
from sqlmodel import Column, Field, SQLModel

from app.db import UTCDateTime, utcnow
from app.text import clean_text


class Category(StrEnum):
    mass_casualties = "mass_casualties"
    pandemic = "pandemic"
    hybrid_threats = "hybrid_threats"
    digital_security = "digital_security"
    medical_supply = "medical_supply"
    nuclear_radiological = "nuclear_radiological"
    water_supply = "water_supply"
    chemical = "chemical"
    other = "other"


class Level(StrEnum):
    green = "green"
    yellow = "yellow"
    red = "red"


class Phase(StrEnum):
    alert = "alert"
    first_meeting = "first_meeting"
    response = "response"
    stand_down = "stand_down"
    review = "review"
    closed = "closed"


class Incident(SQLModel, table=True):
    __tablename__ = "incident"

    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(max_length=200)
    category: str = Field(max_length=32)
    level: str = Field(max_length=16)
    phase: str = Field(max_length=16)
    exercise: bool = False
    opened_by_id: int = Field(foreign_key="user_account.id")
    opened_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
    closed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    last_activity_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
    log_count: int = 0
    log_head_hash: str | None = Field(default=None, max_length=64)
    event_seq: int = 0
    # Where the log's last signed checkpoint is (app/log/checkpoints.py): when the next is due.
    # The database default fills the rows that were there when migration 0004 added the column.
    checkpoint_number: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    checkpoint_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime, nullable=True)
    )

    @property
    def is_closed(self) -> bool:
        return self.phase == Phase.closed


TITLE_MAX = 200


class IncidentCreate(BaseModel):
    """What it takes to open an incident."""

    model_config = ConfigDict(extra="forbid")

    title: str = PField(
        min_length=1, max_length=TITLE_MAX, description="Short name of the incident."
    )
    category: Category = PField(default=Category.other, description="Kind of emergency.")
    level: Level = PField(default=Level.yellow, description="Alert level.")
    exercise: bool = PField(default=False, description="True for an exercise (øvelse).")

    @field_validator("title", mode="before")
    @classmethod
    def _clean(cls, value: object) -> object:
        return clean_text(value, max_length=TITLE_MAX)


class IncidentChange(BaseModel):
    """A change of alert level and/or phase; phase `closed` closes the incident."""

    model_config = ConfigDict(extra="forbid")

    level: Level | None = PField(default=None, description="New alert level.")
    phase: Phase | None = PField(default=None, description="New phase; `closed` closes it.")


class IncidentPublic(BaseModel):
    id: int
    title: str
    category: Category
    level: Level
    phase: Phase
    exercise: bool
    closed: bool
    opened_by: str | None = PField(description="Name of the person who opened it.")
    opened_at: datetime
    closed_at: datetime | None
    last_activity_at: datetime
    log_count: int = PField(description="Number of entries in its log.")
