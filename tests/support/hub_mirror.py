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
