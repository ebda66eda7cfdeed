"""A local stand-in for the Hugging Face hub ($XCOST_HUB_MIRROR, docs/tasks.md).

``$XCOST_HUB_MIRROR/<revision>/<org>/<name>/`` is repository ``org/name`` at ``revision``, laid out
as on the hub, so ``datasets.load_dataset(folder, config, split=...)`` runs for real on it:

- a script-free repository: ``<config>/<split>-00000-of-00001.parquet`` files and a README.md whose
  YAML ``configs:`` names each config's files (what the hub's "Convert dataset to Parquet" writes);
- a script-only repository: just ``<name>.py`` (and a README), which datasets refuses;
- the Parquet export (revision ``refs/convert/parquet``): ``<config>/<split>/0000.parquet``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

PARQUET = "refs/convert/parquet"


def _table(rows: list[dict]) -> pa.Table:
    return pa.Table.from_pylist(rows)


def write_repo(mirror: Path, repo: str, configs: dict[str, dict[str, list[dict]]], revision: str = "main") -> Path:
    """A script-free repository: config -> split -> rows."""
    root = mirror / revision / repo
    lines = ["---", "configs:"]
    for config, splits in configs.items():
        lines += [f"- config_name: {config}", "  data_files:"]
        for split, rows in splits.items():
            path = root / config / f"{split}-00000-of-00001.parquet"
            path.parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(_table(rows), path)
            lines += [f"  - split: {split}", f"    path: {config}/{split}-*"]
    lines.append("---")
    (root / "README.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


def write_script_only(mirror: Path, repo: str) -> Path:
    """A repository that holds only a loading script, like allenai/cosmos_qa on the hub."""
    root = mirror / "main" / repo
    root.mkdir(parents=True, exist_ok=True)
    name = repo.split("/")[-1]
    (root / f"{name}.py").write_text(
        "import datasets\n\n\nclass Builder(datasets.GeneratorBasedBuilder):\n    pass\n", encoding="utf-8"
    )
    (root / "README.md").write_text(f"# {name}\n", encoding="utf-8")
    return root


def write_parquet_export(mirror: Path, repo: str, configs: dict[str, dict[str, list[dict]]]) -> Path:
    """The hub's auto-converted Parquet branch: <config>/<split>/0000.parquet, no dataset card."""
    root = mirror / PARQUET / repo
    for config, splits in configs.items():
        for split, rows in splits.items():
            path = root / config / split / "0000.parquet"
            path.parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(_table(rows), path)
    (root / ".gitattributes").write_text("*.parquet filter=lfs diff=lfs merge=lfs -text\n", encoding="utf-8")
    return root


def jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def cosmos_rows(n: int, start: int = 0, labelled: bool = True) -> list[dict]:
    return [
        {
            "id": f"c{i}",
            "context": f"Context {i}.",
            "question": f"Why {i}?",
            "answer0": "a",
            "answer1": "b",
            "answer2": "c",
            "answer3": "d",
            "label": (i % 4) if labelled else -1,
        }
        for i in range(start, start + n)
    ]


def siqa_rows(n: int) -> list[dict]:
    return [
        {
            "context": f"Tracy did {i}.",
            "question": "What next?",
            "answerA": "x",
            "answerB": "y",
            "answerC": "z",
            "label": str(1 + i % 3),
        }
        for i in range(n)
    ]


# ---- synthetic span and NLI rows (issue 19: SQuAD, ANLI+) --------------------------------------

_WORDS = (
    "river stone garden window candle market forest ladder silver orange winter teacher violin "
    "harbor pepper meadow castle rocket blanket lantern"
).split()


def squad_rows(n: int, *, v2: bool = False, long_every: int = 4, start: int = 0) -> list[dict]:
    """SQuAD-shaped rows whose answers really are spans of their contexts (checked here as the
    converter checks them). Every ``long_every``-th context is long (over one 64-token window, the
    answer near its end); with ``v2`` every third question has no answer (empty answer lists)."""
    rows = []
    for i in range(start, start + n):
        name = f"{_WORDS[i % len(_WORDS)]} {_WORDS[(3 * i + 1) % len(_WORDS)]}"
        filler = " ".join(_WORDS[(i + k) % len(_WORDS)] for k in range(60 if i % long_every == 0 else 6))
        context = f"The {_WORDS[i % 7]} belongs to {name}. {filler}. The key was found near the {name} today."
        unanswerable = v2 and i % 3 == 2
        if unanswerable:
            answers: dict = {"text": [], "answer_start": []}
            question = f"Who painted the {_WORDS[(i + 5) % len(_WORDS)]} in {i}?"
        else:
            where = context.rindex(name)
            answers = {"text": [name], "answer_start": [where]}
            question = f"Where was the key found in story {i}?"
        for text, at in zip(answers["text"], answers["answer_start"]):
            assert context[at : at + len(text)] == text
        rows.append({"id": f"q{i}", "title": "synthetic", "context": context, "question": question, "answers": answers})
    return rows


def nli_rows(n: int, *, id_field: str = "idx", unlabelled_every: int = 0, start: int = 0) -> list[dict]:
    """Premise/hypothesis rows with labels 0..2 (entailment, neutral, contradiction); with
    ``unlabelled_every`` every such row has label -1 (SNLI's rows without a gold label)."""
    rows = []
    for i in range(start, start + n):
        a, b = _WORDS[i % len(_WORDS)], _WORDS[(i + 3) % len(_WORDS)]
        label = -1 if unlabelled_every and i % unlabelled_every == 0 else i % 3
        hypothesis = [f"There is a {a}.", f"The {a} is old.", f"There is no {a}."][i % 3]
        row = {"premise": f"A {a} lies beside the {b} number {i}.", "hypothesis": hypothesis, "label": label}
        row[id_field] = f"u{i}" if id_field == "uid" else i
        rows.append(row)
    return rows
