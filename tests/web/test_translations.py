"""Bokmål is the default language: every message the app can show has a bokmål translation."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_message_has_a_bokmal_translation() -> None:
    result = subprocess.run(
        ["bash", "scripts/i18n.sh", "--check"],
        cwd=ROOT,
        env={"BIN": str(Path(sys.executable).parent), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
