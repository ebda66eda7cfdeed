"""scripts/gpu-check.sh, the GPU check of issue 17, in its --dry-run mode (CI has no GPU): every
section runs on the CPU with tiny shapes and gives the same JSON keys as on a GPU; every null figure
carries its reason; the markdown fragment is written. The pure parts (power integration, the
section guard, the time budget) are checked on their own."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
from importlib import util
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# one worker runs this module, so the dry run (its module-scoped fixture) runs once (pytest-xdist, pyproject)
pytestmark = pytest.mark.xdist_group("gpu_check")
WRAPPER = REPO / "scripts" / "gpu-check.sh"


def _load():
    spec = importlib.util.spec_from_file_location("gpu_check", REPO / "scripts" / "gpu_check.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["gpu_check"] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def gpu_check():
    return _load()


def _figures(figures: dict, prefix: str = ""):
    for key, fig in figures.items():
        if "unit" in fig:
            yield prefix + key, fig
        else:
            yield from _figures(fig, f"{prefix}{key}.")


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("gpu-check")
    env = {**os.environ, "PYTHON": sys.executable, "CUDA_VISIBLE_DEVICES": ""}
    proc = subprocess.run(
        ["bash", str(WRAPPER), "--dry-run", "--out", str(out)], capture_output=True, text=True, env=env, timeout=300
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads((out / "gpu-check.json").read_text(encoding="utf-8")), (out / "gpu-validation.md").read_text(
        encoding="utf-8"
    )


def test_help_teaches_without_python():
    proc = subprocess.run(
        ["bash", str(WRAPPER), "--help"], capture_output=True, text=True, env={**os.environ, "PYTHON": "false"}
    )
    assert proc.returncode == 0
    for word in (
        "--dry-run",
        "--out",
        "CUBLAS_WORKSPACE_CONFIG",
        "HF_HUB_OFFLINE",
        "docs/gpu-validation.md",
        "icl_lmeval",
    ):
        assert word in proc.stdout


def test_dry_run_runs_every_section_with_the_gpu_keys(dry_run, gpu_check):
    report, _ = dry_run
    assert report["dry_run"] is True and report["schema"] == gpu_check.SCHEMA_VERSION and report["complete"]
    assert report["environment"]["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"
    assert list(report["sections"]) == list(gpu_check.SECTIONS)
    for name, sec in report["sections"].items():
        assert sec["status"] == "ok", (name, sec.get("error"), sec.get("traceback"))
        assert tuple(sec["figures"]) == gpu_check.SECTIONS[name], name


def test_every_null_carries_its_reason(dry_run, gpu_check):
    report, _ = dry_run
    nulls = 0
    for name, sec in report["sections"].items():
        for key, fig in _figures(sec["figures"]):
            assert set(fig) >= {"value", "unit", "source", "reason"}, (name, key)
            if fig["value"] is None:
                nulls += 1
                assert fig["reason"], (name, key)
    assert nulls  # the GPU-only figures of a CPU run
    gpu_only = [
        ("warmup", "cuda_init_s"),
        ("mfu", "b32.mfu_padded"),
        ("energy", "nvml_energy_j"),
        ("memory", "direct_peak_b"),
        ("icl_lmeval", "bf16.max_abs_diff"),
    ]
    for name, key in gpu_only:
        fig = dict(_figures(report["sections"][name]["figures"]))[key]
        assert fig["value"] is None and fig["reason"] == gpu_check.NO_CUDA


def test_cpu_figures_are_the_projects_own(dry_run):
    """What a CPU can measure is measured: the counted FLOPs equal the analytic count exactly (the
    review of 3e65e45 found them equal to the FLOP), and the ICL scorer agrees with lm-eval."""
    report, _ = dry_run
    flop = report["sections"]["flop_counting"]["figures"]
    assert flop["counted_flops"]["value"] == flop["analytic_flops"]["value"] > 0
    assert flop["counted_over_analytic"]["value"] == 1.0
    assert report["sections"]["warmup"]["figures"]["first_step_s"]["value"] > 0
    assert report["sections"]["mfu"]["figures"]["b16"]["flops_per_step"]["value"] > 0
    icl = report["sections"]["icl_lmeval"]["figures"]["fp32"]
    if util.find_spec("lm_eval") is None:
        assert "lm-eval is not importable" in icl["max_abs_diff"]["reason"]
    else:
        assert icl["max_abs_diff"]["value"] < 1e-4
        assert icl["same_choice"]["value"] == 1.0


def test_markdown_fragment(dry_run, gpu_check):
    report, markdown = dry_run
    assert markdown == gpu_check.render_markdown(report)
    assert "dry run" in markdown
    for name in gpu_check.SECTIONS:
        assert f"#### {name} (ok," in markdown
    assert "| cuda_init_s | null | s | " + gpu_check.NO_CUDA + " |" in markdown


def test_integrate_power(gpu_check):
    integrate = gpu_check.integrate_power
    # constant 100 W sampled every 0.1 s over [0, 2]: 200 J, edges held at the nearest sample
    samples = [(0.05 + 0.1 * i, 100.0) for i in range(20)]
    assert integrate(samples, 0.0, 2.0) == pytest.approx(200.0)
    # a ramp of 10 W/s sampled at the ends of [0, 4]: the trapezoid is exact (80 J)
    assert integrate([(0.0, 0.0), (4.0, 40.0)], 0.0, 4.0) == pytest.approx(80.0)
    # samples outside the window are not used; none inside: None
    assert integrate([(-1.0, 500.0), (0.5, 10.0), (9.0, 500.0)], 0.0, 1.0) == pytest.approx(10.0)
    assert integrate([(5.0, 1.0)], 0.0, 1.0) is None


def test_ratio_keeps_the_reason(gpu_check):
    Cost = gpu_check.Cost
    assert gpu_check.ratio(Cost.measured(3.0, "s", "x"), Cost.measured(2.0, "s", "x")).value == 1.5
    missing = gpu_check.ratio(Cost.missing("s", "no CUDA"), Cost.measured(2.0, "s", "x"))
    assert missing.value is None and missing.reason == "no CUDA"
    assert gpu_check.ratio(Cost.measured(1.0, "s", "x"), Cost.measured(0.0, "s", "x")).reason == "the denominator is 0"


class _State:
    def free(self) -> None:
        pass


def test_a_failing_section_does_not_stop_the_others(gpu_check, monkeypatch):
    def broken(state):
        raise RuntimeError("CUDA error: an illegal memory access")

    monkeypatch.setattr(gpu_check, "section_warmup", broken)
    for name in ("mfu", "flop_counting", "memory", "icl_lmeval"):
        monkeypatch.setattr(gpu_check, f"section_{name}", lambda state: {"x": gpu_check.Cost.measured(1, "s", "t")})
    monkeypatch.setattr(gpu_check, "section_energy", lambda state, deadline: {})
    written: list[list[str]] = []  # the report is rewritten after every section
    sections = gpu_check.run_sections(_State(), 1000.0, time.monotonic(), lambda s: written.append(list(s)))
    names = list(gpu_check.SECTIONS)
    assert written == [names[: i + 1] for i in range(len(names))]
    assert sections["warmup"]["status"] == "error"
    assert "illegal memory access" in sections["warmup"]["error"]
    assert sections["warmup"]["figures"] is None
    assert all(sections[n]["status"] == "ok" for n in gpu_check.SECTIONS if n != "warmup")
    assert sections["mfu"]["figures"] == {"x": {"value": 1, "unit": "s", "source": "t", "reason": None}}


def test_the_budget_skips_what_is_left_with_the_reason(gpu_check):
    sections = gpu_check.run_sections(_State(), 0.0, time.monotonic())
    assert all(s["status"] == "skipped" and "time budget" in s["reason"] for s in sections.values())
    report = {
        "started": "now",
        "dry_run": True,
        "budget_s": 0.0,
        "elapsed_s": 0.0,
        "environment": {},
        "sections": sections,
    }
    assert "Not measured: the time budget" in gpu_check.render_markdown(report)


def test_without_lm_eval_the_entry_is_null_with_the_reason(gpu_check, monkeypatch):
    monkeypatch.setitem(sys.modules, "lm_eval", None)  # import lm_eval now raises ImportError
    figures = gpu_check.as_json(gpu_check.section_icl_lmeval(_State()))
    assert tuple(figures) == gpu_check.SECTIONS["icl_lmeval"]
    for key, fig in _figures(figures):
        assert fig["value"] is None and "lm-eval is not importable" in fig["reason"], key


def test_without_a_gpu_and_without_dry_run_every_section_says_why(gpu_check, monkeypatch, tmp_path):
    """On a machine where torch sees no GPU (the device given here is the CPU, whatever this machine
    has), the full check runs nothing, writes both files with the reason and exits 1."""
    cpu = gpu_check.pick_device("cpu")
    monkeypatch.setattr(gpu_check, "pick_device", lambda requested: cpu)
    monkeypatch.setattr(gpu_check, "seed_everything", lambda seed: None)  # no global torch state in this worker
    assert gpu_check.main(["--out", str(tmp_path)]) == 1
    report = json.loads((tmp_path / "gpu-check.json").read_text(encoding="utf-8"))
    assert report["dry_run"] is False and list(report["sections"]) == list(gpu_check.SECTIONS)
    assert all(s["status"] == "skipped" and "no CUDA device" in s["reason"] for s in report["sections"].values())
    assert "Not measured: torch sees no CUDA device" in (tmp_path / "gpu-validation.md").read_text(encoding="utf-8")
