"""The rows of ``predictions.jsonl`` and ``samples.jsonl``: one shape each, for writer and reader.

The writers (the job's evaluation, the sampler) build these records; the store reads the
files in bulk with DuckDB's JSON reader, whose column types are derived here
(``PREDICTION_COLUMNS``, ``SAMPLE_COLUMNS``) so the two can never disagree.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from .fields import as_float, as_int, as_str


@dataclass(frozen=True)
class Prediction:
    phase: str  # eval:<lang>
    task: str  # xcopa, or copa for English validation
    lang: str
    split: str
    # the item's id (the same item across languages): XCOPA's and COPA's are numbers, other tasks'
    # strings (CommonsenseQA's and CosmosQA's ids: their validation split is eval:en's for such a target)
    idx: int | str
    pred: int  # the chosen option
    label: int  # the gold option (-1: unlabelled)
    scores: list[float]  # the model's score of each option (fp32 logits or log-likelihoods)
    correct: bool

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# name -> DuckDB type, in the order of the record (the store's predictions table adds run_id)
PREDICTION_COLUMNS: dict[str, str] = {
    "phase": "VARCHAR",
    "task": "VARCHAR",
    "lang": "VARCHAR",
    "split": "VARCHAR",
    "idx": "VARCHAR",  # int | str: a number's digits (read as text, so a string id is never a NULL)
    "pred": "BIGINT",
    "label": "BIGINT",
    "scores": "DOUBLE[]",
    "correct": "BOOLEAN",
}


@dataclass(frozen=True)
class Translation:
    """One XCOPA item of one language in English, as translate-test's classifier read it."""

    phase: str  # translate:<lang>
    lang: str
    split: str
    idx: int  # the item's idx
    translator: str  # "published", or the MT model
    premise: str
    choice1: str
    choice2: str
    source_premise: str | None = None  # the text translated (None for the published translations)
    source_choice1: str | None = None
    source_choice2: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


TRANSLATION_COLUMNS: dict[str, str] = {
    "phase": "VARCHAR",
    "lang": "VARCHAR",
    "split": "VARCHAR",
    "idx": "BIGINT",
    "translator": "VARCHAR",
    "premise": "VARCHAR",
    "choice1": "VARCHAR",
    "choice2": "VARCHAR",
    "source_premise": "VARCHAR",
    "source_choice1": "VARCHAR",
    "source_choice2": "VARCHAR",
}


@dataclass(frozen=True)
class GpuReading:
    """One GPU at one sample (NVML); a figure NVML cannot give is None, never 0."""

    index: int
    name: str | None = None
    uuid: str | None = None
    mem_used_bytes: int | None = None
    mem_total_bytes: int | None = None
    util_percent: float | None = None
    power_w: float | None = None
    temp_c: float | None = None
    proc_mem_bytes: int | None = None  # what NVML attributes to the job's own processes
    # Contention: processes NVML lists on this GPU that are not the job's (None: NVML could not
    # list them, or lists pids of another pid namespace), and the memory it attributes to them.
    other_pids: list[int] | None = None
    other_mem_bytes: int | None = None

    @classmethod
    def from_dict(cls, d: Any) -> GpuReading | None:
        if not isinstance(d, dict) or as_int(d.get("index")) is None:
            return None
        others = d.get("other_pids")
        return cls(
            as_int(d.get("index")) or 0,
            as_str(d.get("name")),
            as_str(d.get("uuid")),
            as_int(d.get("mem_used_bytes")),
            as_int(d.get("mem_total_bytes")),
            as_float(d.get("util_percent")),
            as_float(d.get("power_w")),
            as_float(d.get("temp_c")),
            as_int(d.get("proc_mem_bytes")),
            [p for p in (as_int(x) for x in others) if p is not None] if isinstance(others, list) else None,
            as_int(d.get("other_mem_bytes")),
        )


@dataclass(frozen=True)
class Sample:
    """The job's resources at one moment: its process tree (psutil) and its GPUs (NVML)."""

    t: float
    phase: str | None = None
    cpu_percent: float | None = None  # of one core: a job on 4 cores can read 400; None on the first tick
    rss_bytes: int | None = None  # the whole process tree
    gpus: list[GpuReading] = field(default_factory=list)
    # Contention (measure/contention.py): the CPU time other processes used on the CPUs the job may
    # run on since the previous sample, in percent of one core; and how many CPUs those are.
    other_cpu_percent: float | None = None
    cpus: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Sample | None:
        t = as_float(d.get("t"))
        if t is None:
            return None
        gpus = (
            [g for g in (GpuReading.from_dict(x) for x in d.get("gpus") or []) if g is not None]
            if isinstance(d.get("gpus"), list)
            else []
        )
        return cls(
            t,
            as_str(d.get("phase")),
            as_float(d.get("cpu_percent")),
            as_int(d.get("rss_bytes")),
            gpus,
            as_float(d.get("other_cpu_percent")),
            as_int(d.get("cpus")),
        )

    @property
    def other_gpu_pids(self) -> list[int]:
        """Every process on the job's GPUs that is not the job's (NVML), without repeats."""
        return sorted({p for g in self.gpus for p in (g.other_pids or [])})

    @property
    def gpu_proc_mem_bytes(self) -> int | None:
        """The job's own memory over its GPUs, None when NVML did not say."""
        values = [g.proc_mem_bytes for g in self.gpus if g.proc_mem_bytes is not None]
        return sum(values) if values else None


GPU_COLUMNS: dict[str, str] = {
    "index": "BIGINT",
    "name": "VARCHAR",
    "uuid": "VARCHAR",
    "mem_used_bytes": "BIGINT",
    "mem_total_bytes": "BIGINT",
    "util_percent": "DOUBLE",
    "power_w": "DOUBLE",
    "temp_c": "DOUBLE",
    "proc_mem_bytes": "BIGINT",
    "other_pids": "BIGINT[]",
    "other_mem_bytes": "BIGINT",
}
GPU_STRUCT = "STRUCT(" + ", ".join(f"{k} {v}" for k, v in GPU_COLUMNS.items()) + ")"
SAMPLE_COLUMNS: dict[str, str] = {
    "t": "DOUBLE",
    "phase": "VARCHAR",
    "cpu_percent": "DOUBLE",
    "rss_bytes": "BIGINT",
    "gpus": f"{GPU_STRUCT}[]",
    "other_cpu_percent": "DOUBLE",
    "cpus": "BIGINT",
}


def duckdb_columns(columns: dict[str, str]) -> str:
    """The ``columns = {...}`` argument of DuckDB's read_ndjson for a record's columns."""
    return "{" + ", ".join(f"'{k}': '{v}'" for k, v in columns.items()) + "}"


def _check_in_step() -> None:
    """The column lists name exactly the record fields (checked at import: one shape)."""
    for cls, cols in (
        (Prediction, PREDICTION_COLUMNS),
        (Sample, SAMPLE_COLUMNS),
        (GpuReading, GPU_COLUMNS),
        (Translation, TRANSLATION_COLUMNS),
    ):
        names = [f.name for f in dataclasses.fields(cls)]
        if names != list(cols):
            raise AssertionError(f"{cls.__name__} fields {names} != its columns {list(cols)}")


_check_in_step()


@dataclass(frozen=True)
class MTScore:
    """translate-test's MT quality of one language against one reference (docs/methods.md, "MT
    quality"): chrF and BLEU (sacrebleu's corpus scores, 0-100) of the English text the classifier
    read — each item's premise and both choices, one segment each — against ``reference``: "copa",
    the original English COPA item of the same idx, or "published", XCOPA's published machine
    translation of it (an MT model's agreement with Google Translate). Written by the job into the
    ``translate:<lang>`` phase's ``info.mt_quality``; the store's ``mt_quality`` table. A score that
    cannot be computed (no translation, no reference) is None and ``missing`` says why."""

    lang: str
    split: str
    reference: str  # copa | published
    translator: str | None  # "published", or the MT model
    chrf: float | None
    bleu: float | None
    items: int | None  # items scored (their idx found in the reference)
    segments: int | None  # texts scored: 3 per item
    chrf_signature: str | None  # sacrebleu's signature string, e.g. nrefs:1|case:mixed|...|version:2.6.0
    bleu_signature: str | None
    missing: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: Any) -> MTScore | None:
        if not isinstance(d, dict):
            return None
        return cls(
            as_str(d.get("lang")) or "",
            as_str(d.get("split")) or "",
            as_str(d.get("reference")) or "",
            as_str(d.get("translator")),
            as_float(d.get("chrf")),
            as_float(d.get("bleu")),
            as_int(d.get("items")),
            as_int(d.get("segments")),
            as_str(d.get("chrf_signature")),
            as_str(d.get("bleu_signature")),
            as_str(d.get("missing")),
        )


# name -> DuckDB type (the store's mt_quality table adds run_id and phase in front)
MT_SCORE_COLUMNS: dict[str, str] = {
    "lang": "VARCHAR",
    "split": "VARCHAR",
    "reference": "VARCHAR",
    "translator": "VARCHAR",
    "chrf": "DOUBLE",
    "bleu": "DOUBLE",
    "items": "BIGINT",
    "segments": "BIGINT",
    "chrf_signature": "VARCHAR",
    "bleu_signature": "VARCHAR",
    "missing": "VARCHAR",
}
