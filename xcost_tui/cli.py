"""The ``xcost-tui`` command.

Only argparse at import time: ``xcost-tui --help`` must answer fast over SSH, and the
supervisor side never imports torch, transformers or datasets. Each subcommand imports
what it needs when it runs.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from . import XCOPA_LANGS, __version__
from .commands.queries import shipped_queries
from .errors import XcostError, path_error
from .methods import METHODS

DEFAULT_STORE = "store"

DESCRIPTION = """\
xcost-tui: what does a better cross-lingual model cost?

Train multilingual encoders on English, evaluate zero-shot on XCOPA (11 languages),
and measure what each method costs: wall time, device-hours, FLOPs, energy, memory
and inference latency. Results land in run directories and a DuckDB store.
"""

EPILOG = """\
examples:
  xcost-tui                                 open the app on ./store
  xcost-tui plan.toml                       open the app with a plan ready to launch
  xcost-tui --headless demo --data-dir ../shared/data
                                            run the built-in demo plan without a screen
  xcost-tui run --method direct --model tiny-xlmr --data-dir ../shared/data \\
      --langs it,zh --out store/runs/try1   one run from the command line (a run directory
                                            under <store>/runs is ingested when it ends)
  xcost-tui plan check plan.toml            validate a plan and list its runs
  xcost-tui plan check --data demo --data-dir ../shared/data
                                            ...and load every data split it needs, once
  xcost-tui plan estimate demo              forecast time, FLOPs, memory (a short probe here)
  xcost-tui plan estimate xcopa-stilts --device-profile H100-SXM
                                            ...projected onto another GPU, no probe
  xcost-tui sql "SELECT * FROM leaderboard" query the results (read-only)
  xcost-tui sql --file pareto               ...or run a shipped query (store/queries/pareto.sql)
  xcost-tui ingest                          rebuild the database from store/runs/
  xcost-tui --headless demo --executor slurm
                                            run the plan as SLURM jobs (docs/cluster.md)
  xcost-tui stage plan.toml                 download every data set and model the plan needs
                                            into the Hugging Face cache (for offline nodes)
  xcost-tui report demo --out report/       the verdict of a plan as report.html, report.md,
                                            table.tex, figures (SVG, PDF) and tables (CSV, Parquet)

data: the Hugging Face hub by default; --data-dir DIR (or XCOST_DATA_DIR) reads local
copies laid out like ../shared/data (xcopa/<lang>/{val,test}.jsonl, copa/, arc_challenge/, rte/).
"""


def positive_int(text: str) -> int:
    """An argparse type: a whole number, at least 1 (argparse turns the ValueError into a usage error)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, at least 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def positive_seconds(text: str) -> float:
    """An argparse type: a finite number of seconds > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not (0 < value < float("inf")):  # also refuses nan
        raise argparse.ArgumentTypeError(f"must be a number of seconds > 0, got {text}")
    return value


def points(text: str) -> float:
    """An argparse type: a number of accuracy points > 0 and below 50 (2 = two points)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of accuracy points, got {text!r}") from None
    if not (0 < value < 50):
        raise argparse.ArgumentTypeError(f"must be a number of points > 0 and < 50 (2 means two points), got {text}")
    return value


def at_least_one(text: str) -> float:
    """An argparse type: a number >= 1 (how many target tasks an intermediate encoder serves)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, at least 1, got {text!r}") from None
    if not (1 <= value < float("inf")):
        raise argparse.ArgumentTypeError(f"must be at least 1, got {text}")
    return value


def safety_factor(text: str) -> float:
    """An argparse type: the SLURM --time safety factor, a finite number >= 1. Below 1 the
    suggested --time would be shorter than the forecast itself, and SLURM would stop a run the
    forecast expects to finish; 0 or less is no time at all."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, at least 1 (e.g. 1.5), got {text!r}") from None
    if not (1 <= value < float("inf")):  # also refuses nan
        raise argparse.ArgumentTypeError(
            f"must be at least 1, got {text}: the suggested --time is the forecast x this, and below 1 "
            f"SLURM would stop a run before the forecast says it ends"
        )
    return value


class DefaultsFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Every verb's --help: an option's default once. A help text that already says its default in
    words ("default 32; few-shot 4", "default: ./store, or $XCOST_STORE") keeps its own; any other
    gets "(default: X)", unless there is nothing to say (no value, an off switch, an empty text)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        help_text = action.help or ""
        if "default" in help_text.lower():
            return help_text
        default = action.default
        if default is None or default is False or default == "" or default is argparse.SUPPRESS:
            return action.help
        return super()._get_help_string(action)


class RawDescriptionDefaultsFormatter(argparse.RawDescriptionHelpFormatter, DefaultsFormatter):
    """The top-level --help: its description and examples as written, its options as every verb's."""


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose --help says each default once (DefaultsFormatter); every verb's
    parser is one (add_subparsers makes its parsers of the class of the parser it is called on)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", DefaultsFormatter)
        super().__init__(*args, **kwargs)


def _shipped_query_names() -> str:
    """The shipped queries `sql --file NAME` runs, for its --help (a folder listing: no DuckDB)."""
    names = shipped_queries(Path(os.environ.get("XCOST_STORE", DEFAULT_STORE)))
    return ", ".join(names) if names else "none found in <store>/queries/"


def _add_where(p: argparse.ArgumentParser, verb: str, example: str) -> None:
    """--where (a condition on the runs table: store.query.runs_where) and its --timeout, as
    ``report`` and ``export`` take them."""
    p.add_argument(
        "--where",
        default=None,
        metavar="SQL",
        help=f"{verb} the runs satisfying this condition on the runs table, e.g. {example}",
    )
    p.add_argument(
        "--timeout",
        type=positive_seconds,
        default=None,
        metavar="SECONDS",
        help="stop the --where condition's query if it runs longer than this (exit 124; default: no limit); "
        "ctrl-c cancels it (exit 130)",
    )


def _add_store(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--store",
        default=os.environ.get("XCOST_STORE", DEFAULT_STORE),
        metavar="DIR",
        help="results root holding xcost.duckdb and runs/ (default: ./store, or $XCOST_STORE)",
    )


def _add_data_dir(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--data-dir",
        default=os.environ.get("XCOST_DATA_DIR"),
        metavar="DIR",
        help="read data sets from local copies in DIR instead of the Hugging Face hub (default: $XCOST_DATA_DIR)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="xcost-tui", description=DESCRIPTION, epilog=EPILOG, formatter_class=RawDescriptionDefaultsFormatter
    )
    parser.add_argument("--version", action="version", version=f"xcost-tui {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    # -- run ---------------------------------------------------------------------------------
    run = sub.add_parser(
        "run",
        help="run one experiment (train, evaluate, measure) into a run directory",
        description="Run one experiment as its own process and write its run directory.",
    )
    run.add_argument(
        "--method",
        required=True,
        choices=list(METHODS),
        help="direct: fine-tune on English COPA; intermediate: first the --intermediate task(s), then COPA; "
        "few-shot: then k labelled examples per target language; icl: prompt a causal LM with k "
        "demonstrations (--shots, no training); translate-test: an English classifier on "
        "--translations (docs/methods.md)",
    )
    run.add_argument(
        "--translations",
        default=None,
        metavar="SOURCE",
        help="translate-test: published (XCOPA's own translations), an MT model id, or tiny-marian",
    )
    run.add_argument(
        "--model",
        default="tiny-xlmr",
        help="Hugging Face model id or local path (FacebookAI/xlm-roberta-base, FacebookAI/xlm-roberta-large), or the built-in tiny-xlmr",
    )
    run.add_argument(
        "--intermediate",
        default="",
        metavar="TASKS",
        help="comma-separated intermediate tasks, e.g. siqa or arc_challenge,rte",
    )
    run.add_argument(
        "--intermediate-mode",
        default="sequential",
        choices=["sequential", "mixed"],
        help="several intermediate tasks one after another, or mixed in one multi-task phase",
    )
    run.add_argument(
        "--shots",
        "-k",
        type=int,
        default=None,
        dest="shots",
        help="few-shot: k labelled examples per language from XCOPA validation",
    )
    run.add_argument("--langs", default=",".join(XCOPA_LANGS), help="comma-separated XCOPA languages to evaluate")
    _add_data_dir(run)
    run.add_argument("--seed", type=int, default=0, help="random seed (data order, head init, dropout)")
    run.add_argument(
        "--shot-seed",
        type=int,
        default=None,
        help="few-shot: seed of the draw of the k shots, apart from --seed (default 0); the shots of a "
        "smaller k are inside those of a larger k for one shot seed",
    )
    run.add_argument(
        "--recipe",
        action="append",
        default=None,
        metavar="[PHASE=]NAME",
        help="a published recipe for the target phase (xtreme-xcopa), or for the phase named: "
        "intermediate=jiant-simple, few-shot=xcost-few-shot; repeatable. Flags given here win over "
        "the recipe's values (docs/recipes.md)",
    )
    run.add_argument(
        "--epochs", type=float, default=None, help="training epochs of every phase (default 5; few-shot 10)"
    )
    run.add_argument("--max-steps", type=int, default=None, help="cap optimiser steps of every training phase")
    run.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help="effective batch of every training phase: examples per optimiser step (default 32; "
        "few-shot 4); --micro-batch-size splits it without changing the optimisation",
    )
    run.add_argument(
        "--micro-batch-size",
        type=int,
        default=None,
        help="examples per forward/backward pass (default: the largest that fits on a GPU, 8 on a CPU); "
        "gradients are accumulated to the effective batch exactly",
    )
    run.add_argument(
        "--grad-accum",
        type=int,
        default=None,
        help="old spelling of the micro-batch: 1 = no accumulation (micro-batch = batch); N needs "
        "--micro-batch-size with ceil(batch / micro-batch) = N",
    )
    run.add_argument(
        "--collapse-retries",
        type=int,
        default=None,
        help="train a collapsed target phase (one answer for >= 90%% of English validation, or a training "
        "loss that did not fall) again with a "
        "derived seed, up to N times (default 0)",
    )
    run.add_argument(
        "--lr", type=float, default=None, help="learning rate of every training phase (default 3e-5; few-shot 1e-5)"
    )
    run.add_argument("--max-seq-len", type=int, default=None, help="maximum tokens per sequence (default 128)")
    run.add_argument(
        "--max-train-examples",
        type=int,
        default=None,
        help="train on a random subset of N examples per task, drawn by the seed (quick runs)",
    )
    run.add_argument(
        "--max-eval-examples",
        type=int,
        default=None,
        help="evaluate only the first N examples per language (quick runs)",
    )
    run.add_argument(
        "--init-from",
        default=None,
        metavar="CHECKPOINT",
        help="start from a saved encoder (RUN_DIR/checkpoints/...) instead of re-running the intermediate phase",
    )
    run.add_argument(
        "--save-encoder", action="store_true", help="save the encoder after the intermediate phase(s) for reuse"
    )
    run.add_argument(
        "--no-measure", action="store_true", help="turn off FLOP sampling, progress events and memory probes"
    )
    run.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    run.add_argument(
        "--spec", default=None, metavar="JSON", help="read the whole spec from a JSON file (other flags are ignored)"
    )
    run.add_argument(
        "--out", default=None, metavar="RUN_DIR", help="run directory to write (default: <store>/runs/<run-id>)"
    )
    _add_store(run)

    # -- plan --------------------------------------------------------------------------------
    plan = sub.add_parser("plan", help="work with plan files (plan check plan.toml, plan estimate plan.toml)")
    plan_sub = plan.add_subparsers(dest="plan_command", metavar="SUBCOMMAND")
    check = plan_sub.add_parser(
        "check",
        help="validate a plan and print its expanded runs without running anything",
        description="Validate a plan and print its expanded runs without running anything. "
        "A plan of more than 10,000 runs is refused before it is expanded; "
        "XCOST_MAX_RUNS=N sets another limit (docs/plans.md).",
    )
    check.add_argument("plan", help="a plan file, or the name of a built-in plan (demo, xcopa-stilts)")
    check.add_argument(
        "--data",
        action="store_true",
        help="also load every data split the runs need, once, and print its row count; "
        "exit 2 with one message per data set that cannot be loaded",
    )
    _add_data_dir(check)
    _add_store(check)  # the newest forecast's measured memory fit (plan estimate), when there is one

    est = plan_sub.add_parser(
        "estimate",
        help="forecast what a plan will cost and whether each run fits, without running it",
        description="Forecast every run and phase of a plan: examples, tokens (the real length distribution "
        "with the run's tokenizer), analytic FLOPs, time, device-hours, energy and memory, from a "
        "short probe on this machine, or projected onto another GPU with --device-profile. "
        "Outside the phases it forecasts start-ups, model loads and restores of warm workers (one per "
        "device, --workers) or of one process per run (--process-per-run), target phases shared as the "
        "runner shares them, and the saving against one process per run with none shared. "
        'Stored in <store>/forecasts/ and the store\'s forecasts table (docs/plans.md, "Forecasts").',
    )
    est.add_argument("plan", help="a plan file, or the name of a built-in plan (demo, xcopa-stilts)")
    est.add_argument(
        "--device-profile",
        default=None,
        metavar="NAME",
        help="project onto this GPU from the peak-FLOP/s table instead of probing here "
        "(e.g. H100-SXM, A100-40GB, L4; see docs/plans.md)",
    )
    est.add_argument(
        "--efficiency",
        type=float,
        default=None,
        metavar="F",
        help="with --device-profile: the model FLOP utilisation assumed (default 0.25)",
    )
    est.add_argument(
        "--slots",
        type=positive_int,
        default=None,
        metavar="N",
        help="runs at once for the plan's wall time (local GPUs or SLURM jobs; default: one per local GPU, else 1)",
    )
    est.add_argument(
        "--workers",
        type=positive_int,
        default=None,
        metavar="N",
        help="warm workers assumed (one long-lived job process per device, which starts once and loads each "
        "distinct model once; each run restores a fresh model from host RAM); default: one per slot, i.e. per "
        "local GPU or the profile's one GPU",
    )
    est.add_argument(
        "--process-per-run",
        action="store_true",
        help="forecast one process per run instead (each run pays a process start-up and a model load), as "
        "[executor] process_per_run runs it; target phases stay shared. Either way the forecast says the saving "
        "against the old way: one process per run and no shared target phases",
    )
    est.add_argument(
        "--safety",
        type=safety_factor,
        default=None,
        metavar="X",
        help="suggested SLURM --time = forecast x X, X at least 1 (below 1 SLURM would stop a run before its "
        "forecast end; default 1.5)",
    )
    est.add_argument(
        "--format",
        choices=["table", "json", "csv"],
        default="table",
        help="table (rich), or the whole forecast as JSON, or one CSV row per phase",
    )
    est.add_argument("--phases", action="store_true", help="table: a row per phase under each run")
    est.add_argument("--no-save", action="store_true", help="do not write the forecast into the store")
    _add_data_dir(est)
    _add_store(est)

    # -- stage -------------------------------------------------------------------------------
    stage = sub.add_parser(
        "stage",
        help="download every data set split and model a plan needs into the Hugging Face "
        "cache (run where there is internet; jobs then run with HF_HUB_OFFLINE=1)",
        description="Download every data set split and model the plan's runs need into the "
        "Hugging Face cache ($HF_HOME, on storage the compute nodes share) and record "
        "their revisions in $HF_HOME/xcost-staged.json. Jobs run with "
        "HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 then fail at once, naming what is "
        "missing, instead of trying the hub (docs/cluster.md).",
    )
    stage.add_argument("plan", help="a plan file, or the name of a built-in plan (demo, xcopa-stilts)")
    _add_data_dir(stage)

    # -- ingest / sql ------------------------------------------------------------------------
    ingest = sub.add_parser("ingest", help="(re)build the DuckDB store from run directories (idempotent)")
    ingest.add_argument("run_dirs", nargs="*", help="run directories (default: every directory under <store>/runs)")
    _add_store(ingest)

    sql = sub.add_parser(
        "sql",
        help="run SQL on the store (read-only) and print the result",
        description="Run SQL on the store, read-only and sandboxed, and print the result: a query on the "
        "command line, or a file of statements with --file (a shipped query by its name: "
        f"{_shipped_query_names()}).",
    )
    sql_query = sql.add_mutually_exclusive_group(required=True)
    sql_query.add_argument(
        "query",
        nargs="?",
        default=None,
        help='a SQL query, e.g. "SELECT * FROM leaderboard"; tables: runs, phases, evals, predictions, samples, events',
    )
    sql_query.add_argument(
        "--file",
        "-f",
        default=None,
        metavar="FILE",
        help="run the statements in FILE instead of a query, or the shipped query of that name "
        "(e.g. --file leaderboard runs store/queries/leaderboard.sql)",
    )
    sql.add_argument("--format", choices=["table", "csv", "json", "parquet"], default="table")
    sql.add_argument("--output", "-o", default=None, help="write to this file (needed for parquet)")
    sql.add_argument(
        "--timeout",
        type=positive_seconds,
        default=None,
        metavar="SECONDS",
        help="stop a query that runs longer than this (exit 124; default: no limit); ctrl-c cancels it (exit 130)",
    )
    _add_store(sql)

    # -- report ------------------------------------------------------------------------------
    report = sub.add_parser(
        "report",
        help="write the verdict of a plan as report.html, report.md, table.tex, figures and tables",
        description="Write the verdict of a plan's configurations (or of those of the runs "
        "--where picks; default: every configuration in the store) to --out: "
        "report.md, a self-contained report.html, table.tex (booktabs), the figures "
        "as SVG and PDF and the tables as CSV and Parquet (docs/report.md).",
    )
    report.add_argument(
        "plan", nargs="?", default=None, help="a plan file or built-in plan name: report on its configurations"
    )
    _add_where(report, "report on the configurations of", "\"model LIKE '%%large' AND method <> 'few-shot'\"")
    report.add_argument("--out", required=True, metavar="DIR", help="folder to write the report's files into")
    report.add_argument(
        "--baseline",
        default=None,
        metavar="CONFIG_ID",
        help="compare every configuration with this one (a config id, a unique prefix or a label; "
        "default: direct fine-tuning of the same model and recipe)",
    )
    report.add_argument(
        "--delta",
        type=points,
        default=2.0,
        metavar="POINTS",
        help="similar accuracy: the 90%% interval of the difference inside +-POINTS (default 2)",
    )
    report.add_argument(
        "--amortise-n",
        type=at_least_one,
        default=1.0,
        metavar="N",
        help="the intermediate encoder serves N target tasks: its cost is shared N ways in the "
        "amortised columns (default 1: not shared)",
    )
    report.add_argument(
        "--include-contended",
        action="store_true",
        help="count runs measured beside other work (contended) in the costs; by default they are left "
        "out of every cost, never out of the accuracy, and the report counts them",
    )
    _add_store(report)

    # -- export ------------------------------------------------------------------------------
    export = sub.add_parser(
        "export",
        help="copy the store's runs into MLflow or Weights & Biases (offline), one tracker run per run",
        description="Copy the store's runs (default: every run; --run or --where pick some) into an "
        "experiment tracker: one tracker run per xcost run, its spec as params, every measured "
        "per-phase cost and the per-language accuracies as metrics, the report of their "
        "configurations as an artifact. Exporting again updates those tracker runs, never adds "
        "a second one (docs/export.md). Needs the optional extra: pip install 'xcost-tui[export]'.",
    )
    export_sub = export.add_subparsers(dest="tracker", metavar="TRACKER")
    mlflow = export_sub.add_parser(
        "mlflow",
        help="into an MLflow tracking store: a local folder (--to) or a tracking URI",
        description="Copy the runs into an MLflow experiment. The MLflow run of an xcost run is "
        "found again by its tag xcost.run_id, so a second export updates it. "
        "Look at a local store with: mlflow ui --backend-store-uri DIR (docs/export.md).",
    )
    target = mlflow.add_mutually_exclusive_group()
    target.add_argument(
        "--to",
        default=None,
        metavar="DIR",
        help="a local MLflow file store (made when missing), e.g. --to mlruns",
    )
    target.add_argument(
        "--tracking-uri",
        default=None,
        metavar="URI",
        help="an MLflow tracking URI: file:///path/mlruns, http://host:5000, ... "
        "(default: $MLFLOW_TRACKING_URI, else ./mlruns)",
    )
    mlflow.add_argument(
        "--experiment",
        default="xcost",
        metavar="NAME",
        help="the MLflow experiment (default: xcost; made when missing)",
    )
    wandb = export_sub.add_parser(
        "wandb",
        help="into offline Weights & Biases runs in a folder, synced later with `wandb sync`",
        description="Write one offline W&B run per xcost run under DIR/wandb/ (WANDB_MODE=offline: "
        "no network, no login). Upload them later, from a machine with internet, after `wandb login`: "
        "wandb sync DIR/wandb/offline-run-*. A second export replaces the run's offline folder, so "
        "each xcost run is one W&B run, with the same id every time (docs/export.md).",
    )
    wandb.add_argument(
        "--dir",
        default=os.environ.get("WANDB_DIR") or ".",
        metavar="DIR",
        help="the folder whose wandb/ subfolder holds the offline runs (default: $WANDB_DIR, else the current folder)",
    )
    wandb.add_argument(
        "--project", default="xcost", metavar="NAME", help="the W&B project the runs sync into (default: xcost)"
    )
    wandb.add_argument(
        "--entity", default=None, metavar="NAME", help="the W&B user or team (default: the entity your W&B login uses)"
    )
    for p in (mlflow, wandb):
        p.add_argument(
            "--run",
            action="append",
            default=None,
            dest="runs",
            metavar="RUN_ID",
            help="export this run only (repeatable; default: every run in the store)",
        )
        _add_where(p, "export", "\"method = 'direct'\"")
        p.add_argument("--no-report", action="store_true", help="do not render and attach the report (faster)")
        _add_store(p)

    # -- the app / headless (top-level) ---------------------------------------------------------
    parser.add_argument(
        "--headless",
        action="store_true",
        help="run the plan without a screen: progress bars (plain lines with no TTY), then the leaderboard",
    )
    parser.add_argument(
        "--max-parallel",
        type=positive_int,
        default=None,
        metavar="N",
        help="runs at once (default: one per GPU; one on a machine without a GPU)",
    )
    parser.add_argument("--rerun", action="store_true", help="run again runs that already succeeded")
    parser.add_argument(
        "--process-per-run",
        action="store_true",
        help="start a process for every run instead of one warm worker per GPU or CPU slot (the default; "
        'docs/runner.md, "Warm workers"); the plan\'s [executor] process_per_run = true says the same',
    )
    parser.add_argument(
        "--executor",
        choices=["local", "slurm"],
        default=None,
        help="where the runs execute: local subprocesses, or one SLURM job each (default: the plan's "
        "[executor] table, else local; docs/cluster.md)",
    )
    parser.add_argument(
        "--no-ingest",
        action="store_true",
        help="--headless: do not write the DuckDB store; ingest later with `xcost-tui ingest` (for a "
        "store on a shared filesystem where DuckDB's locking does not work; docs/cluster.md)",
    )
    parser.add_argument(
        "--skip-data-check",
        action="store_true",
        help="--headless: start the runs without first loading every data split they need once (the data pre-flight)",
    )
    _add_store(parser)
    _add_data_dir(parser)
    return parser


SUBCOMMANDS = {"run", "plan", "ingest", "sql", "stage", "report", "export"}
# Top-level options that take a value: their value is not the plan argument.
_VALUE_OPTIONS = {"--store", "--data-dir", "--max-parallel", "--executor"}


def _first_positional(argv: list[str]) -> int | None:
    skip = False
    for i, arg in enumerate(argv):
        if skip:
            skip = False
            continue
        if arg in _VALUE_OPTIONS:
            skip = True
        elif not arg.startswith("-"):
            return i
    return None


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    # A bare plan path (``xcost-tui plan.toml``) is not a subcommand; peel it off first.
    plan_arg = None
    pos = _first_positional(argv)
    if pos is not None and argv[pos] not in SUBCOMMANDS:
        plan_arg = argv.pop(pos)
    args = parser.parse_args(argv)
    try:
        return _dispatch(parser, args, plan_arg)
    except XcostError as exc:
        print(f"xcost-tui: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except OSError as exc:
        if exc.filename is None:
            raise
        # A path the system refused that no verb put in words: the one shape all of them use
        # (errors.path_error; exit 1 for a full disk, 2 for a path to change).
        err = path_error(exc)
        print(f"xcost-tui: error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("xcost-tui: interrupted", file=sys.stderr)
        return 130


def check_store(store: str) -> None:
    """A --store that is a file (often the database itself) would fail deep inside with a traceback."""
    path = Path(store).expanduser()
    blocker = next((p for p in (path, *path.parents) if p.is_file()), None)
    if blocker is None:
        return
    hint = f" (did you mean --store {path.parent}?)" if blocker == path and path.suffix == ".duckdb" else ""
    if blocker == path:
        raise XcostError(f"--store {store} is a file: give the folder that holds xcost.duckdb and runs/{hint}")
    raise XcostError(
        f"--store {store}: {blocker} is a file, so it cannot hold a store; "
        f"give the folder that holds xcost.duckdb and runs/"
    )


def _dispatch(parser: argparse.ArgumentParser, args: argparse.Namespace, plan_arg: str | None) -> int:
    if args.command not in ("plan", "stage"):  # every other command reads or writes the store
        check_store(args.store)
    if args.command == "stage":
        from .commands.stage import stage_command  # deferred: the verb's imports (start-up cost of --help)

        return stage_command(args.plan, data_dir=args.data_dir)
    if args.command == "run":
        from .commands.run import run_command  # deferred: the verb's imports (start-up cost of --help)

        return run_command(args)
    if args.command == "plan":
        if args.plan_command == "estimate":
            # deferred: pulls in rich and the plan and estimate rooms (start-up cost: --help loads argparse only)
            from .commands.estimate import estimate_command

            check_store(args.store)
            return estimate_command(
                args.plan,
                data_dir=args.data_dir,
                device_profile=args.device_profile,
                efficiency=args.efficiency,
                slots=args.slots,
                workers=args.workers,
                process_per_run=args.process_per_run,
                fmt_name=args.format,
                phases=args.phases,
                store=args.store,
                save=not args.no_save,
                safety=args.safety,
            )
        if args.plan_command != "check":
            parser.parse_args(["plan", "--help"])
        from .commands.plan_check import check_command  # deferred: pulls in rich and the plan room (start-up cost)

        return check_command(args.plan, data_dir=args.data_dir, data=args.data, store=args.store)
    if args.command == "ingest":
        from .commands.ingest import ingest_command  # deferred: pulls in duckdb (start-up cost)

        return ingest_command(Path(args.store), [Path(p) for p in args.run_dirs])
    if args.command == "sql":
        from .commands.sql import sql_command  # deferred: pulls in duckdb (start-up cost)

        return sql_command(
            Path(args.store),
            args.query,
            fmt=args.format,
            output=args.output,
            timeout_s=args.timeout,
            query_file=args.file,
        )
    if args.command == "report":
        from .report import report_command  # deferred: pulls in duckdb, pyarrow and numpy (start-up cost)

        return report_command(
            Path(args.store),
            args.out,  # as given: an empty --out is refused, not read as the current folder
            plan=args.plan,
            where=args.where,
            baseline=args.baseline,
            delta_points=args.delta,
            amortise_n=args.amortise_n,
            include_contended=args.include_contended,
            timeout_s=args.timeout,
        )
    if args.command == "export":
        if args.tracker is None:
            parser.parse_args(["export", "--help"])
        from .export.command import export_command  # deferred: duckdb, the report, a tracker (start-up cost)

        return export_command(
            Path(args.store),
            args.tracker,
            run_ids=args.runs,
            where=args.where,
            timeout_s=args.timeout,
            report=not args.no_report,
            **(
                {"tracking_uri": args.tracking_uri, "to": args.to, "experiment": args.experiment}
                if args.tracker == "mlflow"
                else {"directory": args.dir, "project": args.project, "entity": args.entity}
            ),
        )
    if args.headless:
        if not plan_arg:
            raise XcostError("--headless needs a plan: a plan file or a built-in plan name (demo, xcopa-stilts)")
        from .headless import headless_command  # deferred: pulls in the runner and duckdb (start-up cost)

        return headless_command(
            plan_arg,
            store=Path(args.store),
            data_dir=args.data_dir,
            max_parallel=args.max_parallel,
            rerun=args.rerun,
            data_check=not args.skip_data_check,
            executor=args.executor,
            ingest=not args.no_ingest,
            process_per_run=args.process_per_run,
        )
    from .tui.app import run_app  # deferred: pulls in textual (start-up cost)

    if args.executor is not None or args.process_per_run:
        return run_app(
            store=Path(args.store),
            plan=plan_arg,
            data_dir=args.data_dir,
            max_parallel=args.max_parallel,
            executor=args.executor,
            process_per_run=args.process_per_run,
        )
    return run_app(store=Path(args.store), plan=plan_arg, data_dir=args.data_dir, max_parallel=args.max_parallel)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
