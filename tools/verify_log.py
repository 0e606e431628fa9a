#!/usr/bin/env python3
"""Verify a Samvirke log export offline.

    python verify_log.py FILE [--head HASH] [--public-key KEYFILE]   (FILE may be `-`)

FILE is the JSON Lines export of one incident's decision log
(`GET /api/v1/incidents/{id}/log/export`). The script recomputes every entry's content digest
(where the content is present; chain versions 1 and 2, the second with a salt and a system
entry's message) and hash, and checks that numbers run 1, 2, 3, ... without gaps, that each
entry links to the one before it, and that no entry classified `open` is shown as withheld.
`--head HASH` also demands that the last entry has that hash, which a truncated file cannot
fake: take HASH from a source you trust (the output of `samvirke verify`, `GET .../log/verify`,
a printed or signed copy).

The export ends with the server's signed checkpoints (`{"checkpoint": {...}}` lines): each
must name an entry of the file with the hash it signed. `--public-key KEYFILE` (the output of
`samvirke keys show`, PEM or the raw key in base64, from a trusted source such as the minutes)
also checks their Ed25519 signatures and that fewer than 50 entries follow the last one, so a
rebuilt chain, a forged back-dated entry or a removed tail fails unless the forger holds the
server's key. Signatures need the `cryptography` package; nothing else does.

Exit status: 0 the log verifies; 1 it does not (every problem is listed by entry number);
2 the input cannot be read as JSON Lines, or the arguments are wrong.

Standard library only (but for --public-key) and Python 3.9 or newer, so an auditor can run it anywhere and read it in
one sitting. The encoding is described in docs/log-chain.md; app/log/chain.py is the
implementation this file must agree with.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import re
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

VERSIONS = (1, 2)  # 2 adds a salt to the content, and a system entry's message
GENESIS = "0" * 64
HEX64 = re.compile(r"[0-9a-f]{64}")
TIME = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})"
    r"(?:\.([0-9]{1,6}))?(Z|[+-][0-9]{2}:[0-9]{2})"
)
CONTENT_FIELDS = ("kind", "text", "author", "corrects", "system", "message", "salt")
SALT = re.compile(r"[0-9a-f]{32,64}")  # at least 128 bits

EXIT_OK, EXIT_BROKEN, EXIT_UNREADABLE = 0, 1, 2


class Unreadable(Exception):
    """The input is not JSON Lines at all: exit 2."""


# --- the canonical encoding (must match app/log/chain.py) -------------------------------------


def canonical(value: Any) -> bytes:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.encode("utf-8")


def sha256_hex(value: Any) -> str:
    return hashlib.sha256(canonical(value)).hexdigest()


def canonical_time(text: object) -> str:
    """A time as printed by the export, re-printed in UTC as `YYYY-MM-DDTHH:MM:SS.ffffffZ`."""
    match = TIME.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"{text!r} is not of the form YYYY-MM-DDTHH:MM:SS[.ffffff](Z|+HH:MM)")
    year, month, day, hour, minute, second = (int(part) for part in match.group(1, 2, 3, 4, 5, 6))
    micro = int((match.group(7) or "0").ljust(6, "0"))
    zone = match.group(8)
    offset = timedelta(0)
    if zone != "Z":
        offset = timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
        offset = -offset if zone[0] == "-" else offset
    moment = datetime(year, month, day, hour, minute, second, micro, tzinfo=timezone(offset))
    utc = moment.astimezone(timezone.utc)  # noqa: UP017 (datetime.UTC needs Python 3.11)
    # Zero-padded by hand: strftime's %Y is not padded below year 1000 on every platform.
    return (
        f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}T"
        f"{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d}.{utc.microsecond:06d}Z"
    )


def content_digest(
    kind: str,
    text: str | None,
    author: dict[str, Any] | None,
    corrects: int | None,
    salt: str | None = None,
    message: dict[str, Any] | None = None,
) -> str:
    """Version 1 without a salt; version 2 with one, and a system entry's message (whose
    `text` is then a translation of it, not hashed: null takes its place)."""
    content = {"author": author, "corrects": corrects, "kind": kind, "text": text}
    if salt is not None:
        content.update(message=message, salt=salt, text=None if message is not None else text)
    return sha256_hex(content)


def entry_hash(entry: dict[str, Any], occurred_at: str, recorded_at: str) -> str:
    return sha256_hex(
        {
            "classification": entry["classification"],
            "content_digest": entry["content_digest"],
            "incident_id": entry["incident_id"],
            "number": entry["number"],
            "occurred_at": occurred_at,
            "prev_hash": entry["prev_hash"],
            "recorded_at": recorded_at,
            "v": entry.get("v", 1),  # exports made before version 2 have no `v`
        }
    )


# --- reading ---------------------------------------------------------------------------------


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """Refuse repeated keys: another reader might show the first copy where we check the last."""
    value = dict(pairs)
    if len(value) != len(pairs):
        seen = set()
        for key, _ in pairs:
            if key in seen:
                raise ValueError(f"key {key!r} appears twice in one object")
            seen.add(key)
    return value


def read_lines(data: bytes) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) per non-blank line. Splits on LF only: a text may hold U+2028."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    for index, raw in enumerate(data.split(b"\n"), start=1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise Unreadable(f"line {index} is not valid UTF-8 ({exc.reason})") from None
        if not line.strip():
            continue
        try:
            value = json.loads(line, object_pairs_hook=_no_duplicates)
        except ValueError as exc:
            raise Unreadable(f"line {index} is not valid JSON: {exc}") from None
        if not isinstance(value, dict):
            raise Unreadable(f"line {index} is not a JSON object")
        yield index, value


# --- checking --------------------------------------------------------------------------------


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_hex64(value: Any) -> bool:
    return isinstance(value, str) and HEX64.fullmatch(value) is not None


def check_shape(entry: dict[str, Any]) -> list[str]:
    """The fields the hash needs, with the right types. Content is checked by check_content."""
    problems = []
    for field in ("incident_id", "number"):
        if not is_int(entry.get(field)):
            problems.append(f"{field} is missing or not an integer")
    for field in ("content_digest", "prev_hash", "hash"):
        if not is_hex64(entry.get(field)):
            problems.append(f"{field} is missing or not 64 lowercase hex digits")
    if not isinstance(entry.get("classification"), str):
        problems.append("classification is missing or not a string")
    if not isinstance(entry.get("withheld"), bool):
        problems.append("withheld is missing or not true/false")
    if entry.get("v", 1) not in VERSIONS:
        problems.append(f"v must be one of {', '.join(map(str, VERSIONS))}")
    return problems


def check_content(entry: dict[str, Any]) -> list[str]:
    """Recompute a readable entry's content digest; a withheld entry must carry no content."""
    if entry["withheld"]:
        shown = [field for field in CONTENT_FIELDS if entry.get(field) is not None]
        return [f"withheld entry carries content ({', '.join(shown)})"] if shown else []
    kind, text, author = entry.get("kind"), entry.get("text"), entry.get("author")
    corrects = entry.get("corrects")
    if not isinstance(kind, str) or not isinstance(text, str):
        return ["kind or text is missing"]
    if author is not None and not (
        isinstance(author, dict)
        and set(author) == {"id", "name"}
        and is_int(author["id"])
        and isinstance(author["name"], str)
    ):
        return ['author must be null or {"id": integer, "name": string}']
    if corrects is not None and not is_int(corrects):
        return ["corrects must be null or an integer"]
    salt, message = entry.get("salt"), entry.get("message")
    if entry.get("v", 1) == 1 and (salt is not None or message is not None):
        return ["a version 1 entry has no salt and no message"]
    if entry.get("v", 1) == 2 and not (isinstance(salt, str) and SALT.fullmatch(salt)):
        return ["salt must be 32 to 64 lowercase hex digits in version 2"]
    if message is not None and (kind != "system" or not isinstance(message, dict)):
        return ["only a system entry carries a message, and it is an object"]
    problems = []
    try:
        digest = content_digest(kind, text, author, corrects, salt, message)
    except UnicodeEncodeError:
        return ["text or author holds invalid Unicode (a lone surrogate)"]
    if digest != entry["content_digest"]:
        problems.append(
            "content (kind, text, author, corrects, message or salt) does not match content_digest"
        )
    if entry.get("system") is not (kind == "system"):
        problems.append(f"system flag does not match kind {kind!r}")
    return problems


def check_file(
    entries: list[tuple[int, dict[str, Any]]], head: str | None
) -> tuple[list[str], str]:
    """Every problem, prefixed with its entry number; and the summary line for a clean file."""
    if not entries:
        return ["the file holds no entries"], ""
    problems: list[str] = []
    incident_id: int | None = None
    expected, prev_label = 1, "the start of the chain"
    prev_hash: str | None = GENESIS  # None after an entry too broken to link to
    withheld, last_label, last_hash = 0, "", ""
    corrections: dict[int, list[int]] = {}
    visible: dict[int, tuple[str, Any]] = {}

    for line, entry in entries:
        number: Any = entry.get("number")
        label = f"#{number}" if is_int(number) else f"line {line}"
        shape = check_shape(entry)
        if shape:
            problems.extend(f"{label}: {problem}" for problem in shape)
            prev_hash, last_label, last_hash = None, label, ""
            expected = number + 1 if is_int(number) else expected + 1
            continue
        if number != expected:
            problems.append(
                f"{label}: expected entry #{expected} here (entries missing, repeated or reordered)"
            )
        expected = number + 1
        if incident_id is None:
            incident_id = entry["incident_id"]
        elif entry["incident_id"] != incident_id:
            problems.append(
                f"{label}: belongs to incident {entry['incident_id']}, not {incident_id}"
            )
        if prev_hash is not None and entry["prev_hash"] != prev_hash:
            problems.append(f"{label}: prev_hash does not match the hash of {prev_label}")
        problems.extend(f"{label}: {problem}" for problem in check_content(entry))
        try:
            occurred = canonical_time(entry.get("occurred_at"))
            recorded = canonical_time(entry.get("recorded_at"))
            computed = entry_hash(entry, occurred, recorded)
        except (TypeError, ValueError, OverflowError) as exc:
            # UnicodeEncodeError is a ValueError: a lone surrogate in the classification.
            problems.append(f"{label}: occurred_at, recorded_at or classification is bad ({exc})")
        else:
            if computed != entry["hash"]:
                problems.append(f"{label}: hash does not match the entry's envelope")
        if entry["withheld"]:
            withheld += 1
            if entry["classification"] == "open":
                # Everyone may read an open entry: hiding it hides evidence, not a secret.
                problems.append(f"{label}: withheld although its classification is open")
        else:
            visible[number] = (label, entry.get("corrected_by"))
            if is_int(entry.get("corrects")):
                corrections.setdefault(entry["corrects"], []).append(number)
        prev_hash, prev_label = entry["hash"], f"entry {label}"
        last_label, last_hash = label, entry["hash"]

    # `corrected_by` is not hashed, but it follows from the hashed `corrects` in the same file.
    for number, (label, shown) in visible.items():
        should = sorted(corrections.get(number, []))
        if shown is not None and shown != should:
            problems.append(f"{label}: corrected_by {shown} should be {should}")

    if head is not None and last_hash != head:
        problems.append(
            f"{last_label}: the last entry's hash is not the expected head {head} "
            "(file truncated or altered?)"
        )
    summary = (
        f"ok: incident {incident_id}, {len(entries)} entries ({withheld} withheld), "
        f"head {last_label} {last_hash}"
    )
    return problems, summary


# --- signed checkpoints (must match app/log/checkpoints.py) -----------------------------------

CHECKPOINT_TYPE = "samvirke.log.checkpoint"
CHECKPOINT_VERSION = 1
CHECKPOINT_EVERY = 50  # the server signs at least every 50 entries
CHECKPOINT_FIELDS = ("incident_id", "number", "hash", "signed_at", "key_fingerprint", "v")


def split_checkpoints(
    lines: list[tuple[int, dict[str, Any]]],
) -> tuple[list[tuple[int, dict[str, Any]]], list[tuple[int, Any]]]:
    """The entry lines, and the values of the `{"checkpoint": {...}}` lines."""
    entries, checkpoints = [], []
    for line, value in lines:
        if list(value) == ["checkpoint"]:
            checkpoints.append((line, value["checkpoint"]))
        else:
            entries.append((line, value))
    return entries, checkpoints


def checkpoint_bytes(checkpoint: dict[str, Any], signed_at: str) -> bytes:
    """Exactly what the server signed."""
    return canonical(
        {
            "hash": checkpoint["hash"],
            "incident_id": checkpoint["incident_id"],
            "key_fingerprint": checkpoint["key_fingerprint"],
            "number": checkpoint["number"],
            "signed_at": signed_at,
            "type": CHECKPOINT_TYPE,
            "v": checkpoint["v"],
        }
    )


def load_public_key(path: str) -> Any:
    """(fingerprint, verify function) of a key file; Unreadable if it cannot be used."""
    try:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    except ImportError:
        raise Unreadable(
            "--public-key needs the Python package `cryptography` to check signatures "
            "(pip install cryptography); without --public-key nothing else is needed"
        ) from None
    try:
        with open(path, encoding="ascii") as handle:
            lines = [ln.strip() for ln in handle if ln.strip() and not ln.startswith("#")]
    except (OSError, UnicodeDecodeError) as exc:
        raise Unreadable(f"cannot read the public key {path}: {exc}") from None
    try:
        if lines and lines[0].startswith("-----BEGIN"):
            key = serialization.load_pem_public_key("\n".join(lines).encode())
            if not isinstance(key, Ed25519PublicKey):
                raise ValueError("not an Ed25519 key")
        elif len(lines) == 1:
            key = Ed25519PublicKey.from_public_bytes(base64.b64decode(lines[0], validate=True))
        else:
            raise ValueError("expected PEM or one line of base64")
    except (ValueError, TypeError) as exc:
        raise Unreadable(f"{path} is not an Ed25519 public key ({exc})") from None
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)

    def verify(message: bytes, signature: str) -> bool:
        try:
            key.verify(base64.b64decode(signature, validate=True), message)
        except (InvalidSignature, ValueError):
            return False
        return True

    return hashlib.sha256(raw).hexdigest(), verify


def check_checkpoints(
    entries: list[tuple[int, dict[str, Any]]],
    checkpoints: list[tuple[int, Any]],
    keys: dict[str, Any] | None,
) -> tuple[list[str], str]:
    """Problems with the checkpoints, and the summary's tail. `keys`: fingerprint -> verify."""
    hashes = {e["number"]: e.get("hash") for _, e in entries if is_int(e.get("number"))}
    incident_ids = {e.get("incident_id") for _, e in entries}
    problems: list[str] = []
    last = 0
    for line, checkpoint in checkpoints:
        label = f"checkpoint on line {line}"
        if not (
            isinstance(checkpoint, dict)
            and all(field in checkpoint for field in CHECKPOINT_FIELDS)
            and is_int(checkpoint["number"])
            and is_int(checkpoint["incident_id"])
            and is_hex64(checkpoint["hash"])
            and is_hex64(checkpoint["key_fingerprint"])
            and isinstance(checkpoint.get("signature"), str)
        ):
            problems.append(f"{label}: missing or malformed fields")
            continue
        number = checkpoint["number"]
        label = f"checkpoint #{number}"
        last = max(last, number)
        if checkpoint["incident_id"] not in incident_ids:
            problems.append(f"{label}: belongs to incident {checkpoint['incident_id']}")
        if number not in hashes:
            problems.append(f"{label}: names entry #{number}, which is not in the file")
        elif hashes[number] != checkpoint["hash"]:
            problems.append(f"{label}: entry #{number} does not have the hash that was signed")
        if keys is None:
            continue
        verify = keys.get(checkpoint["key_fingerprint"])
        if verify is None:
            problems.append(
                f"{label}: signed by key {checkpoint['key_fingerprint']}, not the given one"
            )
            continue
        try:
            message = checkpoint_bytes(checkpoint, canonical_time(checkpoint["signed_at"]))
        except (TypeError, ValueError, OverflowError) as exc:
            problems.append(f"{label}: signed_at is bad ({exc})")
            continue
        if checkpoint["v"] != CHECKPOINT_VERSION or not verify(message, checkpoint["signature"]):
            problems.append(f"{label}: the signature does not verify")
    if keys is None:
        return problems, ""
    count = max(hashes, default=0)
    if count - last >= CHECKPOINT_EVERY:
        where = f"the last checkpoint (#{last})" if last else "the start (no checkpoint)"
        problems.append(
            f"#{count}: {count - last} entries after {where}; the server signs at least every "
            f"{CHECKPOINT_EVERY} (checkpoints removed, or a log not signed by this key?)"
        )
    return problems, f"; {len(checkpoints)} checkpoints signed by the given key, last #{last}"


# --- command line ----------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="verify_log.py",
        description="Verify a Samvirke decision-log export (JSON Lines) offline.",
        epilog="Exit status: 0 verified, 1 broken (problems listed), 2 unreadable input.",
    )
    parser.add_argument("file", help="the export (.jsonl), or - to read standard input")
    parser.add_argument(
        "--head",
        metavar="HASH",
        help="the hash the last entry must have, from a trusted source; catches truncation",
    )
    parser.add_argument(
        "--public-key",
        metavar="KEYFILE",
        action="append",
        help="the server's public key (samvirke keys show); checks the checkpoints' "
        "signatures. May be given again for a key used earlier",
    )
    args = parser.parse_args(argv)
    if args.head is not None:
        args.head = args.head.strip().lower()
        if not is_hex64(args.head):
            parser.error("--head must be 64 hexadecimal digits")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        if args.file == "-":
            data = sys.stdin.buffer.read()
        else:
            with open(args.file, "rb") as handle:
                data = handle.read()
        entries, checkpoints = split_checkpoints(list(read_lines(data)))
        keys = dict(load_public_key(path) for path in args.public_key or ()) or None
    except OSError as exc:
        print(f"error: cannot read {args.file}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_UNREADABLE
    except Unreadable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_UNREADABLE

    problems, summary = check_file(entries, args.head)
    signed, tail = check_checkpoints(entries, checkpoints, keys)
    problems, summary = problems + signed, summary + tail
    if problems:
        print(f"FAILED: {len(problems)} problem{'' if len(problems) == 1 else 's'} found")
        for problem in problems:
            print(problem)
        return EXIT_BROKEN
    print(summary)
    if checkpoints and keys is None:
        print(
            f"note: {len(checkpoints)} signed checkpoints not checked: give --public-key",
            file=sys.stderr,
        )
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
