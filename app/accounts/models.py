"""Account tables and their public shapes.

Secrets (session cookies, invite links, API tokens) are random strings handed out once;
only their SHA-256 is stored, so a copy of the database opens no door.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, EmailStr, field_validator
from pydantic import Field as PField
from sqlmodel import Column, Field, SQLModel

from app.db import UTCDateTime, utcnow
from app.text import clean_text


class Role(StrEnum):
    admin = "admin"
    staff = "staff"


class TokenState(StrEnum):
    active = "active"
    expired = "expired"
    revoked = "revoked"


class User(SQLModel, table=True):
    __tablename__ = "user_account"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=254, unique=True)
    name: str = Field(max_length=120)
    role: str = Field(max_length=16)
    restricted: bool = Field(default=False, description="Cleared to see restricted entries.")
    password_hash: str | None = Field(default=None, max_length=255)
    language: str | None = Field(default=None, max_length=8)
    active: bool = True
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )

    @property
    def is_admin(self) -> bool:
        return self.role == Role.admin


class UserSession(SQLModel, table=True):
    __tablename__ = "user_session"

    id: str = Field(primary_key=True, max_length=64, description="SHA-256 of the cookie value.")
    user_id: int = Field(foreign_key="user_account.id", index=True)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
    expires_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))


class ApiToken(SQLModel, table=True):
    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", index=True)
    name: str = Field(max_length=120)
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
    revoked_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    # Recorded at most once a minute per token (accounts/tokens.py), so it is that coarse.
    last_used_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime, nullable=True)
    )
    expires_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))

    def state(self, now: datetime) -> TokenState:
        if self.revoked_at is not None:
            return TokenState.revoked
        if self.expires_at is not None and self.expires_at <= now:
            return TokenState.expired
        return TokenState.active


class ApiTokenCreate(BaseModel):
    """A new API token for yourself: what it is for, and when it stops working (if ever)."""

    model_config = ConfigDict(extra="forbid")
    name: str = PField(min_length=1, max_length=120, description="What the token is for.")
    expires_at: datetime | None = PField(
        default=None, description="When it stops working (UTC; in the future); none: never."
    )

    @field_validator("name", mode="before")
    @classmethod
    def _clean(cls, value: object) -> object:
        return clean_text(value)

    @field_validator("expires_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("give a time zone, e.g. 2027-01-31T12:00:00Z")
        return value


class ApiTokenPublic(BaseModel):
    """A token as listed: never its secret, which is shown once, when it is made."""

    id: int
    user_id: int
    user_email: str
    name: str
    state: TokenState
    created_at: datetime
    last_used_at: datetime | None = PField(description="Updated at most once a minute.")
    expires_at: datetime | None
    revoked_at: datetime | None


class ApiTokenCreated(ApiTokenPublic):
    token: str = PField(description="The secret: shown only in this answer, keep it safe.")


class Invite(SQLModel, table=True):
    __tablename__ = "invite"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=254)
    name: str = Field(max_length=120)
    role: str = Field(max_length=16)
    restricted: bool = False
    token_hash: str = Field(max_length=64, unique=True)
    created_by_id: int = Field(foreign_key="user_account.id")
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
    expires_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    accepted_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))


class PasswordReset(SQLModel, table=True):
    """An administrator's single-use link to set a new password; `created_by_id` None = console."""

    __tablename__ = "password_reset"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", index=True)
    token_hash: str = Field(max_length=64, unique=True)
    created_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
    expires_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    used_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))


class LinkPublic(BaseModel):
    """A one-time link (password reset, invite sent again): shown once, stored only as a hash."""

    link: str
    email: str
    expires_at: datetime


NAME_MAX = 120


class UserPublic(BaseModel):
    id: int
    email: str
    name: str
    role: Role
    restricted: bool
    active: bool


class UserCreate(BaseModel):
    email: EmailStr
    name: str = PField(min_length=1, max_length=NAME_MAX)
    role: Role = Role.staff
    restricted: bool = False

    @field_validator("name", mode="before")
    @classmethod
    def _clean(cls, value: object) -> object:
        return clean_text(value, max_length=NAME_MAX)


PASSWORD_MIN = 10


class PasswordSet(BaseModel):
    """A new password, with the name the person wants to be shown with."""

    name: str = PField(min_length=1, max_length=NAME_MAX)
    password: str = PField(min_length=PASSWORD_MIN, max_length=256)

    @field_validator("name", mode="before")
    @classmethod
    def _clean(cls, value: object) -> object:
        return clean_text(value, max_length=NAME_MAX)


class NewPassword(BaseModel):
    password: str = PField(min_length=PASSWORD_MIN, max_length=256)


class FirstAdmin(PasswordSet):
    email: EmailStr
