"""Shared intermediate phases as pure decisions (runner/shared.py): queue entries in, wiring out."""

from __future__ import annotations

import json
from pathlib import Path

from xcost_tui.rundir import RunStatus
from xcost_tui.runner.shared import Entry, Producer, checkpoint_of, release, saved_encoders, wire

Q, W, R = RunStatus.QUEUED, RunStatus.WAITING, RunStatus.RUNNING


def e(run_id: str, key: str | None = "k1", status: RunStatus = Q, **kw) -> Entry:
    return Entry(run_id, run_id.upper(), key, status, **kw)


def test_a_group_gets_a_producer_and_waiting_consumers():
    w = wire([e("a"), e("b"), e("c"), e("solo", key="k2"), e("plain", key=None)], {})
    assert w.producers == ["a"]
    assert w.waiting == {"b": "a", "c": "a"}
    assert w.init_from == {}
    assert w.notes == ["shared intermediate phase: A saves its encoder; B, C start from it"]


def test_a_single_run_is_left_alone():
    w = wire([e("a"), e("x", key="k2")], {})
    assert (w.producers, w.waiting, w.notes) == ([], {}, [])


def test_a_running_producer_is_joined():
    w = wire([e("p", status=R, saves=True), e("b")], {})
    assert w.producers == [] and w.waiting == {"b": "p"}


def test_a_finished_producer_is_not_waited_for():
    w = wire([e("p", status=RunStatus.FAILED, saves=True), e("b")], {})
    assert w.waiting == {}


def test_a_saved_encoder_is_used_at_once():
    w = wire([e("a"), e("b")], {"k1": Path("/s/runs/old/checkpoints/intermediate")})
    assert w.init_from == {"a": "/s/runs/old/checkpoints/intermediate", "b": "/s/runs/old/checkpoints/intermediate"}
    assert w.producers == [] and w.waiting == {}


def test_already_waiting_runs_are_not_rewired():
    w = wire([e("p", status=R, saves=True), e("b", status=W, waiting_for="p"), e("c")], {})
    assert w.waiting == {"c": "p"}


def test_release_with_the_checkpoint_or_without_it():
    waiting = [
        e("b", status=W, waiting_for="p"),
        e("c", status=W, waiting_for="q"),
        e("d", status=W, waiting_for="r"),
        e("f", status=W, waiting_for="gone"),
        e("g", status=W, waiting_for="s"),
    ]
    producers = {
        "p": Producer(R, Path("/ckpt")),
        "q": Producer(RunStatus.CANCELLED, None),
        "r": Producer(RunStatus.SUCCEEDED, None),
        "s": Producer(R, None),
    }
    got = {r.run_id: r for r in release(waiting, producers)}
    assert got["b"].init_from == "/ckpt" and got["b"].note is None
    assert got["c"].init_from is None and "q was cancelled" in got["c"].note
    assert "r saved no encoder" in got["d"].note
    assert "gone failed" in got["f"].note and "trains its own intermediate phase" in got["f"].note
    assert "g" not in got, "its producer is still running without a checkpoint: it keeps waiting"


def test_checkpoint_and_saved_encoders_on_disk(tmp_path):
    runs = tmp_path / "runs"
    ckpt = runs / "p" / "checkpoints" / "intermediate"
    assert checkpoint_of(runs / "p", saw_checkpoint=True, succeeded=False) is None, "phase.json not written yet"
    ckpt.mkdir(parents=True)
    (ckpt / "phase.json").write_text(json.dumps({"key": {"b": 1, "a": 2}}))
    assert checkpoint_of(runs / "p", saw_checkpoint=False, succeeded=False) is None, "not announced yet"
    assert checkpoint_of(runs / "p", saw_checkpoint=True, succeeded=False) == ckpt
    assert checkpoint_of(runs / "p", saw_checkpoint=False, succeeded=True) == ckpt
    bad = runs / "bad" / "checkpoints" / "intermediate"
    bad.mkdir(parents=True)
    (bad / "phase.json").write_text("[1,2]")
    assert saved_encoders(runs) == {json.dumps({"a": 2, "b": 1}, sort_keys=True): ckpt}
    assert saved_encoders(runs, exclude=["p"]) == {}
    assert saved_encoders(tmp_path / "nowhere") == {}
