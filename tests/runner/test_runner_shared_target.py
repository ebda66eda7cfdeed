"""Shared target phases as pure decisions (runner/shared.py, kind TARGET): queue entries in,
wiring out; the same logic as shared intermediate phases (test_runner_shared.py)."""

from __future__ import annotations

import json
from pathlib import Path

from xcost_tui.plan import target_key_str
from xcost_tui.rundir import RunStatus
from xcost_tui.runner.shared import (
    INTERMEDIATE,
    TARGET,
    Entry,
    Producer,
    RemoteProducer,
    checkpoint_of,
    release,
    release_remote,
    saved_checkpoints,
    wire,
)
from xcost_tui.spec import RunSpec

Q, W, R = RunStatus.QUEUED, RunStatus.WAITING, RunStatus.RUNNING


def e(run_id: str, key: str | None = "t1", status: RunStatus = Q, **kw) -> Entry:
    return Entry(run_id, run_id.upper(), key, status, **kw)


def spec(**kw) -> RunSpec:
    return RunSpec.from_dict({"model": "tiny-xlmr", "langs": ["it"], "seed": 0, **kw})


def test_the_direct_run_produces_for_the_few_shot_runs_of_its_seed():
    w = wire([e("fs4"), e("fs8"), e("direct", first=True), e("other", key="t2")], {}, TARGET)
    assert w.producers == ["direct"]
    assert w.waiting == {"fs4": "direct", "fs8": "direct"}
    assert w.notes == ["shared target phase: DIRECT saves its post-target model; FS4, FS8 start from it"]


def test_without_a_direct_run_the_first_run_produces():
    w = wire([e("fs4"), e("fs8")], {}, TARGET)
    assert w.producers == ["fs4"] and w.waiting == {"fs8": "fs4"}


def test_a_target_producer_waiting_for_an_encoder_is_still_joined():
    # it waits for another run's encoder (an intermediate wait), not for a post-target model
    w = wire([e("inter", status=W, saves=True, first=True), e("fs")], {}, TARGET)
    assert w.producers == [] and w.waiting == {"fs": "inter"}


def test_a_saved_post_target_model_is_used_at_once():
    ckpt = Path("/s/runs/old/checkpoints/target")
    w = wire([e("fs4"), e("fs8")], {"t1": ckpt}, TARGET)
    assert w.init_from == {"fs4": str(ckpt), "fs8": str(ckpt)}
    assert w.notes == [f"2 run(s) start from the saved post-target model {ckpt}"]


def test_release_says_which_phase_a_consumer_trains_itself():
    waiting = [e("b", status=W, waiting_for="p"), e("c", status=W, waiting_for="q")]
    producers = {"p": Producer(R, Path("/ckpt")), "q": Producer(RunStatus.SUCCEEDED, None)}
    got = {r.run_id: r for r in release(waiting, producers, TARGET)}
    assert got["b"].init_from == "/ckpt"
    assert got["c"].init_from is None
    assert "q saved no post-target model; this run trains its own target phase" in (got["c"].note or "")


def test_on_slurm_a_consumer_goes_with_afterok_or_fails_with_the_reason():
    ckpt = Path("/s/runs/p/checkpoints/target")
    waiting = [e("b", status=W, waiting_for="p")]
    out = release_remote(waiting, {"p": RemoteProducer("p", R, "77", ckpt, False)}, TARGET)
    assert [(r.init_from, r.depends_on) for r in out] == [(str(ckpt), "77")]
    (failed,) = release_remote(waiting, {"p": RemoteProducer("prod", RunStatus.FAILED, "77", ckpt, False)}, TARGET)
    assert failed.error and "post-target model of prod, which failed" in failed.error


def test_checkpoints_of_each_kind_on_disk(tmp_path):
    runs = tmp_path / "runs"
    target = runs / "p" / "checkpoints" / "target"
    target.mkdir(parents=True)
    (target / "phase.json").write_text(json.dumps({"kind": "target", "key": {"b": 1, "a": 2}}))
    assert checkpoint_of(runs / "p", saw_checkpoint=True, succeeded=False, kind=TARGET) == target
    assert checkpoint_of(runs / "p", saw_checkpoint=True, succeeded=False, kind=INTERMEDIATE) is None
    assert saved_checkpoints(runs, kind=TARGET) == {json.dumps({"a": 2, "b": 1}, sort_keys=True): target}
    assert saved_checkpoints(runs, kind=INTERMEDIATE) == {}


def test_the_keys_of_the_two_kinds():
    direct, fs = spec(method="direct"), spec(method="few-shot", few_shot_k=4)
    assert TARGET.key_of(direct) == TARGET.key_of(fs) == target_key_str(direct)
    assert TARGET.key_of(spec(method="few-shot", few_shot_k=4, seed=1)) != TARGET.key_of(fs)
    assert TARGET.key_of(spec(method="icl", model="hf-internal-testing/tiny-random-gpt2", few_shot_k=0)) is None
    inter = spec(method="few-shot", few_shot_k=4, intermediate=["siqa"])
    assert INTERMEDIATE.key_of(inter) is not None
    inter.init_target_from = "/s/runs/p/checkpoints/target"
    assert INTERMEDIATE.key_of(inter) is None, "a run from a post-target model trains no intermediate phase"
    assert TARGET.key_of(inter) is None
