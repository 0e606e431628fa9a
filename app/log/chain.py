"""The hash chain of a log (documented in docs/log-chain.md; tools/verify_log.py repeats it).

Each entry is hashed in two layers so that proof survives redaction:

* `content_digest` = SHA-256 of the canonical encoding of what a reader without clearance may
  not see: kind, text, author, the number it corrects and (version 2) the system message and a
  random salt;
* `hash` = SHA-256 of the canonical encoding of the envelope: version, incident id, number,
  classification, both times, the content digest and the previous entry's hash.

A withheld entry keeps its envelope, so anyone can check the chain end to end. Version 2 adds
a per-entry salt of 128 random bits to the content, shown only with the content: without it a
withheld entry's digest cannot be matched against guesses. Version 1 entries (written before)
have no salt and verify as they always did; a log may hold both. The version of a stored entry
follows from its salt: an entry has one exactly when it is version 2.
Canonical encoding: JSON, keys sorted, no spaces, UTF-8 without escapes; times in UTC as
`YYYY-MM-DDTHH:MM:SS.ffffffZ`.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from app.log.models import LogEntry

VERSION = 2  # what new entries are written with
GENESIS = "0" * 64
SALT_BYTES = 16  # 128 bits: no guess list comes near it


def canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def format_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def new_salt() -> str:
    return secrets.token_hex(SALT_BYTES)


def version_of(salt: str | None) -> int:
    return 1 if salt is None else 2


def content_digest(
    *,
    kind: str,
    text: str | None,
    author_id: int | None,
    author_name: str | None,
    corrects: int | None,
    salt: str | None = None,
    message: dict[str, Any] | None = None,
) -> str:
    """Version 1 without a salt (and never a message); version 2 with one."""
    author = None if author_id is None else {"id": author_id, "name": author_name}
    content: dict[str, Any] = {"author": author, "corrects": corrects, "kind": kind, "text": text}
    if salt is not None:
        content.update(message=message, salt=salt)
    return hashlib.sha256(canonical(content)).hexdigest()


def entry_hash(
    *,
    version: int,
    incident_id: int,
    number: int,
    classification: str,
    occurred_at: datetime,
    recorded_at: datetime,
    digest: str,
    prev_hash: str,
) -> str:
    envelope = {
        "classification": classification,
        "content_digest": digest,
        "incident_id": incident_id,
        "number": number,
        "occurred_at": format_time(occurred_at),
        "prev_hash": prev_hash,
        "recorded_at": format_time(recorded_at),
        "v": version,
    }
    return hashlib.sha256(canonical(envelope)).hexdigest()


def stored_digest(entry: LogEntry) -> str:
    """The content digest recomputed from a stored row (what `samvirke verify` compares)."""
    return content_digest(
        kind=entry.kind,
        text=None if entry.message is not None else entry.text,
        author_id=entry.author_id,
        author_name=entry.author_name,
        corrects=entry.corrects,
        salt=entry.salt,
        message=None if entry.message is None else json.loads(entry.message),
    )


def stored_hash(entry: LogEntry) -> str:
    """The hash recomputed from a stored row's envelope."""
    return entry_hash(
        version=version_of(entry.salt),
        incident_id=entry.incident_id,
        number=entry.number,
        classification=entry.classification,
        occurred_at=entry.occurred_at,
        recorded_at=entry.recorded_at,
        digest=entry.content_digest,
        prev_hash=entry.prev_hash,
    )
