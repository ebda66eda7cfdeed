"""Bad inputs: each a clear error, a non-zero exit, and a `failed` status in the run directory."""

from __future__ import annotations

import json
import os
import shutil

from support.jobutil import run_cli, run_job, status

from xcost_tui.rundir import RunStatus, read_jsonl, read_status
from xcost_tui.rundir.layout import EVENTS


def assert_failed(proc, run_dir, *needles):
    assert proc.returncode != 0
    text = proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    for needle in needles:
        assert needle in text, f"{needle!r} not in:\n{text[-2000:]}"
    assert status(run_dir) == RunStatus.FAILED
    st = read_status(run_dir)
    assert st.error
    for needle in needles:
        assert needle in st.error


def test_unknown_task(tmp_path, data_dir):
    proc = run_job(tmp_path / "r", data_dir, "--method", "intermediate", "--intermediate", "arc_chalenge")
    assert_failed(proc, tmp_path / "r", "arc_chalenge", "arc_challenge")


def test_unknown_model_path(tmp_path, data_dir):
    proc = run_job(tmp_path / "r", data_dir, "--method", "direct", "--langs", "it", "--model", str(tmp_path / "nope"))
    # run_job puts --model tiny-xlmr first; the later flag wins in argparse.
    assert_failed(proc, tmp_path / "r", "nope")


def test_malformed_jsonl_row(tmp_path, data_dir):
    broken = tmp_path / "data"
    shutil.copytree(data_dir / "copa", broken / "copa")
    os.symlink(data_dir / "xcopa", broken / "xcopa")
    lines = (broken / "copa" / "train.jsonl").read_text().splitlines()
    lines[6] = '{"premise": "The man fell.", "choice1": "x"'  # cut short
    (broken / "copa" / "train.jsonl").write_text("\n".join(lines) + "\n")
    proc = run_job(tmp_path / "r", broken, "--method", "direct", "--langs", "it")
    assert_failed(proc, tmp_path / "r", "train.jsonl", "7")
    # Nothing was trained: the error came before the first phase.
    evs = read_jsonl(tmp_path / "r" / EVENTS)
    assert not [e for e in evs if e["type"] == "phase_start"]


def test_k_larger_than_validation_split(tmp_path, data_dir):
    proc = run_job(tmp_path / "r", data_dir, "--method", "few-shot", "--shots", "101", "--langs", "it")
    assert_failed(proc, tmp_path / "r", "few_shot_k=101", "100")


def test_spec_missing_a_field(tmp_path):
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"model": "tiny-xlmr", "langs": ["it"]}))
    proc = run_cli(["run", "--method", "direct", "--spec", str(spec), "--out", str(tmp_path / "r")])
    assert_failed(proc, tmp_path / "r", "method")


def test_job_rejects_a_bad_spec_file_directly(tmp_path):
    """The job process validates too: a hand-written spec.json with a typo'd key fails cleanly."""
    run_dir = tmp_path / "r"
    run_dir.mkdir()
    (run_dir / "spec.json").write_text(json.dumps({"method": "direct", "model": "tiny-xlmr", "lang": ["it"]}))
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "xcost_tui.job", str(run_dir)], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "'lang'" in proc.stderr and "langs" in proc.stderr
    assert status(run_dir) == RunStatus.FAILED
    assert read_jsonl(run_dir / EVENTS)[-1]["type"] == "run_end"
