"""Where a split's rows came from: one ``DataSource`` per split a run (or the pre-flight) read.

Plain data (no torch, no datasets): the job writes it into a ``data_loaded`` event, the store
indexes it (``data_sources``), the pre-flight prints it. See docs/tasks.md, "Provenance".
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

# ``DataSource.source``
LOCAL = "local"  # a JSONL file under --data-dir
HUB = "hub"  # the Hugging Face hub, through datasets.load_dataset
HUB_MIRROR = "hub-mirror"  # a local stand-in for the hub ($XCOST_HUB_MIRROR), through the same call

PARQUET_BRANCH = "refs/convert/parquet"  # the hub's auto-converted Parquet export of a repository


@dataclass(frozen=True)
class DataSource:
    """One split as read: enough to say exactly which bytes a run trained or evaluated on.

    ``revision`` is the revision asked for (None: the default branch, ``main``);
    ``resolved_revision`` the commit it resolved to on the hub (None for local files, whose
    identity is ``path`` + ``sha256``). ``rows`` counts the split's rows, ``used`` the examples
    taken from it (``subset`` says how: ``all``, ``first`` N or a ``seeded`` random subset).
    ``fallback`` names the branch read instead of the default one when the repository holds only a
    loading script. ``questions_corrected`` (XCOPA only) counts the items whose cause/effect
    question was replaced by English COPA's (``xcopa_question = "copa"``)."""

    task: str
    split: str  # canonical: train, validation, test
    lang: str
    source: str  # LOCAL, HUB or HUB_MIRROR
    repo: str | None = None  # the hub id (also for a local copy: its online equivalent)
    config: str | None = None
    hub_split: str | None = None
    revision: str | None = None
    resolved_revision: str | None = None
    path: str | None = None  # the local file, or the mirror folder
    sha256: str | None = None  # of the local file, or of the mirror folder's files
    rows: int | None = None
    used: int | None = None
    subset: str = "all"  # all | first | seeded
    fallback: str | None = None
    role: str = ""  # what the run uses it for: train, eval, few-shot-pool, questions
    xcopa_question: str | None = None  # copa | published (xcopa only)
    questions_corrected: int | None = None
    note: str | None = None  # e.g. why a fallback branch was read

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DataSource:
        names = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in d.items() if k in names})

    def describe(self) -> str:
        """One line for logs: where the rows came from."""
        if self.source == LOCAL:
            where = f"{self.path} (sha256 {(self.sha256 or '?')[:12]})"
        else:
            cfg = f", config {self.config}" if self.config else ""
            rev = self.resolved_revision or self.revision or "main"
            where = f"{self.repo}{cfg}, split {self.hub_split}, revision {rev}"
            if self.source == HUB_MIRROR:
                where += f" (mirror {self.path})"
        return where


def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def sha256_tree(folder: str | os.PathLike) -> str:
    """A digest of every file under ``folder``: relative path and content, in sorted order."""
    root = Path(folder)
    h = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        if rel.startswith(".cache/") or "/.cache/" in rel:  # datasets' own lock and cache files
            continue
        h.update(rel.encode() + b"\0" + sha256_file(path).encode() + b"\n")
    return h.hexdigest()


@dataclass
class LoadedSplit:
    """What ``load_split`` returns: the examples, and where they came from.

    ``sources[0]`` is the split itself; an XCOPA split read with ``xcopa_question = "copa"``
    also lists the English COPA split its questions came from. ``corrected`` holds the idx of
    the examples whose question was corrected."""

    examples: list
    sources: list[DataSource]
    corrected: set = field(default_factory=set)

    @property
    def source(self) -> DataSource:
        return self.sources[0]
