"""tools/verify_log.py as an auditor runs it: its own Python process, on an exported log."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "tools" / "verify_log.py"


def verify_log(
    *args: str,
    stdin: str | None = None,
    python: str = sys.executable,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run the verifier with these arguments (a file or `-` for `stdin`, `--head`, …)."""
    return subprocess.run(
        [python, str(SCRIPT), *args],
        input=stdin,
        capture_output=True,
        check=False,
        text=True,
        encoding="utf-8",
        timeout=60,
        env=env,
    )


def verify_export(export: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Save an export as a file and verify it, with more arguments (`--public-key FILE`, …)."""
    path = tmp_path / "export.jsonl"
    path.write_text(export, encoding="utf-8")
    return verify_log(str(path), *args)
