"""xcost_tui.track's measured run and phase, in-process: what they write into the run directory, and
that a crash inside a phase leaves the run recorded as failed with nothing written before it lost."""

from __future__ import annotations

import json
import subprocess
import sys

import duckdb
import pytest
from support.cli import xcost

from xcost_tui.errors import SpecError, XcostError
from xcost_tui.plan import load_plan
from xcost_tui.rundir import PhaseEnd, PhaseStart, RunFold, RunStatus, parse_event, read_jsonl, read_status
from xcost_tui.spec import RunSpec
from xcost_tui.store.ingest import ingest
from xcost_tui.store.verdict_tables import baselines_of
from xcost_tui.track import external_spec, measured_run


def _events(run_dir):
    return [e for e in map(parse_event, read_jsonl(run_dir / "events.jsonl")) if e is not None]


def _fold(run_dir):
    return RunFold().apply_all(_events(run_dir))


def _busy() -> int:
    return sum(i * i for i in range(200_000))  # some work for the meter to see


def test_a_phase_is_measured_and_recorded_as_the_job_records_it(tmp_path):
    with measured_run(
        tmp_path, method="direct", model="tiny-xlmr", seed=3, sample=False, phases=["target:copa"]
    ) as run:
        with run.phase("target:copa", examples=40, steps=5) as phase:
            _busy()
            phase.tokens = 1200
    state = _fold(run.run_dir)
    assert state.run_start is not None and state.run_start.phases_planned == ["target:copa"]
    assert state.run_start.env["source"] == "external" and state.run_start.env["device_type"] == "cpu"
    target = state.phases["target:copa"]
    assert target.completed and target.kind == "target" and target.tasks == ["copa"]
    costs = target.costs
    assert costs["wall_s"].value > 0 and costs["wall_s"].source == "wall_clock"
    assert costs["cpu_s"].value > 0 and costs["cpu_s"].source == "process_time"
    assert costs["device_hours"].value == pytest.approx(costs["wall_s"].value / 3600)
    assert costs["peak_mem_bytes"].value > 0
    assert (costs["examples"].value, costs["steps"].value, costs["tokens_nonpad"].value) == (40, 5, 1200)
    assert costs["examples"].source == "reported"
    assert costs["tokens_padded"].value is None and costs["tokens_padded"].reason
    assert costs["flops_analytic"].value is None and "external script" in (costs["flops_analytic"].reason or "")
    assert costs["energy_j"].value is not None or costs["energy_j"].reason  # never a silent zero
    assert state.run_end is not None and state.run_end.status == "succeeded"
    status = read_status(run.run_dir)
    assert status is not None and status.status == RunStatus.SUCCEEDED and status.exit_code == 0
    spec = json.loads((run.run_dir / "spec.json").read_text())
    assert spec["source"] == "external" and spec["seed"] == 3


def test_an_exception_inside_a_phase_fails_the_run_with_the_error_and_keeps_what_came_before(tmp_path):
    with pytest.raises(RuntimeError, match="loss is NaN"):
        with measured_run(tmp_path, method="direct", model="tiny-xlmr", sample=False) as run:
            with run.phase("intermediate:siqa", examples=8):
                _busy()
            with run.phase("target:copa"):
                raise RuntimeError("loss is NaN")
    status = read_status(run.run_dir)
    assert status is not None and status.status == RunStatus.FAILED
    assert status.error == "RuntimeError: loss is NaN" and status.phase == "target:copa" and status.exit_code == 1
    events = _events(run.run_dir)
    # flushed line by line: the earlier phase's record is there; the failed phase has a start, no end
    assert [e.phase for e in events if isinstance(e, PhaseEnd)] == ["intermediate:siqa"]
    assert [e.phase for e in events if isinstance(e, PhaseStart)] == ["intermediate:siqa", "target:copa"]
    state = _fold(run.run_dir)
    assert state.run_end is not None and state.run_end.status == "failed" and state.run_end.phase == "target:copa"
    assert "loss is NaN" in (state.run_end.traceback or "")
    ingest(tmp_path)
    with duckdb.connect(str(tmp_path / "xcost.duckdb"), read_only=True) as con:
        row = con.execute("SELECT status, error FROM runs WHERE run_id = ?", [run.run_id]).fetchone()
    assert row == ("failed", "RuntimeError: loss is NaN")


def test_ctrl_c_records_the_run_cancelled(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        with measured_run(tmp_path, method="direct", model="tiny-xlmr", sample=False) as run:
            raise KeyboardInterrupt
    status = read_status(run.run_dir)
    assert status is not None and status.status == RunStatus.CANCELLED and status.exit_code == 130


def test_record_eval_gives_the_accuracy_of_the_labelled_predictions(tmp_path):
    with measured_run(tmp_path, method="direct", model="tiny-xlmr", langs=["th"], sample=False) as run:
        with run.phase("eval:th"):
            result = run.record_eval("th", [(0, 1, 1), (1, 0, 1), (2, 1, 0, [0.1, 0.9]), (3, 0, -1)])
        outside = run.record_eval("en", [{"idx": 5, "pred": 0, "label": 0}])
    assert (result.accuracy, result.n, result.correct) == (pytest.approx(1 / 3), 3, 1)
    assert result.phase == "eval:th" and result.task == "xcopa" and result.split == "test"
    state = _fold(run.run_dir)
    assert state.accuracy == {"th": pytest.approx(1 / 3), "en": 1.0}
    # the eval_result comes after its phase's end, as the job writes it
    kinds = [type(e).__name__ for e in _events(run.run_dir) if getattr(e, "phase", None) == "eval:th"]
    assert kinds == ["PhaseStart", "PhaseEnd", "EvalResult"]
    # evaluated outside a phase: its phase is recorded with costs null and why
    assert outside.phase == "eval:en" and state.phases["eval:en"].costs["wall_s"].reason
    rows = list(read_jsonl(run.run_dir / "predictions.jsonl"))
    assert [r["correct"] for r in rows] == [True, False, False, False, True]
    assert rows[2]["scores"] == [0.1, 0.9] and rows[3]["label"] == -1


def test_mistakes_are_said_clearly(tmp_path):
    with measured_run(tmp_path, method="direct", model="tiny-xlmr", sample=False) as run:
        with pytest.raises(SpecError, match="names no phase kind"):
            run.open_phase("train")
        with run.phase("target:copa"):
            with pytest.raises(XcostError, match="phases do not nest"):
                run.open_phase("eval:en")
        with pytest.raises(XcostError, match=r"expected \(idx, pred, label\)"):
            run.record_eval("en", [(1, 2)])
    with pytest.raises(SpecError, match="method 'drect' is unknown"):
        external_spec("drect", "tiny-xlmr")


def test_an_external_run_is_its_own_configuration_and_tool_run_ids_do_not_change():
    tool = RunSpec(method="direct", model="tiny-xlmr", seed=1)
    external = external_spec("direct", "tiny-xlmr", 1, script="/home/me/train.py")
    assert "source" not in tool.identity() and "script" not in tool.identity()
    assert external.identity()["source"] == "external" and "script" not in external.identity()
    assert external.run_id() != tool.run_id() and external.configuration_id() != tool.configuration_id()
    # the same settings from another script path are the same run
    assert external_spec("direct", "tiny-xlmr", 1, script="/elsewhere/t.py").run_id() == external.run_id()
    with pytest.raises(SpecError, match="source"):
        RunSpec.from_dict({"method": "direct", "model": "tiny-xlmr", "source": "mine"})


def test_a_rerun_archives_the_previous_run_directory(tmp_path):
    for _ in range(2):
        with measured_run(tmp_path, method="direct", model="tiny-xlmr", sample=False) as run:
            pass
    archived = list((tmp_path / "archive").iterdir())
    assert len(archived) == 1 and archived[0].name.startswith(run.run_id)
    assert len([e for e in _events(run.run_dir) if type(e).__name__ == "RunStart"]) == 1


def test_importing_the_api_loads_neither_torch_nor_transformers():
    code = "import sys, xcost_tui.track; print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "[]"


def test_a_script_killed_outright_is_settled_failed_by_ingest(tmp_path):
    code = (
        "import os, signal\n"
        "from xcost_tui.track import measured_run\n"
        f"with measured_run({str(tmp_path)!r}, method='direct', model='tiny-xlmr', sample=False) as run:\n"
        "    with run.phase('target:copa'):\n"
        "        os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == -9, proc.stderr
    (run_dir,) = (tmp_path / "runs").iterdir()
    status = read_status(run_dir)
    assert status is not None and status.status == RunStatus.RUNNING  # as the kill left it
    assert xcost(["ingest", "--store", str(tmp_path)], 120).returncode == 0
    with duckdb.connect(str(tmp_path / "xcost.duckdb"), read_only=True) as con:
        row = con.execute("SELECT status, error FROM runs").fetchone()
    assert row[0] == "failed" and "disappeared" in row[1]


def test_a_plan_may_not_claim_its_runs_are_external(tmp_path):
    plan = tmp_path / "p.toml"
    plan.write_text('[[experiment]]\nmethod = "direct"\nmodel = "tiny-xlmr"\nsource = "external"\n')
    with pytest.raises(SpecError, match="'source' marks a run a user's own script measured"):
        load_plan(plan)


def test_an_external_direct_run_is_compared_with_the_tools_own_and_is_a_baseline_only_without_one():
    def spec(method, source=None, **more):
        return {"method": method, "model": "m", "target": "copa", "source": source, **more}

    tool, ext = spec("direct"), spec("direct", "external")
    ext_inter = spec("intermediate", "external", intermediate=["siqa"])
    both = baselines_of({"tool": (tool, 2), "ext": (ext, 1), "ext-inter": (ext_inter, 1)})
    assert both == {"ext": "tool", "ext-inter": "tool"}
    # a store of users' scripts only: their direct run is the baseline of the others
    assert baselines_of({"ext": (ext, 1), "ext-inter": (ext_inter, 1)}) == {"ext-inter": "ext"}
