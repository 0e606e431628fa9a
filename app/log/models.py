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
    # Chain version 2 (docs/log-chain.md): the content's random salt, hex; null in version 1.
    salt: str | None = Field(default=None, max_length=64)
    # A version 2 system entry's meaning, as the canonical JSON of a `SystemMessage`; its text
    # is then empty and rendered from this in each reader's language.
    message: str | None = None


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


class SystemMessage(BaseModel):
    """What a system entry says, independent of language (hashed as it is shown here)."""

    msgid: str = PField(description="The message in English, with `{name}` placeholders.")
    params: dict[str, str] = PField(
        description="Values for the placeholders; each is itself a message id (a word such as "
        "a level's name), translated with the message."
    )
    actor: Author = PField(description="Who did what the entry records.")


class LogEntryPublic(BaseModel):
    """An entry as one viewer may see it. Withheld entries keep only what proves the chain."""

    incident_id: int
    number: int = PField(description="Line in this incident's log: 1, 2, 3, … without gaps.")
    withheld: bool = PField(description="True when the viewer lacks clearance to read it.")
    classification: Classification
    kind: EntryKind | None = PField(description="Null when withheld.")
    text: str | None = PField(
        description="Null when withheld. A system entry with a `message` shows it here in the "
        "reader's language."
    )
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
    message: SystemMessage | None = PField(
        default=None,
        description="A system entry's meaning (chain version 2); null for other entries, "
        "version 1 entries and when withheld.",
    )
    salt: str | None = PField(
        default=None,
        description="The random salt hashed with the content (chain version 2); null when "
        "withheld and in version 1.",
    )
    v: int = PField(description="Chain encoding version: 1 or 2 (docs/log-chain.md).")
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


SIGNATURE_MAX = 100  # an Ed25519 signature is 64 bytes: 88 characters of base64


class LogCheckpoint(SQLModel, table=True):
    """A signed statement of a log's head (app/log/checkpoints.py); append-only like the log."""

    __tablename__ = "log_checkpoint"
    __table_args__ = (
        UniqueConstraint("incident_id", "number", name="uq_log_checkpoint_incident_number"),
    )

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id")
    number: int
    hash: str = Field(max_length=64)
    signed_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    key_fingerprint: str = Field(max_length=64)
    version: int
    signature: str = Field(max_length=SIGNATURE_MAX)


class CheckpointPublic(BaseModel):
    """A checkpoint: the server's signature over a log's head at a moment (docs/log-chain.md)."""

    incident_id: int
    number: int = PField(description="The entry it names: the log's head when it was signed.")
    hash: str = PField(description="That entry's hash.")
    signed_at: datetime = PField(description="Server time of the signature.")
    key_fingerprint: str = PField(
        description="SHA-256 of the raw Ed25519 public key that signed it (hex)."
    )
    v: int = PField(description="Version of the signed encoding.")
    signature: str = PField(description="Ed25519 signature of the canonical bytes, base64.")
