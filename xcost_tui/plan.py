"""Plans: a TOML file of experiments that expands into validated RunSpecs.

A plan is ``[defaults]`` (any RunSpec key) and ``[[experiment]]`` tables. Singular keys
(``model``, ``method``, ``seed``, ``intermediate``, ``few_shot_k``, ...) are one value each;
the plural *grid keys* expand into one run per value, crossed with each other::

    models         -> model                  ["xlm-roberta-base", "xlm-roberta-large"]
    methods        -> method                 ["direct", "intermediate"]
    seeds          -> seed                   [0, 1, 2]
    intermediates  -> intermediate           ["siqa", ["siqa", "mnli"]]  (a task, or a list of tasks run in order)
    shots          -> few_shot_k             [4, 16, 64]
    shot_seeds     -> shot_seed              [0, 1, 2, 3, 4]  (the draw of the k shots, apart from the training seed)
    learning_rates -> hparams.learning_rate  [1e-5, 3e-5]
    [experiment.grid]                        any dotted RunSpec key -> list, e.g. "hparams.epochs" = [3, 5]

Every error is a ``SpecError`` naming the file, the key path and the reason, e.g.
``plan.toml: experiment[2].methods[1]: method 'fewshot' is unknown (did you mean 'few-shot'?)``.
docs/plans.md is the user guide. No torch here: the supervisor loads plans.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import itertools
import json
import math
import os
import sys
import typing
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

from .errors import SpecError, XcostError
from .methods import METHOD_TABLE
from .spec import (
    HPARAM_SECTIONS,
    RECIPE_RENAMED,
    PhaseKind,
    RunSpec,
    check_device,
    check_field,
    check_icl_prompt,
    check_lang,
    check_method,
    check_model,
    check_number,
    check_table_key,
    check_target,
    check_task_name,
    convert_value,
    field_range,
    method_range,
    recipe_values,
)
from .suggest import closest, did_you_mean

# plural grid key -> the dotted RunSpec key each of its values sets
GRID_KEYS: dict[str, str] = {
    "models": "model",
    "methods": "method",
    "seeds": "seed",
    "intermediates": "intermediate",
    "shots": "few_shot_k",
    "shot_seeds": "shot_seed",
    "learning_rates": "hparams.learning_rate",
}
SINGULAR_OF = {v: k for k, v in GRID_KEYS.items()}
TOP_LEVEL = ("plan", "defaults", "experiment", "executor")
PLAN_TABLE_KEYS = ("name", "description")
SPEC_FIELDS = tuple(f.name for f in dataclasses.fields(RunSpec))
TABLE_KEYS = (*SPEC_FIELDS, *GRID_KEYS, "grid")
EXTERNAL_KEYS = ("source", "script")  # RunSpec keys only xcost_tui.track sets

# A plan of more runs than this is refused before it is expanded: expanding a 10^6-run grid took
# minutes and gigabytes with no output, and no machine runs that many anyway.
MAX_RUNS_ENV = "XCOST_MAX_RUNS"
DEFAULT_MAX_RUNS = 10_000


# ---- where runs execute: the [executor] table (docs/cluster.md) -------------------------------------

EXECUTOR_KINDS = ("local", "slurm")


@dataclass
class ExecutorSettings:
    """The ``[executor]`` table: where the plan's runs execute, and SLURM's settings for one run.

    ``kind``: ``local`` (subprocesses of this machine, the default) or ``slurm`` (one SLURM job per
    run). The rest applies to ``slurm``: ``partition``, ``account``, ``qos``, ``time`` (SLURM's
    formats: "90", "4:00:00", "1-00:00:00"), ``gpus_per_run`` (``--gres=gpu:N``; ``gres`` gives the
    whole value instead, e.g. "gpu:a100:1"), ``cpus_per_run`` (``--cpus-per-task``, also the job's
    thread count), ``mem`` ("32G"), ``constraint``, ``sbatch_args`` (extra long options, e.g.
    ["--exclusive", "--reservation=nlp"]), ``python`` (the Python the nodes run; default: this
    one), ``poll_s`` (how often the supervisor asks squeue/sacct) and ``runs_per_job`` (the most
    runs one packed SLURM job runs in one warm worker: the consumers of one producer, the icl runs
    of one model; 1: one job per run; runner/packing.py). ``process_per_run`` (local): a process of
    its own for every run instead of a warm worker per slot (docs/runner.md, "Warm workers").
    ``checkpoint_every_min``: minutes between a long training phase's resume checkpoints (default
    30; 0: none), so a preempted or re-launched run continues where it was (docs/runner.md, "Resume")."""

    kind: str = "local"
    partition: str | None = None
    account: str | None = None
    qos: str | None = None
    time: str | None = None
    gpus_per_run: int | None = None
    gres: str | None = None
    cpus_per_run: int | None = None
    mem: str | None = None
    constraint: str | None = None
    sbatch_args: list[str] = field(default_factory=list)
    python: str | None = None
    poll_s: float = 2.0
    runs_per_job: int = 16
    # local: one process per run instead of a warm worker per slot (docs/runner.md, "Warm workers")
    process_per_run: bool = False
    # minutes between a training phase's resume checkpoints (job/resume.py); 0: none; None: the
    # job's default (30). Not part of a run's identity: it changes no result
    checkpoint_every_min: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def parse_sbatch_args(args: Sequence[str]) -> dict[str, Any]:
    """Extra ``sbatch`` arguments (``["--exclusive", "--reservation=gpu", "--mail-type", "END"]``) as
    submitit's ``additional_parameters`` ({"exclusive": True, "reservation": "gpu", ...})."""
    out: dict[str, Any] = {}
    items = list(args)
    i = 0
    while i < len(items):
        arg = items[i]
        if not arg.startswith("--") or len(arg) < 3:
            raise XcostError(
                f"executor.sbatch_args: {arg!r} is not a long sbatch option (write --name=value or "
                f"--flag; short options such as -N are not accepted)"
            )
        key, eq, value = arg[2:].partition("=")
        if eq:
            out[key] = value
        elif i + 1 < len(items) and not items[i + 1].startswith("--"):
            out[key] = items[i + 1]
            i += 1
        else:
            out[key] = True
        i += 1
    return out


_EXECUTOR_TEXT = ("partition", "account", "qos", "gres", "constraint", "python")
_TIME = r"(\d+)|(\d+:\d{1,2})|(\d+:\d{1,2}:\d{1,2})|(\d+-\d+)|(\d+-\d+:\d{1,2})|(\d+-\d+:\d{1,2}:\d{1,2})"


def parse_executor(table: Any, label: str, kind: str | None = None) -> ExecutorSettings:
    """The ``[executor]`` table, checked (each error names the key); ``kind`` (``--executor``)
    overrides the table's."""
    import re

    where = f"{label}: executor"
    if table is None:
        table = {}
    if not isinstance(table, dict):
        raise SpecError(f'{where}: must be a table ([executor] with kind = "slurm", partition = ..., ...)')
    names = [f.name for f in dataclasses.fields(ExecutorSettings)]
    for key in table:
        if key not in names:
            raise SpecError(
                f"{where}.{key}: unknown key{did_you_mean(key, names)}; [executor] takes {', '.join(names)}"
            )
    out = ExecutorSettings()
    for key, value in table.items():
        w = f"{where}.{key}"
        if key == "kind" or key in _EXECUTOR_TEXT:
            if not isinstance(value, str) or not value.strip():
                raise SpecError(f"{w}: expected a non-empty string, got {value!r}")
            value = value.strip()
        elif key in ("gpus_per_run", "cpus_per_run", "runs_per_job"):
            if isinstance(value, bool) or not isinstance(value, int) or value < (0 if key == "gpus_per_run" else 1):
                raise SpecError(
                    f"{w}: expected a whole number, at least {0 if key == 'gpus_per_run' else 1}, got {value!r}"
                )
        elif key == "time":
            value = str(value).strip() if isinstance(value, (str, int)) and not isinstance(value, bool) else value
            if not isinstance(value, str) or not re.fullmatch(_TIME, value):
                raise SpecError(
                    f'{w}: {value!r} is not a SLURM time limit (minutes, "HH:MM:SS" or "D-HH:MM:SS", e.g. "4:00:00")'
                )
        elif key == "mem":
            value = str(value).strip() if isinstance(value, (str, int)) and not isinstance(value, bool) else value
            if not isinstance(value, str) or not re.fullmatch(r"\d+[KMGT]?", value, flags=re.I):
                raise SpecError(f'{w}: {value!r} is not a SLURM memory size (e.g. "32G", "16000M")')
        elif key == "sbatch_args":
            if not isinstance(value, list) or not all(isinstance(a, str) for a in value):
                raise SpecError(f'{w}: expected a list of strings, e.g. ["--exclusive", "--reservation=nlp"]')
        elif key == "process_per_run":
            if not isinstance(value, bool):
                raise SpecError(f"{w}: expected true or false, got {value!r}")
        elif key == "checkpoint_every_min":
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise SpecError(f"{w}: expected minutes, at least 0 (0: no resume checkpoints), got {value!r}")
            value = float(value)
        elif key == "poll_s":
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.1 <= value <= 600:
                raise SpecError(f"{w}: expected seconds between 0.1 and 600, got {value!r}")
            value = float(value)
        setattr(out, key, value)
    if kind is not None:
        out.kind = kind
    if out.kind not in EXECUTOR_KINDS:
        raise SpecError(
            f"{where}.kind: {out.kind!r} is not an executor{did_you_mean(out.kind, EXECUTOR_KINDS)}; "
            f"choose one of {', '.join(EXECUTOR_KINDS)}"
        )
    if out.kind == "slurm" and out.sbatch_args:
        try:
            parse_sbatch_args(out.sbatch_args)
        except XcostError as exc:
            raise SpecError(f"{label}: {exc}") from None
    return out


# ---- the result -----------------------------------------------------------------------------------


@dataclass
class SharedPhases:
    """Runs of a plan that share phases: the producer (first) trains and saves them, the consumers
    start from what it saved (docs/runner.md)."""

    phases: list[str]
    run_ids: list[str]  # producer first

    @property
    def producer(self) -> str:
        return self.run_ids[0]

    @property
    def consumers(self) -> list[str]:
        return self.run_ids[1:]


class SharedIntermediate(SharedPhases):
    """Identical intermediate phase(s) (e.g. ["intermediate:siqa"]): the producer saves the encoder."""


class SharedTarget(SharedPhases):
    """An identical target phase with its English validation, collapse retries and learning curve
    (``RunSpec.target_key``; e.g. ["target:copa", "eval:en"]): the producer saves the model, the
    consumers (few-shot runs, translate-test's English classifier) start from it."""


@dataclass
class Plan:
    source: str  # the file read (a path, or the packaged file of a built-in plan)
    label: str  # how messages name it: the path as given, or "<name>.toml" for a built-in plan
    name: str
    description: str = ""
    runs: list[RunSpec] = field(default_factory=list)
    origins: dict[str, str] = field(default_factory=dict)  # run id -> "experiment[i]" (+ grid values)
    notes: list[str] = field(default_factory=list)  # duplicates collapsed, ...
    data_dir: str | None = None  # the --data-dir override, when given
    builtin: bool = False
    executor: ExecutorSettings = field(default_factory=ExecutorSettings)  # the [executor] table

    def run_ids(self) -> list[str]:
        return [s.run_id() for s in self.runs]

    def shared_intermediates(self) -> list[SharedIntermediate]:
        return [
            SharedIntermediate(
                phases=[p.name for p in g[0].phase_plan() if p.kind is PhaseKind.INTERMEDIATE],
                run_ids=[s.run_id() for s in g],
            )
            for g in shared_intermediate_groups(self.runs)
        ]

    def shared_intermediates_left(self) -> list[SharedIntermediate]:
        """The intermediate phases the runner shares once the target phases are shared: a run that
        starts from a post-target model trains no intermediate phase (runner/shared.py wires target
        phases first), so the groups are made of the other runs."""
        consumers = {rid for g in self.shared_targets() for rid in g.consumers}
        return [
            SharedIntermediate(
                phases=[p.name for p in g[0].phase_plan() if p.kind is PhaseKind.INTERMEDIATE],
                run_ids=[s.run_id() for s in g],
            )
            for g in shared_intermediate_groups(s for s in self.runs if s.run_id() not in consumers)
        ]

    def shared_targets(self) -> list[SharedTarget]:
        return [
            SharedTarget(
                phases=[p.name for p in g[0].phase_plan() if p.kind is PhaseKind.TARGET or p.name == "eval:en"],
                run_ids=[s.run_id() for s in g],
            )
            for g in shared_target_groups(self.runs)
        ]


def intermediate_key_str(spec: RunSpec) -> str:
    return json.dumps(spec.intermediate_key(), sort_keys=True)


def shared_intermediate_groups(specs: Iterable[RunSpec]) -> list[list[RunSpec]]:
    """Groups (two or more, in the given order) of specs that run the same intermediate phase(s).

    Only specs whose intermediate phase(s) the runner shares count (``RunSpec.shares_intermediate``).
    """
    groups: dict[str, list[RunSpec]] = {}
    for spec in specs:
        if spec.shares_intermediate:
            groups.setdefault(intermediate_key_str(spec), []).append(spec)
    return [g for g in groups.values() if len(g) > 1]


def target_key_str(spec: RunSpec) -> str:
    return json.dumps(spec.target_key(), sort_keys=True)


def produces_target_first(spec: RunSpec) -> bool:
    """A run whose own results are the post-target model (direct, intermediate) produces it before
    a run that goes on from it (few-shot, translate-test)."""
    return METHOD_TABLE[spec.method].per_language_phase is None


def shared_target_groups(specs: Iterable[RunSpec]) -> list[list[RunSpec]]:
    """Groups (two or more) of specs that train the same target phase (``RunSpec.target_key``),
    producer first: the group's first direct or intermediate run, else its first run; the others
    in the given order. Only specs whose target phase the runner shares count
    (``RunSpec.shares_target``). The one statement of the rule: the runner wires the queue with
    it (runner/shared.py) and the forecast counts with it (estimate/)."""
    groups: dict[str, list[RunSpec]] = {}
    for spec in specs:
        if spec.shares_target:
            groups.setdefault(target_key_str(spec), []).append(spec)
    out = []
    for g in groups.values():
        if len(g) > 1:
            first = next((s for s in g if produces_target_first(s)), g[0])
            out.append([first, *(s for s in g if s is not first)])
    return out


# ---- finding the file ---------------------------------------------------------------------------


def builtin_plans() -> list[str]:
    folder = resources.files("xcost_tui") / "plans"
    try:
        return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))
    except (FileNotFoundError, NotADirectoryError):  # pragma: no cover - a broken install
        return []


def _read_plan_text(path_or_name: str | os.PathLike) -> tuple[str, str, str, bool, Path | None]:
    """(text, source, label, builtin, folder for relative paths)."""
    given = str(path_or_name)
    path = Path(given).expanduser()
    if path.is_file():
        try:
            return path.read_text(encoding="utf-8"), str(path), given, False, path.resolve().parent
        except (OSError, UnicodeDecodeError) as exc:
            raise SpecError(f"{given}: cannot read the plan file ({exc})") from None
    if path.is_dir():
        raise SpecError(f"{given}: is a folder, not a plan file")
    names = builtin_plans()
    name = given[:-5] if given.endswith(".toml") and "/" not in given else given
    if name in names:
        res = resources.files("xcost_tui") / "plans" / f"{name}.toml"
        return res.read_text(encoding="utf-8"), str(res), f"{name}.toml", True, None
    match = closest(name, names)
    hint = f" (did you mean the built-in plan {match!r}?)" if match else ""
    raise SpecError(
        f"{given}: no such plan file, and no built-in plan of that name{hint}; "
        f"built-in plans: {', '.join(names) or 'none'}"
    )


# ---- loading ----------------------------------------------------------------------------------


def load_plan(
    path_or_name: str | os.PathLike,
    data_dir: str | os.PathLike | None = None,
    *,
    max_runs: int | None = None,
    executor: str | None = None,
) -> Plan:
    """Reads, expands and validates a plan: a file path, or the name of a built-in plan.

    ``data_dir`` (from ``--data-dir``/``XCOST_DATA_DIR``) overrides the plan's ``data_dir`` for
    every run; with neither, runs read their data from the Hugging Face hub. A plan of more than
    ``max_runs`` runs (default: ``$XCOST_MAX_RUNS``, else 10,000) is refused before it is expanded.
    ``executor`` (``--executor``) overrides the kind of the plan's ``[executor]`` table.
    """
    text, source, label, builtin, folder = _read_plan_text(path_or_name)
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{label}: not valid TOML: {exc}") from None
    return expand_plan(
        doc,
        label=label,
        source=source,
        builtin=builtin,
        folder=folder,
        data_dir=None if data_dir is None or str(data_dir) == "" else str(data_dir),
        max_runs=max_runs,
        executor=executor,
    )


def loads_plan(
    text: str, label: str = "plan.toml", data_dir: str | None = None, *, max_runs: int | None = None
) -> Plan:
    """A plan from TOML text (tests, the app's editor)."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{label}: not valid TOML: {exc}") from None
    return expand_plan(doc, label=label, source=label, data_dir=data_dir, max_runs=max_runs)


def max_runs_limit(given: int | None = None) -> int:
    """The most runs a plan may expand into: ``given``, else ``$XCOST_MAX_RUNS``, else 10,000."""
    if given is not None:
        return given
    raw = os.environ.get(MAX_RUNS_ENV, "").strip()
    if not raw:
        return DEFAULT_MAX_RUNS
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise SpecError(
            f"{MAX_RUNS_ENV}={raw!r}: expected a whole number of runs, at least 1 "
            f"(the default is {DEFAULT_MAX_RUNS:,}); unset it for the default"
        )
    return value


def expand_plan(
    doc: dict[str, Any],
    *,
    label: str,
    source: str | None = None,
    builtin: bool = False,
    folder: Path | None = None,
    data_dir: str | None = None,
    max_runs: int | None = None,
    executor: str | None = None,
) -> Plan:
    for key in doc:
        if key not in TOP_LEVEL:
            raise SpecError(
                f"{label}: unknown table {key!r}{did_you_mean(key, TOP_LEVEL)}; a plan has "
                f"[plan] (name, description), [defaults], [[experiment]] and [executor] tables"
            )
    meta = doc.get("plan", {})
    if not isinstance(meta, dict):
        raise SpecError(f"{label}: plan must be a table ([plan] with name and description)")
    for key in meta:
        if key not in PLAN_TABLE_KEYS:
            raise SpecError(
                f"{label}: plan.{key}: unknown key{did_you_mean(key, PLAN_TABLE_KEYS)}; "
                f"[plan] takes {', '.join(PLAN_TABLE_KEYS)}"
            )
    defaults = doc.get("defaults", {})
    if not isinstance(defaults, dict):
        raise SpecError(f"{label}: defaults must be a table ([defaults]), got {defaults!r}")
    experiments = doc.get("experiment")
    if experiments is None:
        raise SpecError(f'{label}: no experiments; add at least one [[experiment]] table (e.g. method = "direct")')
    if not isinstance(experiments, list) or not all(isinstance(e, dict) for e in experiments):
        raise SpecError(f"{label}: experiment must be an array of tables: write each as [[experiment]]")
    if not experiments:
        raise SpecError(f"{label}: no experiments; add at least one [[experiment]] table")

    name = meta.get("name") or Path(label).stem
    plan = Plan(
        source=source or label,
        label=label,
        name=str(name),
        description=str(meta.get("description", "")),
        data_dir=data_dir,
        builtin=builtin,
        executor=parse_executor(doc.get("executor"), label, executor),
    )

    base_fixed, base_grid = _split_table(defaults, f"{label}: defaults", folder, _method_of(defaults))
    tables = [
        _merge_experiment(base_fixed, base_grid, exp, f"{label}: experiment[{i}]", folder, _method_of(exp, defaults))
        for i, exp in enumerate(experiments)
    ]
    _check_run_count(label, [grid for _, grid in tables], max_runs_limit(max_runs))
    seen: dict[str, str] = {}
    named: set[str] = set()  # run ids of experiments (or defaults) that give a name
    for i, (merged_fixed, merged_grid) in enumerate(tables):
        where = f"{label}: experiment[{i}]"
        for spec, origin in _expand(merged_fixed, merged_grid, where, f"experiment[{i}]"):
            if data_dir is not None:
                spec.data_dir = data_dir
            rid = spec.run_id()
            if rid in seen:
                plan.notes.append(f"{origin}: the same run as {seen[rid]} ({rid}); kept once")
                continue
            seen[rid] = origin
            plan.origins[rid] = origin
            plan.runs.append(spec)
            if "name" in merged_fixed:
                named.add(rid)
    plan.notes.extend(_same_name(label, plan, named))
    plan.notes.extend(_renamed_recipe_notes(plan.runs))
    return plan


def _same_name(label: str, plan: Plan, named: set[str]) -> list[str]:
    """Different runs under one name. A run's name is its label where people tell runs apart: plan
    check, the live view, the runs table (``runs.name``), the forecast's warnings; it is not part
    of the run id, so two different runs of one name are two results no reader can tell apart.
    Refused when the plan gave the name (two experiments of one ``name``: give each its own);
    a note when the name is the method's, the default of an experiment without a name."""
    by_name: dict[str, list[str]] = {}
    for spec in plan.runs:
        by_name.setdefault(spec.name or "", []).append(spec.run_id())
    notes = []
    for name, rids in by_name.items():
        if len(rids) < 2:
            continue
        listed = "; ".join(f"{plan.origins[r]} ({r})" for r in rids[:3]) + ("; ..." if len(rids) > 3 else "")
        if any(r in named for r in rids):
            raise SpecError(
                f"{label}: {len(rids)} different runs are named {name!r}: {listed}; a name tells runs apart "
                f"in plan check, the live view and the runs table, and these would read as one: give each "
                f"[[experiment]] its own name (a grid adds its varying values to the name by itself)"
            )
        notes.append(
            f"{len(rids)} different runs are named {name!r} (experiments without a name take their method's): "
            f"{listed}; give each experiment a name to tell them apart"
        )
    return notes


def _renamed_recipe_notes(runs: list[RunSpec]) -> list[str]:
    """One note per old recipe name the plan's runs use, naming what it is called now."""
    used = {
        getattr(spec, section).recipe
        for spec in runs
        for section in HPARAM_SECTIONS
        if getattr(spec, section).recipe in RECIPE_RENAMED
    }
    return [
        f"recipe {old!r} is the old name of {RECIPE_RENAMED[old]!r}: the same values, which are jiant's defaults, "
        f"not values confirmed from Phang et al. (2020) (docs/recipes.md); write {RECIPE_RENAMED[old]!r}"
        for old in sorted(used)
    ]


def _method_of(*tables: dict[str, Any]) -> str | None:
    """The one method the first table that names one gives (``method``, or ``methods`` of one
    value), for ranges that depend on it (k = 0 is for icl only); None when unknown or several."""
    for table in tables:
        if isinstance(table.get("method"), str):
            return table["method"]
        methods = table.get("methods")
        if isinstance(methods, list) and methods:
            return methods[0] if len(set(map(str, methods))) == 1 else None
    return None


def _merge_experiment(
    base_fixed: dict[str, Any],
    base_grid: dict[str, tuple[list, str]],
    exp: dict[str, Any],
    where: str,
    folder: Path | None,
    method: str | None = None,
) -> tuple[dict[str, Any], dict[str, tuple[list, str]]]:
    """One experiment's (single values, grid) on top of the defaults'."""
    fixed, grid = _split_table(exp, where, folder, method)
    merged_fixed = _deep_merge(base_fixed, fixed)
    merged_grid = {k: v for k, v in base_grid.items() if k not in fixed_paths(fixed)}
    merged_grid.update(grid)
    # an experiment's single value overrides a defaults grid and vice versa
    for path in list(merged_grid):
        _drop_path(merged_fixed, path)
    return merged_fixed, merged_grid


def _check_run_count(label: str, grids: list[dict[str, tuple[list, str]]], limit: int) -> None:
    """Refuses a plan whose grids multiply out past ``limit`` runs, counted from the list lengths
    alone, before anything is expanded (duplicates would collapse later, so this is an upper bound)."""
    counts = [math.prod(len(values) for values, _ in grid.values()) for grid in grids]
    total = sum(counts)
    if total <= limit:
        return
    parts = []
    for i, (count, grid) in enumerate(zip(counts, grids)):
        factors = " x ".join(
            f"{len(values)} {SINGULAR_OF.get(path, path)}" for path, (values, _) in grid.items() if len(values) > 1
        )
        parts.append(f"experiment[{i}]: {count:,}" + (f" = {factors}" if factors else ""))
    raise SpecError(
        f"{label}: the plan expands into {total:,} runs, more than the limit of {limit:,} "
        f"({'; '.join(parts)}); shrink the grids or split the plan, or raise the limit with "
        f"{MAX_RUNS_ENV}={total}"
    )


def fixed_paths(table: dict[str, Any], prefix: str = "") -> set[str]:
    """The dotted paths of every leaf value in a (nested) table."""
    out: set[str] = set()
    for key, value in table.items():
        path = f"{prefix}{key}"
        out.add(path)
        if isinstance(value, dict):
            out |= fixed_paths(value, path + ".")
    return out


# ---- one table ----------------------------------------------------------------------------------


def _split_table(
    table: dict[str, Any], where: str, folder: Path | None, method: str | None = None
) -> tuple[dict[str, Any], dict[str, tuple[list, str]]]:
    """Checks one [defaults] or [[experiment]] table; returns (single values, grid: dotted path -> (values, key path)).
    ``method`` (when one is known) selects the ranges that depend on it."""
    for key in table:
        if key not in TABLE_KEYS:
            raise SpecError(
                f"{where}: unknown key {key!r}{did_you_mean(key, TABLE_KEYS)}; valid keys: "
                f"{', '.join(SPEC_FIELDS)}; grid keys (one run per value): {', '.join(GRID_KEYS)}, grid"
            )
        if key in EXTERNAL_KEYS:  # a plan's runs are the tool's own job's
            raise SpecError(
                f"{where}: {key!r} marks a run a user's own script measured (xcost_tui.track, docs/measurement.md, "
                f"\"Measuring your own training script\"); a plan's runs are xcost-tui's own: remove it"
            )
    fixed: dict[str, Any] = {}
    grid: dict[str, tuple[list, str]] = {}
    for key, value in table.items():
        if key == "grid":
            if not isinstance(value, dict):
                raise SpecError(
                    f"{where}.grid: expected a table of dotted keys to lists, e.g. "
                    f'grid = {{ "hparams.epochs" = [3, 5] }}; got {value!r}'
                )
            for path, values in _flatten(value).items():
                if path in SINGULAR_OF:
                    raise SpecError(f"{where}.grid.{path}: use the grid key {SINGULAR_OF[path]!r} instead")
                grid_where = f"{where}.grid.{path}"
                if path in grid:
                    raise SpecError(f"{grid_where}: given twice")
                grid[path] = (_grid_values(path, values, grid_where, method=method), grid_where)
            continue
        if key in GRID_KEYS:
            path = GRID_KEYS[key]
            singular = path.split(".")[0]
            if path == singular and singular in table:
                raise SpecError(
                    f"{where}: both {singular!r} and {key!r} are set; give one "
                    f"({singular} = one value, {key} = a list, one run per value)"
                )
            if path in grid:
                raise SpecError(f"{where}: {path!r} is set both by {key!r} and by grid")
            grid[path] = (_grid_values(path, value, f"{where}.{key}", plural=key, method=method), f"{where}.{key}")
            continue
        _check_single(key, value, where, method)
        fixed[key] = value
    single = fixed_paths(fixed)
    for path, (_, grid_where) in grid.items():
        if path in single:
            raise SpecError(f"{grid_where}: {path} is also set as a single value in the same table; give one")
    if "data_dir" in fixed and fixed["data_dir"] and folder is not None:
        d = Path(str(fixed["data_dir"])).expanduser()
        fixed["data_dir"] = str(d if d.is_absolute() else (folder / d).resolve())
    return fixed, grid


def _flatten(table: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in table.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _check_single(key: str, value: Any, where: str, method: str | None = None) -> None:
    """A single-value key: type-checked now so the error names the table it came from."""
    plural = SINGULAR_OF.get(key)
    if plural and isinstance(value, list) and key != "intermediate":
        raise SpecError(
            f"{where}.{key}: expected a single value, got a list {value!r}; "
            f"for one run per value write {plural} = {_toml(value)}"
        )
    if key == "intermediate" and isinstance(value, list) and any(isinstance(v, list) for v in value):
        raise SpecError(
            f"{where}.intermediate: expected one list of tasks (run in order), got a list of lists; "
            f"for one run per list write intermediates = {_toml(value)}"
        )
    if key == "hparams" and isinstance(value, dict) and isinstance(value.get("learning_rate"), list):
        raise SpecError(
            f"{where}.hparams.learning_rate: expected a single value, got a list "
            f"{value['learning_rate']!r}; for one run per value write learning_rates = "
            f"{_toml(value['learning_rate'])} in the experiment"
        )
    _convert(key, value, f"{where}.{key}", method)  # ranges too, nested tables included
    _check_value(key, value, f"{where}.{key}")


def _grid_values(path: str, values: Any, where: str, *, plural: str | None = None, method: str | None = None) -> list:
    if not isinstance(values, list):
        hint = f"; for a single value write {path} = {_toml(values)}" if plural else ""
        raise SpecError(f"{where}: expected a list of values (one run per value), got {values!r}{hint}")
    if not values:
        raise SpecError(f"{where}: empty list, so the experiment has no runs; give at least one value")
    _leaf_type(path, where)  # an unknown key is reported before its values
    out = []
    for j, value in enumerate(values):
        w = f"{where}[{j}]"
        if path == "intermediate":
            if isinstance(value, str):
                value = [value]
            if not isinstance(value, list) or not value or not all(isinstance(t, str) for t in value):
                raise SpecError(f"{w}: expected a task name or a non-empty list of task names, got {value!r}")
            for t_i, task in enumerate(value):
                check_task_name(task, f"{w}[{t_i}]" if len(value) > 1 else w)
        elif isinstance(value, (list, dict)) and path not in LIST_FIELDS:
            raise SpecError(f"{w}: expected a single value, got {value!r}")
        _convert(path, value, w, method)
        _check_value(path, value, w)
        out.append(value)
    return out


LIST_FIELDS = ("langs", "intermediate")


def _check_value(path: str, value: Any, where: str) -> None:
    """What the type alone does not say, with the spec's own checks (one message per rule); the
    message names the exact key of the plan, where the spec's name the run."""
    if path == "method":
        check_method(value, where)
    if path == "device":
        check_device(value, where)
    if path == "icl_prompt":
        check_icl_prompt(value, where)
    if path == "model":
        check_model(value, where)
    if path == "target":
        check_target(value, where)
    if path.endswith(".recipe") and path.split(".")[0] in HPARAM_SECTIONS and value is not None:
        recipe_values(value, None, where)  # an unknown name is an error naming this key
    if path in HPARAM_SECTIONS and isinstance(value, dict) and value.get("recipe") is not None:
        recipe_values(value["recipe"], None, f"{where}.recipe")
    if path == "intermediate" and isinstance(value, (list, str)):
        tasks = [t.strip() for t in value.split(",")] if isinstance(value, str) else value
        for j, task in enumerate(tasks):
            check_task_name(task, f"{where}[{j}]" if isinstance(value, list) else where)
    if path == "langs" and isinstance(value, (list, str)):
        langs = [t.strip() for t in value.split(",") if t.strip()] if isinstance(value, str) else value
        for j, lang in enumerate(langs):
            check_lang(lang, f"{where}[{j}]" if isinstance(value, list) else where)


@dataclass(frozen=True)
class _Leaf:
    """Where a dotted RunSpec key lands: the dataclass and field that hold it, the value's type, and
    whether it is one entry of a table field (``tiny_model_dims.hidden_size``)."""

    owner: type
    name: str
    type: Any
    entry: bool = False


@functools.cache
def _type_hints(owner: type) -> dict[str, Any]:
    """typing.get_type_hints of a spec dataclass, once: it evaluates every annotation, and a grid of
    thousands of values asked it once per value."""
    return typing.get_type_hints(owner)


def _leaf(path: str, where: str) -> _Leaf:
    owner: Any = RunSpec
    parts = path.split(".")
    for i, part in enumerate(parts):
        hints = _type_hints(owner)
        sofar = ".".join(parts[: i + 1])
        if part not in hints:
            raise SpecError(
                f"{where}: unknown key {sofar!r}{did_you_mean(part, hints)}; valid keys here: {', '.join(hints)}"
            )
        t = hints[part]
        if i == len(parts) - 1:
            return _Leaf(owner, part, t)
        if dataclasses.is_dataclass(t):
            owner = t
            continue
        if typing.get_origin(t) is dict and i == len(parts) - 2:
            check_table_key(owner, part, parts[-1], where)
            return _Leaf(owner, part, typing.get_args(t)[1], entry=True)
        raise SpecError(f"{where}: {sofar!r} has no sub-key {parts[i + 1]!r}")
    raise SpecError(f"{where}: empty key")  # pragma: no cover


def _leaf_type(path: str, where: str) -> Any:
    return _leaf(path, where).type


def _key_of(where: str) -> str:
    """The last key a message's key path names: ``shots`` for ``plan.toml: experiment[0].shots[1]``."""
    return where.rsplit(".", 1)[-1].split("[", 1)[0]


def _convert(path: str, value: Any, where: str, method: str | None = None) -> None:
    """Type- and range-checks one (dotted) RunSpec key with the spec's own converter and the field's
    declared range; the messages name ``where``, and the RunSpec key when ``where`` is a grid key
    of another name (``shots[1]: few_shot_k must be at least 1``)."""
    leaf = _leaf(path, where)
    converted = convert_value(leaf.type, value, where, RunSpec)
    name = None if _key_of(where) == path.rsplit(".", 1)[-1] else path
    if leaf.entry:
        check_number(converted, field_range(leaf.owner, leaf.name), where, name)
    elif isinstance(converted, dict):
        check_field(leaf.owner, leaf.name, converted, where, method)
    else:
        check_number(converted, method_range(leaf.owner, leaf.name, method), where, name)


# ---- expansion -------------------------------------------------------------------------------


def _deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _drop_path(table: dict[str, Any], dotted: str) -> None:
    parts = dotted.split(".")
    for part in parts[:-1]:
        nested = table.get(part)
        if not isinstance(nested, dict):
            return
        table = nested
    table.pop(parts[-1], None)


def _set_path(table: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    for part in parts[:-1]:
        table = table.setdefault(part, {})
    table[parts[-1]] = copy.deepcopy(value)


# seeds vary slowest: the first runs of a plan cover every configuration once
_ORDER = ["seed", "model", "method", "intermediate", "few_shot_k", "shot_seed", "hparams.learning_rate"]


def _expand(fixed: dict[str, Any], grid: dict[str, tuple[list, str]], where: str, origin: str):
    paths = sorted(grid, key=lambda p: _ORDER.index(p) if p in _ORDER else len(_ORDER))
    value_lists = [grid[p][0] for p in paths]
    varying = [p for p in paths if len(grid[p][0]) > 1]
    for combo in itertools.product(*value_lists):
        data = copy.deepcopy(fixed)
        for path, value in zip(paths, combo):
            _set_path(data, path, value)
        chosen = dict(zip(paths, combo))
        desc = ", ".join(f"{p}={chosen[p]!r}" for p in paths)
        spec_where = f"{where} ({desc})" if paths else where
        spec = RunSpec.from_dict(data, where=spec_where)
        base = fixed.get("name") or spec.method
        if varying:
            named = sorted(varying, key=lambda p: (p == "seed", paths.index(p)))  # the seed last
            spec.name = "-".join([str(base), *(_short(p, chosen[p]) for p in named)])
        else:
            spec.name = str(base)
        yield spec, (f"{origin} ({desc})" if paths else origin)


def _short(path: str, value: Any) -> str:
    if path == "seed":
        return f"s{value}"
    if path == "few_shot_k":
        return f"k{value}"
    if path == "translations":
        return "published" if value == "published" else str(value).rstrip("/").split("/")[-1]
    if path == "shot_seed":
        return f"draw{value}"
    if path == "model":
        return str(value).rstrip("/").split("/")[-1]
    if path == "intermediate":
        return "+".join(value) if isinstance(value, list) else str(value)
    if path == "hparams.learning_rate":
        return f"lr{float(value):g}"
    if path == "method":
        return str(value)
    if path == "icl_prompt":
        return f"prompt-{value}"
    if path == "xcopa_question":
        return f"q-{value}"
    return f"{path.split('.')[-1]}{value}"


def _toml(value: Any) -> str:
    return json.dumps(value)


# ---- describing a plan ---------------------------------------------------------------------------


def describe_data(plan: Plan) -> str:
    """Where the plan's runs read their data, in words (``plan check`` and the headless start line)."""
    dirs = sorted({s.data_dir for s in plan.runs if s.data_dir})
    hub = any(not s.data_dir for s in plan.runs)
    parts = []
    if dirs:
        where = "--data-dir" if plan.data_dir else "the plan"
        parts.append(f"{', '.join(dirs)} (from {where})")
    if hub:
        parts.append("the Hugging Face hub (no --data-dir, XCOST_DATA_DIR or data_dir in the plan)")
    return "; ".join(parts)
