"""Bokmål is the default language: every message the app can show has a bokmål translation."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from fastapi.testclient import TestClient

from app.db import Database
from tests import factories
from tests.web.helpers import sign_in, text_of

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


def test_bokmal_never_names_a_security_act_grade(client: TestClient, db: Database) -> None:
    """ "Begrenset" is a grade under the Security Act (sikkerhetsloven), and "klarering" its
    clearance; Samvirke is not accredited for graded information, so need-to-know is
    "Skjermet" and access to it "innsyn"."""
    catalogue = (ROOT / "app/translations/nb/LC_MESSAGES/messages.po").read_text()
    strings = " ".join(re.findall(r'^msgstr "(.*)"$', catalogue, re.MULTILINE)).lower()
    assert "begrens" not in strings
    assert "klarer" not in strings
    admin = factories.account(
        db, name="Anne Admin", email="anne@example.no", role="admin", restricted=True
    )
    sign_in(client, admin)
    page = text_of(client.get("/admin/users", headers={"Accept-Language": "nb"}).text)
    assert "Skjermet" in page
    assert "Innsyn i skjermet" in page
    assert "Begrenset" not in page
