"""The hash chain of a log (documented in docs/log-chain.md; tools/verify_log.py repeats it).

Each entry is hashed in two layers so that proof survives redaction:

* `content_digest` = SHA-256 of the canonical encoding of what a reader without clearance may
  not see: kind, text, author and the number it corrects;
* `hash` = SHA-256 of the canonical encoding of the envelope: version, incident id, number,
  classification, both times, the content digest and the previous entry's hash.

A withheld entry keeps its envelope, so anyone can check the chain end to end.
Canonical encoding: JSON, keys sorted, no spaces, UTF-8 without escapes; times in UTC as
`YYYY-MM-DDTHH:MM:SS.ffffffZ`.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

VERSION = 1
GENESIS = "0" * 64


def canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def format_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def content_digest(
    *, kind: str, text: str, author_id: int | None, author_name: str | None, corrects: int | None
) -> str:
    author = None if author_id is None else {"id": author_id, "name": author_name}
    content = {"author": author, "corrects": corrects, "kind": kind, "text": text}
    return hashlib.sha256(canonical(content)).hexdigest()


def entry_hash(
    *,
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
        "v": VERSION,
    }
    return hashlib.sha256(canonical(envelope)).hexdigest()
