"""docs/plans.md lists every target task the registry accepts, so the docs cannot drift from it."""

from __future__ import annotations

import re
from pathlib import Path

from xcost_tui.tasks.registry import MULTIPLE_CHOICE, REGISTRY, TARGET_TASKS

DOC = Path(__file__).resolve().parents[2] / "docs" / "plans.md"


def test_docs_list_every_target_task():
    text = DOC.read_text(encoding="utf-8")
    section = text.split("### Target tasks", 1)[1].split("\n#", 1)[0]
    rows = dict(re.findall(r"^\| `([\w-]+)` \| ([^|]+) \|$", section, flags=re.M))
    assert list(rows) == list(TARGET_TASKS), "docs/plans.md, 'Target tasks', lists other tasks than TARGET_TASKS"
    for name, head in rows.items():
        task = REGISTRY[name]
        words = "multiple choice" if task.head == MULTIPLE_CHOICE else f"classification ({task.num_labels} labels)"
        assert head.startswith(words), f"docs/plans.md says {name} has a {head.strip()!r} head"
