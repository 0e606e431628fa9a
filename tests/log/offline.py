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


def verify_export(
    export: str, tmp_path: Path, *args: str, public_key: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Save an export as a file and verify it, with more arguments (`--head HASH`), and with
    `--public-key` if given the key's text (PEM or base64, as `samvirke keys show` prints it)."""
    path = tmp_path / "export.jsonl"
    path.write_text(export, encoding="utf-8")
    if public_key is not None:
        key = tmp_path / "public.key"
        key.write_text(public_key, encoding="utf-8")
        args = (*args, "--public-key", str(key))
    return verify_log(str(path), *args)
