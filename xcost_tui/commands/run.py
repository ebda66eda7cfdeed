"""``xcost-tui run``: turn flags into a spec, run it in the foreground, say how it ended.

The run directory, the job process and the record of its end are runner/foreground.py's; this
verb turns the flags into a spec, prints where the run is and how it ended, and ingests a run
directory under ``<store>/runs`` so ``xcost-tui sql`` and the app see it at once (elsewhere, the
command that ingests it is printed).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ..errors import SpecError, WriteError, path_error
from ..runner.foreground import prepare_run_dir, run_job
from ..suggest import did_you_mean


def spec_from_args(args: argparse.Namespace) -> dict[str, Any]:
    if args.spec:
        try:
            return json.loads(Path(args.spec).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise SpecError(f"--spec {args.spec}: cannot read a JSON spec ({exc})") from None
    spec: dict[str, Any] = {
        "method": args.method,
        "model": args.model,
        "seed": args.seed,
        "intermediate": [t.strip() for t in args.intermediate.split(",") if t.strip()],
        "intermediate_mode": args.intermediate_mode,
        "langs": [x.strip() for x in args.langs.split(",") if x.strip()],
        "data_dir": args.data_dir,
        "device": args.device,
        "save_encoder": args.save_encoder,
    }
    if args.shots is not None:
        spec["few_shot_k"] = args.shots
    if getattr(args, "shot_seed", None) is not None:
        spec["shot_seed"] = args.shot_seed
    if getattr(args, "collapse_retries", None) is not None:
        spec["collapse_retries"] = args.collapse_retries
    if getattr(args, "translations", None):
        spec["translations"] = args.translations
    if args.init_from:
        spec["init_from"] = args.init_from
    if args.max_eval_examples is not None:
        spec["max_eval_examples"] = args.max_eval_examples
    if args.no_measure:
        spec["measure"] = {"enabled": False}
    overrides = {
        "epochs": args.epochs,
        "max_steps": args.max_steps,
        "batch_size": args.batch_size,
        "micro_batch_size": getattr(args, "micro_batch_size", None),
        "grad_accum": args.grad_accum,
        "learning_rate": args.lr,
        "max_seq_len": args.max_seq_len,
        "max_examples": args.max_train_examples,
    }
    overrides = {k: v for k, v in overrides.items() if v is not None}
    if overrides:
        for section in ("hparams", "intermediate_hparams", "few_shot_hparams"):
            spec[section] = dict(overrides)
        spec["few_shot_hparams"].pop("max_examples", None)
    for section, name in recipes_from_args(getattr(args, "recipe", None) or []).items():
        spec.setdefault(section, {})["recipe"] = name
    return spec


# --recipe PHASE=NAME: the phase names a user types, and the spec table each one sets.
RECIPE_PHASES = {"target": "hparams", "intermediate": "intermediate_hparams", "few-shot": "few_shot_hparams"}


def recipes_from_args(values: list[str]) -> dict[str, str]:
    """{spec table: recipe name} of the --recipe flags: ``NAME`` is the target phase's, ``PHASE=NAME``
    that phase's (target, intermediate, few-shot). A recipe name itself is checked with the spec
    (an unknown one is a SpecError naming the recipes there are)."""
    out: dict[str, str] = {}
    for value in values:
        phase, sep, name = value.partition("=")
        if not sep:
            phase, name = "target", value
        phase = phase.strip().replace("_", "-")
        if phase not in RECIPE_PHASES:
            raise SpecError(
                f"--recipe {value}: unknown phase {phase!r}{did_you_mean(phase, RECIPE_PHASES)}; "
                f"phases: {', '.join(RECIPE_PHASES)} (e.g. --recipe intermediate=jiant-simple)"
            )
        if not name.strip():
            raise SpecError(f"--recipe {value}: no recipe name after {phase}=")
        out[RECIPE_PHASES[phase]] = name.strip()
    return out


def _under(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return True


def ingest_or_hint(run_dir: Path, store: Path) -> None:
    """Ingests a run directory under <store>/runs into the store; for one elsewhere, says how.

    A store problem (locked, another schema version, a broken file) is one line: the run directory
    holds everything, so nothing is lost and the printed command retries.
    """
    retry = f"xcost-tui ingest --store {store} {run_dir}"
    if not _under(run_dir, store / "runs"):
        print(
            f"not in the store (the run directory is outside {store / 'runs'}); to see it in "
            f"`xcost-tui sql` and the app: {retry}",
            flush=True,
        )
        return
    try:
        from ..store.ingest import ingest  # deferred: pulls in duckdb (start-up cost of every run)

        ingest(store, [run_dir])
    except Exception as exc:  # noqa: BLE001 - the results are on disk; the store can be rebuilt
        message = " ".join(str(exc).split()) or type(exc).__name__
        print(f"store: could not ingest {run_dir} ({message}); `{retry}` retries", flush=True)
        return
    print(f"ingested into {store}", flush=True)


def run_command(args: argparse.Namespace) -> int:
    try:
        run_dir, spec, error = prepare_run_dir(spec_from_args(args), args.out, args.store)
    except (WriteError, OSError) as exc:  # --out (or the store) read-only, a file, full: one line, no run
        raise path_error(exc, fix=f"give {'--out' if args.out else '--store'} a folder you can write to") from None
    if error is not None:
        print(f"xcost-tui: error: {error}", file=sys.stderr)
        print(f"(recorded as failed in {run_dir})", file=sys.stderr)
        return 2
    print(f"run directory: {run_dir}", flush=True)
    status, code = run_job(run_dir)
    print(f"status: {status} ({run_dir})", flush=True)
    ingest_or_hint(run_dir, Path(args.store))
    return code
