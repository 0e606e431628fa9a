"""Signed checkpoints: the server's Ed25519 signature over a log's head, now and then.

The hash chain proves a log is consistent up to its last entry; whoever controls the
database can still cut its tail or rebuild it whole. A checkpoint pins the head (incident,
number, hash, time) with a key kept outside the database (app/log/signing.py), so a rebuilt
chain, a forged back-dated entry or a removed tail no longer verifies unless the attacker
also holds the key. What it proves, and what not: docs/security/checkpoints.md.

When: after every `EVERY_ENTRIES` entries, at the first entry `EVERY` or more after the last
checkpoint (or the opening), at every phase change and at closing; always in the transaction
of the write that makes it due, so there is no background job and no unsigned window beyond
these bounds. The incident row says where the last checkpoint is, so the hot path decides
without a query. Both bounds are constants, not settings: the verifiers rely on the first
(fewer than `EVERY_ENTRIES` entries may follow the last checkpoint).

The signed bytes are the canonical JSON (app/log/chain.py) of
`{"hash", "incident_id", "key_fingerprint", "number", "signed_at", "type", "v"}`, with
`type` = "samvirke.log.checkpoint" and `v` = 1 (docs/log-chain.md, tools/verify_log.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, bindparam, insert, update
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, col, select

from app.db import utcnow
from app.incidents.models import Incident
from app.log import chain
from app.log.models import ChainProblem, CheckpointPublic, LogCheckpoint, LogEntry
from app.log.signing import Signer

EVERY_ENTRIES = 50
EVERY = timedelta(minutes=10)
VERSION = 1
TYPE = "samvirke.log.checkpoint"

_CHECKPOINTS: Table = LogCheckpoint.__table__  # type: ignore[attr-defined]
_INCIDENTS: Table = Incident.__table__  # type: ignore[attr-defined]
_INSERT = insert(_CHECKPOINTS)
_UPDATE_INCIDENT = update(_INCIDENTS).where(_INCIDENTS.c.id == bindparam("incident_key"))


def signed_bytes(
    *,
    incident_id: int,
    number: int,
    hash: str,
    signed_at: datetime,
    key_fingerprint: str,
    version: int = VERSION,
) -> bytes:
    """Exactly what the signature covers."""
    return chain.canonical(
        {
            "hash": hash,
            "incident_id": incident_id,
            "key_fingerprint": key_fingerprint,
            "number": number,
            "signed_at": chain.format_time(signed_at),
            "type": TYPE,
            "v": version,
        }
    )


def after_entry(
    session: Session, *, incident: Incident, recorded_at: datetime, signer: Signer | None
) -> None:
    """Sign the head if an entry just written makes a checkpoint due. Never commits."""
    since = incident.checkpoint_at or incident.opened_at
    if incident.log_count - incident.checkpoint_number >= EVERY_ENTRIES or (
        recorded_at - since >= EVERY
    ):
        sign_head(session, incident=incident, signer=signer)


def sign_head(
    session: Session, *, incident: Incident, signer: Signer | None
) -> LogCheckpoint | None:
    """Sign the locked incident's head, unless it is signed already or the log is empty.

    Without a key (`signer` None: a `Database` made without one, as some tools do) nothing is
    signed; the server always has one (app/actions.py lends it to every action).
    """
    if signer is None or incident.log_count == 0 or incident.log_head_hash is None:
        return None
    if incident.checkpoint_number == incident.log_count:
        return None
    assert incident.id is not None
    signed_at = utcnow()
    fields: dict[str, Any] = {
        "incident_id": incident.id,
        "number": incident.log_count,
        "hash": incident.log_head_hash,
        "signed_at": signed_at,
        "key_fingerprint": signer.fingerprint,
        "version": VERSION,
    }
    row = {**fields, "signature": signer.sign(signed_bytes(**fields))}
    connection = session.connection()
    connection.execute(_INSERT, row)
    connection.execute(
        _UPDATE_INCIDENT,
        {
            "incident_key": incident.id,
            "checkpoint_number": incident.log_count,
            "checkpoint_at": signed_at,
        },
    )
    # As committed values, like the log's head in record_event: nothing left to flush.
    set_committed_value(incident, "checkpoint_number", incident.log_count)
    set_committed_value(incident, "checkpoint_at", signed_at)
    return LogCheckpoint.model_construct(**row)


def list_checkpoints(session: Session, *, incident: Incident) -> list[CheckpointPublic]:
    return [_present(c) for c in _stored(session, incident.id)]


def export_lines(session: Session, *, incident: Incident) -> Iterator[str]:
    """One `{"checkpoint": {…}}` line per checkpoint, for the end of the log's export."""
    for checkpoint in list_checkpoints(session, incident=incident):
        line = {"checkpoint": checkpoint.model_dump(mode="json")}
        yield json.dumps(line, ensure_ascii=False) + "\n"


def check(session: Session, *, incident: Incident, signer: Signer | None) -> list[ChainProblem]:
    """Problems with the incident's checkpoints, for `verify_chain`: `check_signatures`, and
    whether they cover the log: fewer than `EVERY_ENTRIES` entries may follow the last one,
    and a closed log's last checkpoint is its last entry (closing signs it). `signer` holds
    the key to check them with (None: there is none here)."""
    problems, last = check_signatures(session, incident=incident, signer=signer)
    if incident.log_count - last >= EVERY_ENTRIES:
        problems.append(
            ChainProblem(
                number=incident.log_count,
                problem=f"{incident.log_count - last} entries after the last checkpoint "
                f"(#{last}), fewer than {EVERY_ENTRIES} expected: checkpoints removed?",
            )
        )
    if incident.is_closed and last != incident.log_count:
        problems.append(
            ChainProblem(
                number=incident.log_count,
                problem=f"closed, but the last checkpoint (#{last}) is not the last entry",
            )
        )
    return problems


def check_signatures(
    session: Session, *, incident: Incident, signer: Signer | None
) -> tuple[list[ChainProblem], int]:
    """Problems with the stored checkpoints themselves, and the number the last one signs (0
    if none): each must be signed by this server's key, over what it says, and name an entry
    that exists with that hash."""
    stored = _stored(session, incident.id)
    if stored and signer is None:
        problem = "no signing key here to check the checkpoints"
        return [ChainProblem(number=0, problem=problem)], stored[-1].number
    hashes = _hashes(session, incident.id, [c.number for c in stored])
    problems = [
        ChainProblem(number=checkpoint.number, problem=f"checkpoint: {problem}")
        for checkpoint in stored
        for problem in _check_one(checkpoint, signer, hashes)
    ]
    return problems, stored[-1].number if stored else 0


def _check_one(
    checkpoint: LogCheckpoint, signer: Signer | None, hashes: dict[int, str]
) -> list[str]:
    assert signer is not None
    problems = []
    if checkpoint.key_fingerprint != signer.fingerprint:
        problems.append(
            f"signed by another key ({checkpoint.key_fingerprint}), not this server's "
            f"({signer.fingerprint})"
        )
    elif checkpoint.version != VERSION or not signer.verify(
        signed_bytes(
            incident_id=checkpoint.incident_id,
            number=checkpoint.number,
            hash=checkpoint.hash,
            signed_at=checkpoint.signed_at,
            key_fingerprint=checkpoint.key_fingerprint,
            version=checkpoint.version,
        ),
        checkpoint.signature,
    ):
        problems.append("signature does not verify")
    if checkpoint.number not in hashes:
        problems.append(f"names entry #{checkpoint.number}, which does not exist")
    elif hashes[checkpoint.number] != checkpoint.hash:
        problems.append(f"entry #{checkpoint.number} no longer has the hash that was signed")
    return problems


def _stored(session: Session, incident_id: int | None) -> list[LogCheckpoint]:
    return list(
        session.exec(
            select(LogCheckpoint)
            .where(LogCheckpoint.incident_id == incident_id)
            .order_by(col(LogCheckpoint.number))
        ).all()
    )


def _hashes(session: Session, incident_id: int | None, numbers: list[int]) -> dict[int, str]:
    if not numbers:
        return {}
    rows = session.exec(
        select(LogEntry.number, LogEntry.hash).where(
            LogEntry.incident_id == incident_id, col(LogEntry.number).in_(numbers)
        )
    ).all()
    return dict(rows)


def _present(checkpoint: LogCheckpoint) -> CheckpointPublic:
    return CheckpointPublic(
        incident_id=checkpoint.incident_id,
        number=checkpoint.number,
        hash=checkpoint.hash,
        signed_at=checkpoint.signed_at,
        key_fingerprint=checkpoint.key_fingerprint,
        v=checkpoint.version,
        signature=checkpoint.signature,
    )
