"""The shape of the spine: which packages may import which, and what `live/` may not know.

`web/` (pages) and `live/` (the push) both render through `app/ui`, and neither imports the
other; `app/ui` imports neither. `live/` is machinery: it names no event type, so a domain
adds one by declaring it (docs/live.md, "Adding an event type"). Read from the source with
`ast`, so nothing is imported for the check.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from app import domains

APP = Path(__file__).resolve().parents[2] / "app"


def _modules(package: str) -> list[Path]:
    return sorted((APP / package).rglob("*.py"))


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [("live", ("app.web",)), ("web", ("app.live",)), ("ui", ("app.web", "app.live"))],
)
def test_imports_point_one_way(package: str, forbidden: tuple[str, ...]) -> None:
    wrong = [
        f"{path.relative_to(APP)} imports {name}"
        for path in _modules(package)
        for name in sorted(_imports(path))
        if any(name == f or name.startswith(f + ".") for f in forbidden)
    ]
    assert not wrong


def test_live_names_no_event_type() -> None:
    names = {kind.name for kind in domains.event_types()}
    assert names  # the domains declare some
    for path in _modules("live"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        strings = {
            node.value
            for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
        }
        assert not {s for s in strings if any(name in s for name in names)}, path
        assert not {name for name in _imports(path) if name.startswith("app.events.service")}, path
