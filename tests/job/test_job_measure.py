"""What the job's loops count: no FlopCounterMode inside a timed loop (its check is untimed, once per
length bucket: job/warmup.py), non-pad FLOPs beside padded ones, and memory that belongs to the phase."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from support.jobtiny import context, tiny

from xcost_tui.job.batching import collate
from xcost_tui.job.loops import TrainTask, evaluate, forward_flops, forward_flops_nonpad, train
from xcost_tui.job.warmup import Warmer, seq_bucket
from xcost_tui.measure.flops import encoder_forward_flops, head_forward_flops
from xcost_tui.spec import HParams, MeasureOpts


@pytest.fixture(scope="module")
def small(data_dir):
    return tiny(data_dir, 40, dtype=torch.float32)


def measured(ctx):
    return dataclasses.replace(ctx, measure=MeasureOpts(enabled=True, flop_sample_steps=1))


def _counter_entries(monkeypatch) -> list:
    """Records every entry into torch's FlopCounterMode."""
    from torch.utils import flop_counter

    entered = []
    real = flop_counter.FlopCounterMode.__enter__

    def spy(self):
        entered.append(1)
        return real(self)

    monkeypatch.setattr(flop_counter.FlopCounterMode, "__enter__", spy)
    return entered


def test_no_timed_loop_runs_under_the_flop_counter(small, tmp_path, monkeypatch):
    """Issue 17: FlopCounterMode's per-op Python made a counted step 4-6x a plain one, inside the
    phase's time. The loops that run inside a meter never enter it now, measurement on or off."""
    model, tok, data = small
    ctx = measured(context(tmp_path, model, tok))
    entered = _counter_entries(monkeypatch)
    evaluate(ctx, model, data, "mc", 4)
    hp = HParams(batch_size=8, micro_batch_size=2, max_steps=4, warmup_ratio=0.0)
    _, facts = train(ctx, model, "target:copa", [TrainTask("copa", "mc", data)], hp, 0)
    assert entered == []
    assert "flops_sampled_at" not in facts and facts["deterministic_algorithms"] in (True, False)


def test_the_flop_check_counts_every_length_bucket_not_the_longest(small, tmp_path, monkeypatch):
    """Before, one counted batch (the longest, at first) stood for a phase, and attention grows with
    the length. The untimed check counts one pass per sequence bucket the phase uses: its ratio to
    the analytic count of those very passes is 1 (the formula is exact for the encoder)."""
    model, tok, data = small
    ctx = measured(context(tmp_path, model, tok))
    entered = _counter_entries(monkeypatch)
    warmer = Warmer(ctx, model)
    buckets = {seq_bucket(e.length) for e in data}
    check = warmer.eval("eval:en", data, "mc", 4)
    assert check.passes == len(entered) == len(buckets) > 1
    assert check.ratio == pytest.approx(1.0, abs=1e-9)
    again = warmer.eval("eval:it", data, "mc", 4)  # the same shapes: the checks are reused, no new pass
    assert len(entered) == len(buckets) and again.passes == check.passes and again.ratio == check.ratio
    hp = HParams(batch_size=8, micro_batch_size=2, max_steps=4, warmup_ratio=0.0)
    micro, train_check = warmer.train("target:copa", [TrainTask("copa", "mc", data)], hp)
    assert micro == (2, "set") and train_check.passes == len(buckets)
    assert train_check.ratio == pytest.approx(1.0, abs=1e-9)


def test_non_pad_flops_beside_padded_flops(small, tmp_path):
    model, tok, data = small
    ctx = context(tmp_path, model, tok)
    batch = collate(data[:6], "mc", tok.pad_token_id)
    lengths = [len(s) for ex in batch.examples for s in ex.seqs]
    assert len(set(lengths)) > 1, "the batch has padding"
    expected = sum(encoder_forward_flops(ctx.dims, 1, n) for n in lengths) + head_forward_flops(
        ctx.dims.hidden, len(lengths), 1
    )
    assert forward_flops_nonpad(ctx, batch) == expected < forward_flops(ctx, batch)
    tally, _ = evaluate(ctx, model, data, "mc", 8)
    assert 0 < tally.flops_nonpad < tally.flops_analytic
    hp = HParams(batch_size=8, micro_batch_size=8, max_steps=2, warmup_ratio=0.0)
    t, _ = train(ctx, model, "target:copa", [TrainTask("copa", "mc", data)], hp, 0)
    assert 0 < t.flops_nonpad < t.flops_analytic
    assert t.flops_nonpad % 3 == 0 and t.flops_analytic % 3 == 0  # a training step is 3 x forward in both counts
