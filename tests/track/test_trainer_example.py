"""examples/trainer_copa.py, as a user runs it: HF Trainer on COPA measured with XcostCallback, into a
store that already holds the tool's own runs of the same configuration; then `xcost-tui ingest`, the
verdict and `xcost-tui report` must show the external run beside them (issue 21, item 2)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from support.cli import xcost
from support.store_fixtures import make_run_dir

from xcost_tui.rundir import PhaseEnd, parse_event, read_jsonl
from xcost_tui.verdict.api import verdict

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "trainer_copa.py"
LANGS = ["it", "th"]
ITEMS = 16
STEPS = 3


@pytest.fixture(scope="module")
def store(tmp_path_factory, data_dir) -> Path:
    root = tmp_path_factory.mktemp("track") / "store"
    env = {**os.environ, "XCOST_DATA_DIR": str(data_dir), "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, str(EXAMPLE), "--store", str(root), "--seed", "0", "--max-steps", str(STEPS)]
        + ["--langs", ",".join(LANGS), "--eval-items", str(ITEMS)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    (external,) = (root / "runs").iterdir()
    spec = json.loads((external / "spec.json").read_text())
    # The tool's own runs of the same configuration (its spec but for `source`), seeds 0 and 1.
    for seed in (0, 1):

        def same(s, spec=spec):
            s.hparams = type(s.hparams)(**spec["hparams"])
            s.max_eval_examples, s.tiny_model_dims = spec["max_eval_examples"], spec["tiny_model_dims"]

        make_run_dir(root, seed=seed, langs=LANGS, n_eval=ITEMS, accuracies={"it": 0.75, "th": 0.5}, spec_edit=same)
    proc = xcost(["ingest", "--store", str(root)], 300)
    assert proc.returncode == 0, proc.stderr
    return root


def _external_run(store: Path) -> str:
    with duckdb.connect(str(store / "xcost.duckdb"), read_only=True) as con:
        rows = con.execute(
            "SELECT run_id FROM runs WHERE json_extract_string(spec, '$.source') = 'external'"
        ).fetchall()
    assert len(rows) == 1, rows
    return rows[0][0]


def test_the_example_lands_in_the_store_with_phases_costs_and_accuracies(store):
    run_id = _external_run(store)
    run_dir = store / "runs" / run_id
    with duckdb.connect(str(store / "xcost.duckdb"), read_only=True) as con:
        status, method, model = con.execute(
            "SELECT status, method, model FROM runs WHERE run_id = ?", [run_id]
        ).fetchone()
        phases = {
            r[0]: r[1:]
            for r in con.execute(
                "SELECT phase, kind, wall_s, wall_s_source, device_hours, steps, examples, flops_analytic, "
                "flops_analytic_reason, peak_mem_bytes_source, energy_j, energy_j_reason, costs FROM phases "
                "WHERE run_id = ?",
                [run_id],
            ).fetchall()
        }
        evals = dict(con.execute("SELECT lang, accuracy FROM evals WHERE run_id = ?", [run_id]).fetchall())
        by_lang = dict(
            con.execute(
                "SELECT lang, avg(correct::INT) FROM predictions WHERE run_id = ? GROUP BY lang", [run_id]
            ).fetchall()
        )
    assert (status, method, model) == ("succeeded", "direct", "tiny-xlmr")
    assert list(phases) == ["target:copa", "eval:en", *(f"eval:{lang}" for lang in LANGS)]
    kind, wall, wall_source, dh, steps, examples, flops, flops_reason, mem_source, energy, energy_reason, costs = (
        phases["target:copa"]
    )
    assert kind == "target" and wall > 0 and wall_source == "wall_clock" and dh > 0
    assert steps == STEPS and examples == STEPS * 8  # 3 full batches of 8 (COPA train has 400 items)
    assert mem_source in ("procfs", "getrusage", "torch.cuda")
    # FLOPs: the tool's counter never saw this loop (null with the reason); Trainer's estimate is kept apart
    assert flops is None and "external script" in flops_reason
    trainer_flops = json.loads(costs)["flops_trainer_estimate"]
    assert trainer_flops["source"] == "trainer_total_flos" and trainer_flops["value"] > 0
    assert (energy is None) == (energy_reason is not None)  # measured where it can be, else null with why
    # per-language accuracies, from the per-item predictions
    assert set(evals) == {"en", *LANGS}
    for lang, acc in evals.items():
        assert acc == pytest.approx(by_lang[lang])
    lines = [r for r in read_jsonl(run_dir / "predictions.jsonl") if r["lang"] == "th"]
    assert len(lines) == ITEMS and {r["idx"] for r in lines} == set(range(ITEMS))
    ends = [e for e in map(parse_event, read_jsonl(run_dir / "events.jsonl")) if isinstance(e, PhaseEnd)]
    assert all(e.info.get("source") == "external" for e in ends)


def test_the_verdict_compares_it_with_the_tools_own_direct_runs(store):
    run_id = _external_run(store)
    with duckdb.connect(str(store / "xcost.duckdb"), read_only=True) as con:
        ext_cfg = con.execute("SELECT config_id FROM runs WHERE run_id = ?", [run_id]).fetchone()[0]
        (tool_cfg,) = {r[0] for r in con.execute("SELECT config_id FROM runs WHERE run_id <> ?", [run_id]).fetchall()}
    v = verdict(store)
    assert ext_cfg in v.configurations and tool_cfg in v.configurations
    external, tool = v.configurations[ext_cfg], v.configurations[tool_cfg]
    assert external.label.endswith("external script") and not tool.label.endswith("external script")
    assert external.n_runs == 1 and tool.n_runs == 2
    assert external.costs["train_device_hours"] and external.costs["train_device_hours"] > 0
    # the tool's own direct fine-tuning is the baseline; the external run is paired with it by seed
    rows = [c for c in v.comparisons if c.config_id == ext_cfg]
    assert {c.lang for c in rows} >= set(LANGS) and {c.baseline_id for c in rows} == {tool_cfg}
    assert all(c.n_pairs == 1 for c in rows if c.lang in LANGS)  # seed 0 is in both
    assert any(ext_cfg in sentence or external.label in sentence for sentence in v.sentences())


def test_the_report_lists_it_beside_the_tools_own(store, tmp_path):
    out = tmp_path / "report"
    proc = xcost(["report", "--store", str(store), "--out", str(out)], 300)
    assert proc.returncode == 0, proc.stderr
    text = (out / "report.md").read_text(encoding="utf-8")
    assert "tiny-xlmr · external script" in text
    tool_lines = [line for line in text.splitlines() if "tiny-xlmr" in line and "external script" not in line]
    assert tool_lines, "the tool's own configuration is missing from the report"
