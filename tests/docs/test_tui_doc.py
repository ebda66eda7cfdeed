"""docs/tui.md's table of views lists every view of the app with the key that reaches it (issue 21:
it had listed four of them): the five screens with their number and letter keys (app.py), Compare's
views with theirs (screens/compare.py), the run detail and the help."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "tui.md"


def view_rows() -> dict[str, str]:
    """{view name (its bold words): key cell} of the table under "## Screens"."""
    text = DOC.read_text(encoding="utf-8")
    section = text.split("\n## Screens\n", 1)[1].split("\n### ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and "**" in cells[1]:
            rows[re.findall(r"\*\*([^*]+)\*\*", cells[1])[0]] = cells[0]
    return rows


def test_every_view_is_listed_with_its_keys() -> None:
    from xcost_tui.tui.app import MODE_ORDER, MODE_TITLES, XcostApp
    from xcost_tui.tui.screens.compare import VIEW_KEYS, VIEW_TITLES, VIEWS

    bindings = [(b.action, b.key) for b in XcostApp.BINDINGS]
    rows = view_rows()
    for mode in MODE_ORDER:
        number, letter = (
            next(k for a, k in bindings if a == f"goto('{mode}')" and test(k)) for test in (str.isdigit, str.isupper)
        )
        assert rows.get(MODE_TITLES[mode]) == f"{number} / {letter}", (mode, rows)
    compare = next(k for a, k in bindings if a == "goto('compare')" and k.isdigit())
    for view in VIEWS:
        assert rows.get(VIEW_TITLES[view]) == f"{compare}, then {VIEW_KEYS[view]}", (view, rows)
    assert rows["Run detail"].startswith("enter") and rows["Help"] == "F1 / ?"
