"""The data pre-flight: every split a plan needs, loaded once in a subprocess before any run;
``xcost-tui plan check --data``; one message per data set that cannot be loaded; bounded time."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.hub_mirror import cosmos_rows, jsonl, siqa_rows, write_parquet_export, write_repo, write_script_only

from xcost_tui.spec import RunSpec
from xcost_tui.tasks import HUB_MIRROR_ENV
from xcost_tui.tasks.needs import DataNeed, needs_of, plan_needs
from xcost_tui.tasks.preflight import probe_hub, report_failures, run_preflight

REPO = Path(__file__).resolve().parents[2]
CLOSED = "http://127.0.0.1:9"  # the discard port: nothing listens, the connection is refused at once


def spec(**kw) -> RunSpec:
    return RunSpec.from_dict({"method": "direct", "model": "tiny-xlmr", "langs": ["it", "th"], **kw})


def cli(*args: str, env: dict | None = None, timeout: int = 180) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in ("XCOST_DATA_DIR", HUB_MIRROR_ENV)}
    base.update(PYTHONPATH=str(REPO), TERM="dumb", **(env or {}))
    return subprocess.run(
        [sys.executable, "-m", "xcost_tui", *args], capture_output=True, text=True, timeout=timeout, env=base
    )


# ---- what a run needs ---------------------------------------------------------------------------------


def test_needs_follow_the_method():
    direct = [(n.task, n.split, n.lang, n.role) for n in needs_of(spec(measure={"curve_points": 0}))]
    assert direct == [
        ("copa", "train", "en", "train"),
        ("copa", "validation", "en", "eval"),
        ("xcopa", "test", "it", "eval"),
        ("xcopa", "test", "th", "eval"),
        ("copa", "test", "en", "questions"),
    ]
    # learning curves (on by default) read each language's validation split, its questions from COPA's
    curved = [(n.task, n.split, n.lang, n.role) for n in needs_of(spec())]
    assert set(curved) - set(direct) == {
        ("xcopa", "validation", "it", "curve"),
        ("xcopa", "validation", "th", "curve"),
        ("copa", "validation", "en", "questions"),
    }
    few = [
        (n.task, n.split, n.lang, n.role)
        for n in needs_of(spec(method="few-shot", few_shot_k=4, intermediate=["siqa"]))
    ]
    assert few[0] == ("siqa", "train", "en", "train")
    assert ("xcopa", "validation", "th", "few-shot-pool") in few and ("copa", "validation", "en", "questions") in few
    reuse = needs_of(spec(method="intermediate", intermediate=["siqa"], init_from="/somewhere"))
    assert "siqa" not in {n.task for n in reuse}  # a saved encoder replaces the intermediate phase
    published = needs_of(spec(xcopa_question="published", eval_english=False, measure={"curve_points": 0}))
    assert {n.role for n in published} == {"train", "eval"} and all(
        n.task != "copa" or n.split == "train" for n in published
    )


def test_translate_test_needs_its_mt_references():
    """The English COPA split of the evaluated one (XCOPA test items are translations of COPA test's
    of the same idx), and for an MT model XCOPA's published translations (none for Quechua)."""
    langs = ["it", "qu"]

    def refs(**kw):
        return [
            (n.task, n.split, n.lang)
            for n in needs_of(spec(method="translate-test", langs=langs, **kw))
            if n.role == "mt-reference"
        ]

    assert refs(translations="published") == [("copa", "test", "en")]
    assert refs(translations="tiny-marian") == [("copa", "test", "en"), ("xcopa-translate-test", "test", "it")]
    assert refs(translations="tiny-marian", eval_split="val")[0] == ("copa", "validation", "en")
    assert not [n for n in needs_of(spec()) if n.role == "mt-reference"]


def test_a_plans_needs_are_loaded_once():
    needs = plan_needs([spec(seed=0), spec(seed=1), spec(method="intermediate", intermediate=["rte"])])
    keys = [n.key for n, _ in needs]
    assert len(keys) == len(set(keys))
    counts = {(n.task, n.split, n.lang): c for n, c in needs}
    assert counts[("copa", "train", "en")] == 3 and counts[("rte", "train", "en")] == 1


# ---- plan check --data ----------------------------------------------------------------------------------


def test_plan_check_data_prints_row_counts(data_dir):
    proc = cli("plan", "check", "--data", "demo", "--data-dir", str(data_dir))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert "data pre-flight: 11 splits for 8 runs, each loaded once" in out
    for line in (
        "copa train: 400 rows",
        "copa validation: 100 rows",
        "copa test: 500 rows",
        "rte train: 1,000 rows",
        "arc_challenge train: 1,119 rows",
        "xcopa test it: 500 rows",
        "xcopa validation qu: 100 rows",
    ):
        assert line in out, line
    assert "xcopa test it: 500 rows (local " in out and "4 cause/effect questions taken from English COPA" in out
    assert "data: all 11 splits loaded" in out


def test_plan_check_data_without_the_hub_names_each_data_set_once(tmp_path):
    start = time.monotonic()
    proc = cli(
        "plan",
        "check",
        "--data",
        "xcopa-stilts",
        env={"HF_ENDPOINT": CLOSED, "HF_HOME": str(tmp_path / "hf"), "XCOST_HUB_TIMEOUT_S": "5"},
    )
    took = time.monotonic() - start
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert took < 90, f"the pre-flight took {took:.0f} s without a hub"
    err = proc.stderr
    assert "error: 10 data sets of this plan could not be loaded" in err and CLOSED in err
    items = [line for line in err.splitlines() if line.startswith("  - ")]
    assert len(items) == 10, err
    for task, repo in (
        ("copa", "aps/super_glue"),
        ("xcopa", "cambridgeltl/xcopa"),
        ("siqa", "lighteval/siqa"),
        ("hellaswag", "Rowan/hellaswag"),
        ("commonsenseqa", "tau/commonsense_qa"),
        ("cosmosqa", "allenai/cosmos_qa"),
        ("mnli", "nyu-mll/glue"),
        ("anli", "facebook/anli"),
        ("qqp", "nyu-mll/glue"),
        ("sst2", "nyu-mll/glue"),
    ):
        assert sum(line.startswith(f"  - {task} ({repo}") for line in items) == 1, (task, err)
    xcopa = next(line for line in items if line.startswith("  - xcopa"))
    assert "configs et, ht, id, it, qu, sw, ta, th, tr, vi, zh; splits test, validation" in xcopa
    assert "--data-dir" in xcopa and "no local copy" in next(line for line in items if "siqa" in line)
    assert "Traceback" not in err


def test_probe_of_a_closed_port_is_quick():
    start = time.monotonic()
    ok, endpoint, error = probe_hub(5)
    assert isinstance(ok, bool)
    os.environ["HF_ENDPOINT"], old = CLOSED, os.environ.get("HF_ENDPOINT")
    try:
        ok, endpoint, error = probe_hub(5)
    finally:
        os.environ.pop("HF_ENDPOINT") if old is None else os.environ.__setitem__("HF_ENDPOINT", old)
    assert not ok and endpoint == CLOSED and error
    assert time.monotonic() - start < 15


# ---- through the hub stand-in ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mirror(tmp_path_factory, data_dir) -> Path:
    m = tmp_path_factory.mktemp("hub")
    write_repo(m, "lighteval/siqa", {"default": {"train": siqa_rows(30), "validation": siqa_rows(6)}})
    write_script_only(m, "allenai/cosmos_qa")
    write_parquet_export(m, "allenai/cosmos_qa", {"default": {"train": cosmos_rows(20)}})
    write_repo(
        m,
        "cambridgeltl/xcopa",
        {
            "th": {
                "validation": jsonl(data_dir / "xcopa" / "th" / "val.jsonl"),
                "test": jsonl(data_dir / "xcopa" / "th" / "test.jsonl"),
            }
        },
    )
    write_repo(
        m,
        "aps/super_glue",
        {
            "copa": {
                split: jsonl(data_dir / "copa" / f"{name}.jsonl")
                for split, name in (("train", "train"), ("validation", "val"), ("test", "test"))
            }
        },
    )
    return m


def stilts_like(*tasks: str) -> list[RunSpec]:
    return [
        RunSpec.from_dict({"method": "intermediate", "model": "tiny-xlmr", "intermediate": [t], "langs": ["th"]})
        for t in tasks
    ]


def test_preflight_through_the_stand_in(mirror, monkeypatch, tmp_path):
    monkeypatch.setenv(HUB_MIRROR_ENV, str(mirror))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    out, err = io.StringIO(), io.StringIO()
    result = run_preflight(stilts_like("siqa", "cosmosqa", "hellaswag"), out)
    text = out.getvalue()
    assert "siqa train: 30 rows (hub mirror lighteval/siqa @ main)" in text
    assert (
        "cosmosqa train: 20 rows (hub mirror allenai/cosmos_qa @ refs/convert/parquet - the repository holds only"
        in text
    )
    assert "note: cosmosqa: allenai/cosmos_qa holds only a loading script" in text
    assert "xcopa test th: 500 rows (hub mirror cambridgeltl/xcopa (th) @ main; 250 cause/effect questions" in text
    assert not result.ok and [f.need.task for f in result.failures] == ["hellaswag"]
    report_failures(result, err)
    assert err.getvalue().count("  - ") == 1
    assert (
        "  - hellaswag (Rowan/hellaswag; split train): task 'hellaswag': could not load Rowan/hellaswag"
        in err.getvalue()
    )


def test_preflight_is_bounded(tmp_path):
    slow = tmp_path / "slow-python"
    slow.write_text("#!/bin/sh\nsleep 60\n")
    slow.chmod(0o755)
    out = io.StringIO()
    start = time.monotonic()
    result = run_preflight(stilts_like("siqa"), out, timeout_s=1, python=str(slow))
    assert time.monotonic() - start < 15
    assert not result.ok and "ran longer than 1 s" in result.aborted
    assert {f.need.task for f in result.failures} >= {"siqa", "copa", "xcopa"}


def test_a_broken_preflight_process_is_reported(tmp_path):
    broken = tmp_path / "broken-python"
    broken.write_text("#!/bin/sh\necho 'no module' >&2\nexit 1\n")
    broken.chmod(0o755)
    result = run_preflight(stilts_like("siqa"), io.StringIO(), python=str(broken))
    assert not result.ok and "stopped before it finished" in result.aborted and "no module" in result.aborted


# ---- headless ----------------------------------------------------------------------------------------


def write_plan(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "plan.toml"
    path.write_text('[defaults]\nmodel = "tiny-xlmr"\nlangs = ["th"]\n\n' + body)
    return path


def test_headless_stops_before_the_first_run_when_data_is_missing(mirror, tmp_path):
    plan = write_plan(
        tmp_path, '[[experiment]]\nmethod = "intermediate"\nintermediates = ["siqa", "hellaswag"]\nseeds = [0, 1, 2]\n'
    )
    store = tmp_path / "store"
    proc = cli(
        "--headless",
        str(plan),
        "--store",
        str(store),
        env={HUB_MIRROR_ENV: str(mirror), "HF_HOME": str(tmp_path / "hf"), "XCOST_ASSERT_NO_HEAVY_IMPORTS": "1"},
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "siqa train: 30 rows" in proc.stdout
    assert proc.stderr.count("  - hellaswag (Rowan/hellaswag; split train)") == 1, proc.stderr  # once, not per run
    assert "no run was started" in proc.stderr and "plan check --data" in proc.stderr
    assert not (store / "runs").exists() or not any((store / "runs").iterdir())


def test_skip_data_check_goes_straight_to_the_runs(tmp_path):
    fake = f"{sys.executable} {REPO / 'tests' / 'support' / 'fake_job.py'}"
    plan = write_plan(tmp_path, '[[experiment]]\nmethod = "direct"\n')
    proc = cli(
        "--headless",
        str(plan),
        "--store",
        str(tmp_path / "s"),
        "--skip-data-check",
        env={"HF_ENDPOINT": CLOSED, "XCOST_JOB_CMD": fake, "FAKE_JOB_STEP_S": "0.01"},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "data pre-flight" not in proc.stdout and "1/1 runs succeeded" in proc.stdout


@pytest.mark.slow
def test_headless_runs_after_a_passing_preflight(tmp_path, data_dir):
    plan = write_plan(
        tmp_path,
        '[[experiment]]\nmethod = "direct"\nmax_eval_examples = 8\n'
        "[experiment.hparams]\nmax_examples = 16\nmax_steps = 2\nbatch_size = 8\n"
        "grad_accum = 1\nmax_seq_len = 32\n[experiment.measure]\ninference_bench_examples = 3\n"
        "inference_warmup = 0\ncurve_points = 0\n",
    )
    proc = cli(
        "--headless",
        str(plan),
        "--store",
        str(tmp_path / "s"),
        "--data-dir",
        str(data_dir),
        env={"XCOST_ASSERT_NO_HEAVY_IMPORTS": "1"},
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout
    assert (
        out.index("plan plan: 1 runs")
        < out.index("data pre-flight: 4 splits for 1 runs")
        < out.index("): started (pid")
    )
    assert "xcopa test th: 500 rows" in out and "1/1 runs succeeded" in out


def test_need_round_trip():
    need = DataNeed("xcopa", "test", "th", None, "eval", "copa")
    assert DataNeed.from_dict(need.to_dict()) == need and need.label() == "xcopa test th"
