"""``xcost-tui stage PLAN`` (the data pre-flight fills the Hugging Face cache; the manifest records
revisions) and the offline check: a job under HF_HUB_OFFLINE=1 fails at once, naming what is
missing and the stage command."""

from __future__ import annotations

import io
import json
import sys
import time
from pathlib import Path

import pytest
from support.hub_mirror import jsonl, siqa_rows, write_repo

from xcost_tui.commands.stage import stage_command
from xcost_tui.rundir import read_status
from xcost_tui.runner import Scheduler
from xcost_tui.runner.offline import MANIFEST, offline_problems
from xcost_tui.spec import RunSpec
from xcost_tui.tasks import HUB_MIRROR_ENV

REPO = Path(__file__).resolve().parents[2]

PLAN = """
[plan]
name = "stage-me"
[defaults]
model = "tiny-xlmr"
langs = ["th"]
[[experiment]]
method = "intermediate"
intermediate = ["siqa"]
"""


@pytest.fixture
def mirror(tmp_path, data_dir) -> Path:
    m = tmp_path / "hub"
    write_repo(m, "lighteval/siqa", {"default": {"train": siqa_rows(30), "validation": siqa_rows(6)}})
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


def spec(**kw) -> RunSpec:
    return RunSpec.from_dict(
        {"method": "intermediate", "model": "tiny-xlmr", "intermediate": ["siqa"], "langs": ["th"], **kw}
    )


def test_stage_records_every_split_and_then_offline_runs_find_them(mirror, tmp_path, monkeypatch):
    hf = tmp_path / "hf"
    monkeypatch.setenv(HUB_MIRROR_ENV, str(mirror))
    monkeypatch.setenv("HF_HOME", str(hf))
    monkeypatch.delenv("XCOST_DATA_DIR", raising=False)
    plan = tmp_path / "plan.toml"
    plan.write_text(PLAN)
    out = io.StringIO()
    assert stage_command(str(plan), out=out) == 0, out.getvalue()
    text = out.getvalue()
    assert "stage stage-me: 1 runs; Hugging Face cache" in text and "models: none from the hub" in text
    manifest = json.loads((hf / MANIFEST).read_text())
    staged = {(d["repo"], d["config"], d["hub_split"]) for d in manifest["datasets"]}
    assert {
        ("lighteval/siqa", None, "train"),
        ("cambridgeltl/xcopa", "th", "test"),
        ("aps/super_glue", "copa", "train"),
        ("aps/super_glue", "copa", "test"),
    } <= staged
    assert manifest["plans"]["stage-me"]["complete"] is True

    offline = {"HF_HUB_OFFLINE": "1", "HF_HOME": str(hf)}
    assert offline_problems(spec(), offline) is None, "everything it needs was staged"
    missing = offline_problems(spec(intermediate=["rte"], model="FacebookAI/xlm-roberta-base"), offline)
    assert missing.startswith(f"offline (HF_HUB_OFFLINE=1) and not in the Hugging Face cache {hf}: ")
    assert "data set rte (aps/super_glue, config rte, split train)" in missing
    assert "model FacebookAI/xlm-roberta-base" in missing and "run `xcost-tui stage PLAN`" in missing
    assert offline_problems(spec(intermediate=["rte"]), {"HF_HOME": str(hf)}) is None, "online: nothing to check"
    assert offline_problems(spec(intermediate=["rte"], data_dir=str(tmp_path)), offline) is None, "local copies"


def test_a_job_offline_with_something_not_staged_fails_at_once(tmp_path):
    store = tmp_path / "store"
    sched = Scheduler(
        store,
        job_command=lambda d: [sys.executable, str(REPO / "tests" / "support" / "fake_job.py"), str(d)],
        ingest=False,
        poll_s=0.05,
        gpus=0,
        env={"PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "empty-hf")},
    )
    s = spec(intermediate=["rte"])
    sched.submit([s])
    t0 = time.monotonic()
    sched.start()
    try:
        assert sched.wait(30)
    finally:
        sched.shutdown()
    run = sched.get(s.run_id())
    assert run.status == "failed" and "data set rte" in run.error and "xcost-tui stage" in run.error, run.error
    assert time.monotonic() - t0 < 30
    run_dir = store / "runs" / s.run_id()
    assert not (run_dir / "fake_env.json").exists(), "the job was never started"
    assert read_status(run_dir).error == run.error
