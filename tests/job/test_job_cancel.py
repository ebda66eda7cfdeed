"""SIGTERM cancels a run cleanly: status `cancelled`, a run_end event, every line whole."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from xcost_tui.rundir import RunStatus, read_jsonl, read_status
from xcost_tui.rundir.layout import EVENTS


def test_sigterm_cancels(tmp_path, data_dir):
    run_dir = tmp_path / "r"
    run_dir.mkdir()
    spec = {
        "method": "direct",
        "model": "tiny-xlmr",
        "langs": ["it"],
        "data_dir": str(data_dir),
        "hparams": {"epochs": 50, "batch_size": 8, "grad_accum": 1, "max_seq_len": 64},
    }
    (run_dir / "spec.json").write_text(json.dumps(spec))
    proc = subprocess.Popen(
        [sys.executable, "-m", "xcost_tui.job", str(run_dir)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.time() + 120
    while time.time() < deadline:
        evs = read_jsonl(run_dir / EVENTS)
        if any(e["type"] == "progress" for e in evs):
            break
        time.sleep(0.2)
    else:
        proc.kill()
        raise AssertionError("the job never reported progress")
    os.kill(proc.pid, signal.SIGTERM)
    assert proc.wait(timeout=60) == 143
    assert read_status(run_dir).status == RunStatus.CANCELLED
    assert read_status(run_dir).phase == "target:copa"
    lines = (run_dir / EVENTS).read_text().splitlines()
    for line in lines:
        json.loads(line)  # no half-written line
    assert json.loads(lines[-1])["type"] == "run_end"
