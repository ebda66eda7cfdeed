"""``xcost-tui plan check PLAN``: validate a plan and print its expanded runs, without running anything.

The plan room validates (``plan.load_plan``); this verb prints: the runs as a table, the phases of
each method, where the data comes from, the shared target and intermediate phases, the memory warnings
(``estimate/fit.py``) and, with ``--data``, the data pre-flight (``tasks/preflight.py``). Exit 0,
or 2 for a bad plan or data that cannot be loaded.
"""

from __future__ import annotations

import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..errors import XcostError
from ..estimate.fit import memory_warnings
from ..plan import SharedTarget, describe_data, load_plan
from ..spec import PhaseKind, RunSpec
from ..tasks.preflight import data_check


def check_command(plan: str, data_dir: str | None = None, *, data: bool = False, store: str | None = None) -> int:
    """``xcost-tui plan check PLAN``: validates the plan and prints its runs; 0, or 2 on an error.

    Then a warning for each training phase that will not fit the device's memory, naming the
    setting to change (``estimate/fit.py``: the newest forecast of ``store`` where there is one, else
    the analytic step memory on this machine's GPU or memory).

    ``data`` (``--data``): also loads every split the runs need, once, in a subprocess (the data
    pre-flight, tasks/preflight.py) and prints its row count; 2 when any data set cannot be
    loaded, with one message per such data set."""
    console = Console(width=None if sys.stdout.isatty() else 200)
    try:
        loaded = load_plan(plan, data_dir=data_dir)
    except XcostError as exc:
        print(f"xcost-tui: error: {exc}", file=sys.stderr, flush=True)
        return 2

    # Names, models and paths are the user's text: Text cells are never read as Rich markup, so a
    # name such as "a[/]b" prints as written instead of crashing the table.
    title = f"plan {loaded.name} ({loaded.label}{', built in' if loaded.builtin else ''}): {len(loaded.runs)} runs"
    table = Table(title=Text(title), title_justify="left", show_lines=False)
    for col, kw in (
        ("#", {"justify": "right"}),
        ("run id", {"no_wrap": True}),
        ("name", {}),
        ("method", {}),
        ("model", {}),
        ("intermediate", {}),
        ("k", {"justify": "right"}),
        ("seed", {"justify": "right"}),
        ("langs", {}),
        ("phases", {"justify": "right"}),
    ):
        table.add_column(col, **kw)
    targets = loaded.shared_targets()
    shared = loaded.shared_intermediates_left()
    role: dict[str, str] = {}
    for group in shared:
        role[group.producer] = " (saves)"
        for rid in group.consumers:
            role[rid] = " (reuses)"
    target_role: dict[str, str] = {}
    for tgroup in targets:
        target_role[tgroup.producer] = " (saves target)"
        for rid in tgroup.consumers:
            target_role[rid] = " (reuses target)"
    for i, spec in enumerate(loaded.runs, 1):
        rid = spec.run_id()
        inter = "+".join(spec.intermediate) if spec.intermediate else "-"
        if spec.intermediate and spec.intermediate_mode == "mixed":
            inter += " (mixed)"
        langs = ",".join(spec.langs) + (" +en" if spec.eval_english else "")
        model = spec.model + (f" on {spec.translations} translations" if spec.translations else "")
        cells = (
            str(i),
            rid,
            spec.name or "",
            spec.method + target_role.get(rid, ""),
            model,
            inter + role.get(rid, ""),
            "-" if spec.few_shot_k is None else str(spec.few_shot_k),
            str(spec.seed),
            langs,
            str(len(spec.phases_planned)),
        )
        table.add_row(*(Text(c) for c in cells))
    console.print(table)
    if loaded.description:
        console.print(loaded.description.strip(), markup=False, highlight=False)
    total = sum(len(s.phases_planned) for s in loaded.runs)
    console.print(f"{len(loaded.runs)} runs, {total} phases planned", markup=False, highlight=False)
    for line in phase_summaries(loaded.runs):
        console.print(line, markup=False, highlight=False)
    console.print(f"data: {describe_data(loaded)}", markup=False, highlight=False)
    for d in sorted({s.data_dir for s in loaded.runs if s.data_dir}):
        if not Path(d).is_dir():
            what = "is a file, not a folder" if Path(d).exists() else "does not exist"
            console.print(
                f"warning: data folder {d} {what}; the runs will fail when they load data",
                markup=False,
                highlight=False,
            )
    index = {spec.run_id(): i for i, spec in enumerate(loaded.runs, 1)}
    by_id = {spec.run_id(): spec for spec in loaded.runs}
    for line in target_lines(targets, index, by_id):
        console.print(line, markup=False, highlight=False)
    if shared:
        console.print("shared intermediate phases (trained once, then reused):", markup=False, highlight=False)
        for group in shared:
            first = by_id[group.producer]
            console.print(
                f"  {', '.join(group.phases)} ({first.model}, seed {first.seed}): #{index[group.producer]} "
                f"trains it and saves the encoder; {', '.join(f'#{index[r]}' for r in group.consumers)} "
                f"start from it",
                markup=False,
                highlight=False,
            )
    else:
        console.print("shared intermediate phases: none", markup=False, highlight=False)
    for note in loaded.notes:
        console.print(f"note: {note}", markup=False, highlight=False)
    labels = {spec.run_id(): f"#{i} {spec.name or spec.run_id()}" for i, spec in enumerate(loaded.runs, 1)}
    for line in memory_warnings(loaded.runs, store, labels):
        console.print(line, markup=False, highlight=False)
    if data:
        return data_check(loaded.runs)
    return 0


def target_lines(targets: list[SharedTarget], index: dict[str, int], by_id: dict[str, RunSpec]) -> list[str]:
    """The shared target phases: which phases (the intermediate ones before them come along), which
    run trains them and saves the model, which runs start from it (how many, and which)."""
    if not targets:
        return ["shared target phases: none"]
    out = ["shared target phases (trained once, then reused):"]
    total = 0
    for group in targets:
        first = by_id[group.producer]
        before = [p.name for p in first.phase_plan() if p.kind is PhaseKind.INTERMEDIATE]
        extras = [
            what
            for what, on in (
                ("collapse retries", bool(first.collapse_retries)),
                ("learning curve", first.measure.enabled and first.measure.curve_points > 0),
            )
            if on
        ]
        phases = ", ".join([*before, *group.phases]) + (f" (+ {', '.join(extras)})" if extras else "")
        names = [f"#{index[r]} {by_id[r].name or r}" for r in group.consumers]
        users = ", ".join(names[:SHOWN]) + (
            f" and {len(names) - SHOWN} more ({_ranges(index, group.consumers)})" if len(names) > SHOWN else ""
        )
        total += len(group.consumers)
        out.append(
            f"  {phases} ({first.model}, seed {first.seed}): #{index[group.producer]} "
            f"{first.name or group.producer} trains them and saves the model; "
            f"{len(group.consumers)} run(s) start from it: {users}"
        )
    out.append(f"  {total} target phase(s) not trained again")
    return out


SHOWN = 3  # consumers named per shared target phase; the others as index ranges


def _ranges(index: dict[str, int], run_ids: list[str]) -> str:
    """The runs' plan indexes as ranges: "#28-#47, #50"."""
    nums = sorted(index[r] for r in run_ids)
    spans: list[list[int]] = []
    for n in nums:
        if spans and n == spans[-1][1] + 1:
            spans[-1][1] = n
        else:
            spans.append([n, n])
    return ", ".join(f"#{a}" if a == b else f"#{a}-#{b}" for a, b in spans)


def phase_summaries(specs: list[RunSpec]) -> list[str]:
    """One line per method of the plan: the phases of its runs, a language's phases shown once as
    ``<lang>`` ("icl: eval:en, eval:<lang> x 11, inference-bench")."""
    out: list[str] = []
    seen: set[tuple[str, ...]] = set()
    for spec in specs:
        names: list[str] = []
        for p in spec.phase_plan():
            name = p.name if p.lang in (None, "en") else p.name.replace(f":{p.lang}", ":<lang>")
            if name not in names:
                names.append(name)
        key = (spec.method, *names)
        if key in seen:
            continue
        seen.add(key)
        per_lang = [n for n in names if n.endswith(":<lang>")]
        shown = [n for n in names if n not in per_lang]
        if per_lang:
            block = ", ".join(per_lang)
            block = f"({block})" if len(per_lang) > 1 else block
            at = names.index(per_lang[0])
            shown.insert(at, f"{block} x {len(spec.langs)} languages")
        out.append(f"phases of {spec.method} runs: {', '.join(shown)}")
    return out
