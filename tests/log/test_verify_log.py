"""tools/verify_log.py: real exports verify offline; every kind of tampering is caught.

The exports come from the app over HTTP, as an uncleared staff member (restricted entries
withheld) and as a cleared one sees them; the script runs in a subprocess like an auditor's.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.log import chain
from app.main import create_app
from tests import factories
from tests.factories import Account
from tests.log.offline import SCRIPT, verify_log

TRICKY_TEXT = (
    'Melding fra Statsforvalteren: «vann» – ø æ å\u2028line two "quoted" \\ and\ttab\nnew line 🚒'
)

Entry = dict[str, Any]


@dataclass
class Export:
    incident_id: int
    head: str
    staff: str  # as an uncleared staff member sees it: #3 and #5 withheld
    cleared: str  # as a user with restricted clearance sees it


def parse(export: str) -> list[Entry]:
    """The entry lines (not the checkpoint lines at the end)."""
    # Split on LF only: a text may hold U+2028, which str.splitlines() would split on.
    lines = [json.loads(line) for line in export.split("\n") if line]
    return [line for line in lines if "checkpoint" not in line]


def dump(entries: list[Entry]) -> str:
    return "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in entries)


def reported(result: subprocess.CompletedProcess[str]) -> set[int]:
    return {int(n) for n in re.findall(r"^#(\d+): ", result.stdout, flags=re.MULTILINE)}


def _post(client: TestClient, path: str, body: dict[str, Any], headers: dict[str, str]) -> Entry:
    response = client.post(path, json=body, headers=headers)
    assert response.status_code == 201, response.text
    result: Entry = response.json()
    return result


def make_export(client: TestClient, staff_token: str, cleared_token: str) -> Export:
    """An incident whose log has system entries, restricted entries, corrections, tricky text."""
    as_staff = {"Authorization": f"Bearer {staff_token}"}
    as_cleared = {"Authorization": f"Bearer {cleared_token}"}
    incident = _post(client, "/api/v1/incidents", {"title": "Storm Ingunn"}, as_staff)  # 1
    log = f"/api/v1/incidents/{incident['id']}/log"
    # A whole second with an offset: the export prints it as `…:SSZ`, without microseconds.
    earlier = (datetime.now(UTC) - timedelta(hours=1)).replace(microsecond=0)
    earlier_text = earlier.astimezone(timezone(timedelta(hours=1))).isoformat()

    first = {"kind": "decision", "text": "Open the crisis room at the town hall."}
    _post(client, log, first, as_staff)  # 2
    restricted = {
        "kind": "information",
        "text": "Names of the residents without power at the care home.",
        "classification": "restricted",
        "occurred_at": earlier_text,
    }
    _post(client, log, restricted, as_cleared)  # 3
    correction = {"kind": "decision", "text": "Crisis room at the school.", "corrects": 2}
    _post(client, log, correction, as_staff)  # 4
    _post(client, log, {"kind": "information", "text": "More names.", "corrects": 3}, as_cleared)
    _post(client, log, {"kind": "message_in", "text": TRICKY_TEXT}, as_staff)  # 6
    changed = client.patch(
        f"/api/v1/incidents/{incident['id']}",
        json={"level": "red", "phase": "response"},
        headers=as_staff,
    )
    assert changed.status_code == 200, changed.text  # 7 and 8: system entries

    verified = client.get(f"{log}/verify", headers=as_staff).json()
    assert verified["ok"] is True and verified["head"]["number"] == 8
    staff_export = client.get(f"{log}/export", headers=as_staff)
    cleared_export = client.get(f"{log}/export", headers=as_cleared)
    assert staff_export.status_code == cleared_export.status_code == 200
    assert parse(staff_export.text)[2]["occurred_at"] == earlier.strftime("%Y-%m-%dT%H:%M:%SZ")
    return Export(
        incident_id=incident["id"],
        head=verified["head"]["hash"],
        staff=staff_export.text,
        cleared=cleared_export.text,
    )


@pytest.fixture
def export(client: TestClient, staff: Account, cleared: Account) -> Export:
    """A fresh export on each database the suite runs on."""
    return make_export(client, staff.token, cleared.token)


@pytest.fixture(scope="module")
def sample(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Export]:
    """One export (SQLite) shared by the tampering tests, which only edit the file."""
    folder = tmp_path_factory.mktemp("sample")
    shutil.copy(sqlite_template, folder / "samvirke.db")
    settings = Settings(
        database_url=f"sqlite:///{folder / 'samvirke.db'}",
        data_dir=folder / "data",
        secret_key="test-secret-key-not-for-production",
        base_url="http://testserver",
    )
    application = create_app(settings)
    db = application.state.db
    try:
        with TestClient(application) as client:
            staff = factories.account(db, name="Siri Staff", email="siri@example.no")
            cleared = factories.account(
                db, name="Rolf Restricted", email="rolf@example.no", restricted=True
            )
            yield make_export(client, staff.token, cleared.token)
    finally:
        db.dispose()


def test_exports_verify_for_cleared_and_uncleared_viewers(export: Export, tmp_path: Path) -> None:
    staff = parse(export.staff)
    assert [e["number"] for e in staff if e["withheld"]] == [3, 5]
    assert staff[2]["text"] is None and staff[2]["author"] is None
    assert staff[5]["text"] == TRICKY_TEXT
    assert [e["system"] for e in parse(export.cleared)] == [True] + [False] * 5 + [True, True]

    for name, body, withheld in (("staff", export.staff, 2), ("cleared", export.cleared, 0)):
        path = tmp_path / f"{name}.jsonl"
        path.write_text(body, encoding="utf-8")
        for args in ([str(path)], [str(path), "--head", export.head]):
            result = verify_log(*args)
            assert result.returncode == 0, result.stdout + result.stderr
            assert result.stdout.strip() == (
                f"ok: incident {export.incident_id}, 8 entries ({withheld} withheld), "
                f"head #8 {export.head}"
            )


def test_reads_standard_input(sample: Export) -> None:
    result = verify_log("-", "--head", sample.head.upper(), stdin=sample.cleared)
    assert result.returncode == 0, result.stdout + result.stderr


def _set(number: int, field: str, value: Any) -> Callable[[list[Entry]], list[Entry]]:
    def tamper(entries: list[Entry]) -> list[Entry]:
        entries[number - 1][field] = value
        return entries

    return tamper


def _swap(a: int, b: int) -> Callable[[list[Entry]], list[Entry]]:
    def tamper(entries: list[Entry]) -> list[Entry]:
        entries[a - 1], entries[b - 1] = entries[b - 1], entries[a - 1]
        return entries

    return tamper


def _drop(number: int) -> Callable[[list[Entry]], list[Entry]]:
    return lambda entries: [e for e in entries if e["number"] != number]


def _reveal(entries: list[Entry]) -> list[Entry]:
    """Fill a withheld entry with invented content."""
    entries[2].update(withheld=False, kind="decision", text="Invented", author=None, system=False)
    return entries


def _shift_time(number: int, field: str) -> Callable[[list[Entry]], list[Entry]]:
    def tamper(entries: list[Entry]) -> list[Entry]:
        moment = datetime.fromisoformat(entries[number - 1][field])
        entries[number - 1][field] = (moment + timedelta(microseconds=1)).isoformat()
        return entries

    return tamper


TAMPERS: dict[str, tuple[str, Callable[[list[Entry]], list[Entry]], set[int]]] = {
    "text changed": ("staff", _set(2, "text", "Open the crisis room at the school."), {2}),
    "author changed": ("cleared", _set(3, "author", {"id": 1, "name": "Siri Staff"}), {3}),
    "corrects changed": ("staff", _set(4, "corrects", None), {2, 4}),
    "occurred_at of a withheld entry": ("staff", _shift_time(3, "occurred_at"), {3}),
    "recorded_at changed": ("cleared", _shift_time(6, "recorded_at"), {6}),
    "declassified": ("staff", _set(3, "classification", "open"), {3}),
    "withheld entry filled in": ("staff", _reveal, {3}),
    "system flag flipped": ("staff", _set(1, "system", False), {1}),
    "corrected_by changed": ("staff", _set(2, "corrected_by", []), {2}),
    "other incident": ("cleared", _set(6, "incident_id", 999), {6}),
    "hash replaced": ("staff", _set(6, "hash", "f" * 64), {6, 7}),
    # Out of order: #5 and #4 are misplaced, and #6 no longer follows the entry before it.
    "two lines swapped": ("cleared", _swap(4, 5), {4, 5, 6}),
    # #4 corrected #2, so #2's corrected_by now points at a missing entry as well.
    "middle line dropped": ("staff", _drop(4), {2, 5}),
}


@pytest.mark.parametrize("case", list(TAMPERS))
def test_tampering_is_reported_by_entry_number(sample: Export, tmp_path: Path, case: str) -> None:
    view, tamper, expected = TAMPERS[case]
    path = tmp_path / "tampered.jsonl"
    path.write_text(dump(tamper(parse(getattr(sample, view)))), encoding="utf-8")
    result = verify_log(str(path))
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout.startswith("FAILED")
    assert reported(result) == expected, result.stdout


def test_truncation_is_caught_only_with_head(export: Export, tmp_path: Path) -> None:
    path = tmp_path / "truncated.jsonl"
    path.write_text(dump(_drop(8)(parse(export.staff))), encoding="utf-8")
    assert verify_log(str(path)).returncode == 0  # a clean prefix of a chain is still a chain
    result = verify_log(str(path), "--head", export.head)
    assert result.returncode == 1, result.stdout + result.stderr
    assert reported(result) == {7}
    assert export.head in result.stdout


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"number": 4,', "line 4 is not valid JSON"),
        ("[1, 2, 3]", "line 4 is not a JSON object"),
        ('{"number": 4, "number": 5}', "line 4 is not valid JSON: key 'number' appears twice"),
    ],
)
def test_malformed_line_is_unreadable(
    sample: Export, tmp_path: Path, line: str, message: str
) -> None:
    lines = sample.staff.split("\n")
    lines[3] = line
    path = tmp_path / "malformed.jsonl"
    path.write_text("\n".join(lines), encoding="utf-8")
    result = verify_log(str(path))
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr


def test_unreadable_input(tmp_path: Path) -> None:
    missing = verify_log(str(tmp_path / "missing.jsonl"))
    assert missing.returncode == 2 and "cannot read" in missing.stderr
    binary = tmp_path / "binary.jsonl"
    binary.write_bytes(b'{"number": 1}\n\xff\xfe\n')
    result = verify_log(str(binary))
    assert result.returncode == 2 and "line 2 is not valid UTF-8" in result.stderr
    bad_head = verify_log(str(binary), "--head", "abc")
    assert bad_head.returncode == 2 and "--head" in bad_head.stderr


def test_empty_file_proves_nothing(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_text("")
    result = verify_log(str(path))
    assert result.returncode == 1 and "no entries" in result.stdout


# --- the script stays stdlib-only and Python 3.9 compatible ----------------------------------


def _imported_modules(source: str) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "relative import"
            modules.add((node.module or "").split(".")[0])
    return modules


def test_imports_only_the_standard_library() -> None:
    """And `cryptography`, for --public-key only: inside the function that loads the key."""
    source = SCRIPT.read_text(encoding="utf-8")
    outside = _imported_modules(source) - set(sys.stdlib_module_names) - {"__future__"}
    assert outside == {"cryptography"}, f"tools/verify_log.py imports {outside}"
    tree = ast.parse(source)
    functions = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    others = "\n".join(ast.unparse(n) for n in tree.body if n not in functions.values())
    assert "cryptography" not in _imported_modules(others)
    assert "cryptography" in _imported_modules(ast.unparse(functions["load_public_key"]))
    assert "__import__" not in source and "importlib" not in source
    ast.parse(source, feature_version=(3, 9))  # no newer syntax


def test_runs_isolated_without_site_packages(sample: Export, tmp_path: Path) -> None:
    path = tmp_path / "export.jsonl"
    path.write_text(sample.staff, encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-I", "-S", str(SCRIPT), str(path), "--head", sample.head],
        capture_output=True,
        check=False,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _python39() -> str | None:
    """A working Python 3.9 (pyenv's shims may exist without the version being active)."""
    root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    candidates = [str(p) for p in sorted(root.glob("3.9*/bin/python3.9"))] if root.is_dir() else []
    candidates += [found] if (found := shutil.which("python3.9")) else []
    for python in candidates:
        probe = subprocess.run(
            [python, "-c", "import sys; assert sys.version_info[:2] == (3, 9)"],
            capture_output=True,
            check=False,
            timeout=30,
        )
        if probe.returncode == 0:
            return python
    return None


def test_runs_on_python_3_9(sample: Export, tmp_path: Path) -> None:
    """Auditors may have an old Python. Without a 3.9 here, the syntax check above must do.

    (No skip: under SAMVIRKE_REQUIRE_ALL=1 every skip fails, and 3.9 is not something CI
    can install from apt.)
    """
    python = _python39()
    if python is None:
        return
    path = tmp_path / "export.jsonl"
    path.write_text(sample.staff, encoding="utf-8")
    result = verify_log(str(path), "--head", sample.head, python=python)
    assert result.returncode == 0, result.stdout + result.stderr
    tampered = tmp_path / "tampered.jsonl"
    tampered.write_text(dump(_shift_time(3, "occurred_at")(parse(sample.staff))), encoding="utf-8")
    assert reported(verify_log(str(tampered), python=python)) == {3}


def test_worked_example_in_the_docs_is_true(tmp_path: Path) -> None:
    """docs/log-chain.md: its example export verifies, and app/log/chain.py gives its hashes."""
    doc = (SCRIPT.parents[1] / "docs" / "log-chain.md").read_text(encoding="utf-8")
    lines = [line for line in doc.split("\n") if line.startswith('{"incident_id": 7, ')]
    assert len(lines) == 2
    path = tmp_path / "example.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    head = json.loads(lines[1])["hash"]
    result = verify_log(str(path), "--head", head)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() in doc

    digest = chain.content_digest(
        kind="decision",
        text="Åpne kriserommet på rådhuset.",
        author_id=3,
        author_name="Siri Staff",
        corrects=None,
    )
    assert digest == json.loads(lines[1])["content_digest"]
    assert (
        chain.entry_hash(
            version=1,
            incident_id=7,
            number=2,
            classification="restricted",
            occurred_at=datetime(2026, 11, 23, 20, 5, tzinfo=timezone(timedelta(hours=1))),
            recorded_at=datetime(2026, 11, 23, 19, 20, 8, 832343, tzinfo=UTC),
            digest=digest,
            prev_hash=json.loads(lines[0])["hash"],
        )
        == head
    )
