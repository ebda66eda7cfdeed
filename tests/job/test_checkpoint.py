"""Resume checkpoints of a training phase (issue 20, item 12), in-process: a phase stopped by a
signal after a checkpoint and continued from it ends with the same weights and the same loss of
every step, bit for bit on a CPU, as the phase trained without a stop; mixed tasks, several
epochs, micro-batches and dropout included. The work a killed attempt lost is read from its
events."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch
from support.jobtiny import context, tiny

from xcost_tui.job.loops import Cancelled, TrainTask, train
from xcost_tui.job.resume import Checkpointer, Restored
from xcost_tui.measure.timer import PhaseMeter
from xcost_tui.rundir import read_jsonl
from xcost_tui.rundir import resume as points
from xcost_tui.spec import HParams

# two tasks mixed (their groups interleaved), 3 epochs of 5 steps, micro-batches of 3 (accumulation)
HP = HParams(batch_size=8, micro_batch_size=3, epochs=3, learning_rate=1e-3, warmup_ratio=0.2, max_seq_len=64)


def _tasks(data):
    return [TrainTask("copa", "mc", data[:24]), TrainTask("other", "mc", data[24:])]


def _train(tmp_path, data_dir, *, stop_after: int | None = None, every: int | None = None, restored=None):
    model, tokenizer, data = tiny(data_dir, n=40, dropout=0.1, dtype=torch.float32)
    ctx = context(tmp_path, model, tokenizer)
    meter = PhaseMeter("cpu", enabled_memory=False)
    ckpt = None
    if every is not None or restored is not None:
        ckpt = Checkpointer(
            tmp_path, "intermediate:x", ctx.events, meter, ctx.log, every_steps=every, restored=restored
        )
        if restored is not None:
            restored.restore_model(model)

    def on_step(step, total, tally):
        if stop_after is not None and step == stop_after:
            ctx.cancel.set()  # the signal: the phase stops inside the next step
        return 0.0

    torch.manual_seed(7)
    with meter:
        tally, facts = train(ctx, model, "intermediate:x", _tasks(data), HP, 11, on_step=on_step, checkpoint=ckpt)
    return model, tally, facts


def test_a_phase_stopped_by_a_signal_resumes_with_identical_results(tmp_path, data_dir):
    whole_model, whole, whole_facts = _train(tmp_path / "whole", data_dir)
    assert whole.steps == 15 and whole_facts["grad_accum"] == 3

    run = tmp_path / "run"
    with pytest.raises(Cancelled):
        _train(run, data_dir, every=3, stop_after=6)  # checkpoints at steps 3 and 6, the signal in step 7
    saved = [e for e in read_jsonl(run / "events.jsonl") if e["type"] == "checkpoint_saved"]
    assert [e["step"] for e in saved] == [3, 6]  # the signal found step 6 saved: its record says what was lost
    point = points.latest(run)
    assert point is not None and point.step == 6
    assert point.meta["interrupted"]["lost_flops"] == 0  # it came before step 7's first micro-batch
    assert len(list((run / "checkpoints" / "resume").iterdir())) == 1  # the previous one deleted

    restored = Restored.load(point)
    model, tally, facts = _train(run, data_dir, every=3, restored=restored)
    assert tally.step_losses == whole.step_losses
    assert dataclasses.astuple(tally)[:6] == dataclasses.astuple(whole)[:6]  # examples, steps, tokens, FLOPs
    assert facts["epochs"] == whole_facts["epochs"] and facts["micro_batches"] == whole_facts["micro_batches"]
    for (name, a), (_, b) in zip(model.state_dict().items(), whole_model.state_dict().items()):
        assert torch.equal(a, b), name


def test_the_work_a_killed_attempt_lost_is_read_from_its_events(tmp_path):
    """SIGKILL leaves no record of its own: the time from the checkpoint to the attempt's last
    event (not the run_end a supervisor writes later), the steps its last progress reached."""
    from xcost_tui.rundir import Progress, RunEnd, RunStart
    from xcost_tui.rundir.events import PhaseStart

    point_dir = tmp_path / "checkpoints" / "resume" / "1"
    point_dir.mkdir(parents=True)
    (point_dir / "state.pt").write_bytes(b"")
    (point_dir / "resume.json").write_text(json.dumps({"phase": "intermediate:x", "step": 3, "t": 100.0}))
    lines = [
        RunStart("r", {}, {}, [], t=90.0),
        PhaseStart("intermediate:x", "intermediate", 10, t=95.0),
        Progress("intermediate:x", 2, 10, t=99.0),
        Progress("intermediate:x", 5, 10, t=104.5),
        RunEnd("failed", "killed", t=500.0),  # the supervisor's, when it noticed
        RunStart("r", {}, {}, [], t=600.0),  # the re-launch
        Progress("intermediate:x", 9, 10, t=700.0),
    ]
    rows = [{**e.to_dict(), "t": e.t} for e in lines]
    (tmp_path / "events.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    point = points.latest(tmp_path)
    assert point is not None
    lost = points.lost_work(tmp_path, point)
    assert (lost.seconds, lost.steps, lost.flops, lost.source) == (4.5, 2, None, "events")
