"""Log entries: the table (append-only, guarded by triggers) and the public shapes."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict, field_validator
from pydantic import Field as PField
from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Column, Field, SQLModel

from app.db import INT_MAX, UTCDateTime
from app.i18n import N_
from app.text import clean_text

TEXT_MAX = 10_000


class EntryKind(StrEnum):
    decision = "decision"
    information = "information"
    action = "action"
    message_in = "message_in"
    message_out = "message_out"
    system = "system"


class PersonKind(StrEnum):
    """The kinds a person may log; `system` is written only by the services."""

    decision = "decision"
    information = "information"
    action = "action"
    message_in = "message_in"
    message_out = "message_out"


class Classification(StrEnum):
    open = "open"
    internal = "internal"
    restricted = "restricted"


REQUEST_KEY_MAX = 64
# What a request key may hold: printable ASCII without spaces (a UUID, a random token).
REQUEST_KEY_PATTERN = r"^[!-~]{1,64}$"

CLASSIFICATION_RANK = {
    Classification.open: 0,
    Classification.internal: 1,
    Classification.restricted: 2,
}
# Their names for people (msgids, translated where they are shown).
CLASSIFICATION_NAMES = {
    Classification.open: N_("Open"),
    Classification.internal: N_("Internal"),
    Classification.restricted: N_("Restricted"),
}


class LogEntry(SQLModel, table=True):
    __tablename__ = "log_entry"
    __table_args__ = (
        UniqueConstraint("incident_id", "number", name="uq_log_entry_incident_number"),
        Index("uq_log_entry_incident_request_key", "incident_id", "request_key", unique=True),
    )

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id")
    number: int
    kind: str = Field(max_length=16)
    text: str
    classification: str = Field(max_length=16)
    author_id: int | None = Field(default=None, foreign_key="user_account.id")
    author_name: str | None = Field(default=None, max_length=120)
    corrects: int | None = None
    occurred_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    recorded_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    content_digest: str = Field(max_length=64)
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)
    # The writer's key for the request (Idempotency-Key, the form's request_key): not part of
    # the entry, nor of its hash; a retry with the same key gets this entry back.
    request_key: str | None = Field(default=None, max_length=REQUEST_KEY_MAX)


class LogEntryCreate(BaseModel):
    """A new entry written by a person."""

    model_config = ConfigDict(extra="forbid")

    kind: PersonKind = PField(description="What kind of entry this is.")
    text: str = PField(min_length=1, max_length=TEXT_MAX, description="The entry itself.")
    classification: Classification | None = PField(
        default=None,
        description="Who may read it. Defaults to `internal`, or for a correction to the "
        "classification of the entry it corrects.",
    )
    occurred_at: AwareDatetime | None = PField(
        default=None, description="When it happened (with a UTC offset); defaults to now."
    )
    corrects: int | None = PField(
        default=None, ge=1, le=INT_MAX, description="The `number` of the entry this one corrects."
    )

    @field_validator("text", mode="before")
    @classmethod
    def _clean(cls, value: object) -> object:
        return clean_text(value, multiline=True, max_length=TEXT_MAX)


class Author(BaseModel):
    id: int
    name: str


class LogEntryPublic(BaseModel):
    """An entry as one viewer may see it. Withheld entries keep only what proves the chain."""

    incident_id: int
    number: int = PField(description="Line in this incident's log: 1, 2, 3, … without gaps.")
    withheld: bool = PField(description="True when the viewer lacks clearance to read it.")
    classification: Classification
    kind: EntryKind | None = PField(description="Null when withheld.")
    text: str | None = PField(description="Null when withheld.")
    author: Author | None = PField(description="Null for system entries and when withheld.")
    system: bool | None = PField(
        description="True when written by Samvirke itself; null when withheld."
    )
    corrects: int | None = PField(
        description="Number of the entry this corrects; null when withheld."
    )
    corrected_by: list[int] = PField(
        default_factory=list, description="Numbers of visible entries that correct this one."
    )
    occurred_at: datetime
    recorded_at: datetime = PField(description="Server time of the commit.")
    content_digest: str = PField(
        description="SHA-256 of the entry's content (see docs/log-chain.md)."
    )
    prev_hash: str
    hash: str


class LogPage(BaseModel):
    items: list[LogEntryPublic]
    next_after: int | None = PField(
        description="Pass as `after` for the next page; null at the end."
    )


class ChainHead(BaseModel):
    number: int
    hash: str


class ChainProblem(BaseModel):
    number: int
    problem: str


class VerifyResult(BaseModel):
    ok: bool
    incident_id: int
    checked: int = PField(description="How many entries were checked.")
    head: ChainHead | None = PField(description="The last entry; null for an empty log.")
    problems: list[ChainProblem] = PField(default_factory=list)
