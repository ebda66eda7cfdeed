"""A learnable synthetic multiple-choice task in the COPA/XCOPA file layout.

The premise names a category; the right choice is a member of that category and the wrong
one a member of another. The answer depends on context and choice together, so a model that
ignores either, or a broken label or head, stays at chance (50%).
"""

from __future__ import annotations

import json
import random
from pathlib import Path

CATEGORIES = {
    "fruit": ["apple", "pear", "plum", "grape", "mango", "lemon"],
    "animal": ["horse", "tiger", "zebra", "camel", "otter", "mouse"],
    "tool": ["hammer", "saw", "drill", "wrench", "chisel", "rake"],
    "colour": ["red", "blue", "green", "yellow", "purple", "orange"],
}


def make_rows(n: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    names = sorted(CATEGORIES)
    rows = []
    for i in range(n):
        cat, other = rng.sample(names, 2)
        right, wrong = rng.choice(CATEGORIES[cat]), rng.choice(CATEGORIES[other])
        label = rng.randrange(2)
        choices = [wrong, wrong]
        choices[label] = right
        rows.append(
            {
                "premise": f"I want a {cat}.",
                "choice1": f"The {choices[0]}.",
                "choice2": f"The {choices[1]}.",
                "question": rng.choice(["cause", "effect"]),
                "label": label,
                "idx": i,
            }
        )
    return rows


def write_synthetic_data_dir(root: Path, langs=("it",), n_train=400, n_val=100, n_test=200) -> Path:
    def dump(path: Path, rows):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")

    dump(root / "copa" / "train.jsonl", make_rows(n_train, 1))
    dump(root / "copa" / "val.jsonl", make_rows(n_val, 2))
    # As in SuperGLUE, COPA test is unlabelled; XCOPA test items take their cause/effect question from
    # it by idx (xcopa_question = "copa"), so it has one item per XCOPA test idx.
    dump(root / "copa" / "test.jsonl", [{**r, "label": -1} for r in make_rows(n_test, 5)])
    for lang in langs:
        dump(root / "xcopa" / lang / "val.jsonl", make_rows(n_val, 3))
        dump(root / "xcopa" / lang / "test.jsonl", make_rows(n_test, 4))
    return root
