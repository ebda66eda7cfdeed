"""Shared target phases through the Scheduler with the fake job (runner/shared.py, kind TARGET):
who saves the post-target model, who waits for it, who starts from it, and what happens when the
producer fails. The real job's side: tests/job/test_job_target_reuse.py and
test_runner_target_e2e.py."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from xcost_tui.rundir import RunDir, read_jsonl
from xcost_tui.rundir.layout import EVENTS

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_runner import make_sched, spec, store  # noqa: E402, F401 (store: the fixture)


def _reused(run_dir: Path) -> list[tuple[str, str | None]]:
    return [
        (e["phase"], e["reused_from"]["run_id"])
        for e in read_jsonl(run_dir / EVENTS)
        if e["type"] == "phase_end" and e.get("reused_from")
    ]


def test_few_shot_runs_start_from_the_direct_runs_post_target_model(store):
    fs4 = spec("fs4", seed=0, method="few-shot", few_shot_k=4)
    fs8 = spec("fs8", seed=0, method="few-shot", few_shot_k=8)
    direct = spec("direct slow", seed=0)
    sched = make_sched(store, max_parallel=3)
    lives = {r.run_id: r for r in sched.submit([fs4, fs8, direct])}
    assert lives[direct.run_id()].save_target and lives[direct.run_id()].status == "queued"
    for fs in (fs4, fs8):
        live = lives[fs.run_id()]
        assert live.status == "waiting" and live.waiting_target and live.waiting_for == direct.run_id()
    notes = [m.text for m in sched.drain_messages()]
    assert any(
        "shared target phase: direct slow saves its post-target model; fs4, fs8 start from it" in n for n in notes
    )
    sched.start()
    try:
        assert sched.wait(60)
    finally:
        sched.shutdown()
    ddir = store / "runs" / direct.run_id()
    saved = next(e for e in read_jsonl(ddir / EVENTS) if e["type"] == "checkpoint_saved")
    assert saved["kind"] == "target"
    for fs in (fs4, fs8):
        live = sched.get(fs.run_id())
        assert live.status == "succeeded", live.error
        cdir = store / "runs" / fs.run_id()
        assert RunDir(cdir).read_spec()["init_target_from"] == str(ddir / "checkpoints" / "target")
        env = json.loads((cdir / "fake_env.json").read_text())
        assert env["started"] >= saved["t"], "a consumer starts only once the post-target model is saved"
        assert _reused(cdir) == [("target:copa", direct.run_id()), ("eval:en", direct.run_id())]

    # a later plan with the same target phase starts from the saved model at once
    later = spec("later", seed=0, method="few-shot", few_shot_k=16)
    sched2 = make_sched(store)
    (live,) = sched2.submit([later])
    assert live.status == "queued" and live.init_target_from == str(ddir / "checkpoints" / "target")
    sched2.shutdown()


def test_a_target_producer_may_itself_start_from_a_shared_encoder(store):
    # inter2 and inter share the intermediate phase only (other languages: another target key);
    # inter and fs share the target phase, so fs leaves the intermediate wiring
    inter2 = spec("inter2", seed=1, method="intermediate", intermediate=["arc_challenge"], langs=["it", "qu"])
    inter = spec("inter", seed=1, method="intermediate", intermediate=["arc_challenge"])
    fs = spec("fs", seed=1, method="few-shot", intermediate=["arc_challenge"], few_shot_k=4)
    sched = make_sched(store, max_parallel=3)
    lives = {r.run_id: r for r in sched.submit([inter2, inter, fs])}
    assert lives[inter2.run_id()].save_encoder and not lives[inter2.run_id()].save_target
    i, f = lives[inter.run_id()], lives[fs.run_id()]
    assert i.save_target and i.status == "waiting" and i.waiting_for == inter2.run_id() and not i.waiting_target
    assert f.status == "waiting" and f.waiting_for == inter.run_id() and f.waiting_target
    sched.start()
    try:
        assert sched.wait(60)
    finally:
        sched.shutdown()
    for s in (inter2, inter, fs):
        assert sched.get(s.run_id()).status == "succeeded", sched.get(s.run_id()).error
    # inter reused inter2's intermediate phase; fs records it too, still pointing at inter2
    assert _reused(store / "runs" / inter.run_id()) == [("intermediate:arc_challenge", inter2.run_id())]
    assert _reused(store / "runs" / fs.run_id()) == [
        ("intermediate:arc_challenge", inter2.run_id()),
        ("target:copa", inter.run_id()),
        ("eval:en", inter.run_id()),
    ]


def test_consumers_train_their_own_target_phase_when_the_producer_fails(store):
    direct = spec("direct raise", seed=2)
    fs = spec("fs", seed=2, method="few-shot", few_shot_k=4)
    sched = make_sched(store)
    sched.submit([direct, fs])
    sched.start()
    try:
        assert sched.wait(60)
    finally:
        sched.shutdown()
    assert sched.get(direct.run_id()).status == "failed"
    c = sched.get(fs.run_id())
    assert c.status == "succeeded" and c.init_target_from is None and c.waiting_for is None
    assert RunDir(store / "runs" / fs.run_id()).read_spec()["init_target_from"] is None
    assert any("trains its own target phase" in m.text for m in sched.drain_messages())
    assert _reused(store / "runs" / fs.run_id()) == []
