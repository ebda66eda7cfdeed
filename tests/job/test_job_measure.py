"""What the job's loops count: the FLOP-counted steps are drawn at random (not the longest batch),
non-pad FLOPs beside padded ones, and memory that belongs to the phase."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from support.jobtiny import context, tiny

from xcost_tui.job import loops
from xcost_tui.job.batching import collate, sorted_batches
from xcost_tui.job.loops import TrainTask, evaluate, forward_flops, forward_flops_nonpad, train
from xcost_tui.measure.flops import encoder_forward_flops, head_forward_flops
from xcost_tui.spec import HParams, MeasureOpts


@pytest.fixture(scope="module")
def small(data_dir):
    return tiny(data_dir, 40, dtype=torch.float32)


def measured(ctx):
    return dataclasses.replace(ctx, measure=MeasureOpts(enabled=True, flop_sample_steps=1))


def _counted_batches(monkeypatch) -> list:
    """Records the padded length of every batch run under FlopCounterMode."""
    seen = []
    real = loops.count_flops

    def spy(fn, *args, **kwargs):
        batch = args[1] if args and hasattr(args[0], "parameters") else getattr(fn, "__defaults__", (None,))[0]
        seen.append(batch.seq_len if batch is not None else None)
        return real(fn, *args, **kwargs)

    monkeypatch.setattr(loops, "count_flops", spy)
    return seen


def test_evaluation_counts_a_random_batch_not_the_longest(small, tmp_path, monkeypatch):
    """Evaluation batches run longest first; before, the one counted batch was always the first,
    the longest, so flops_measured overstated attention. Now the batch is a seeded random draw."""
    model, tok, data = small
    ctx = measured(context(tmp_path, model, tok))
    seen = _counted_batches(monkeypatch)
    longest = max(e.length for e in data)
    firsts = []
    for seed in range(12):
        seen.clear()
        tally, _ = evaluate(ctx, model, data, "mc", 4, seed=f"t{seed}")
        assert tally.sampler.sampled == 1 and len(seen) == 1
        (step,) = tally.sampler.steps
        firsts.append(step)
    assert len(set(firsts)) > 2, firsts
    assert any(s != 1 for s in firsts)
    # the default seed (from the examples' ids) is reproducible
    a, _ = evaluate(ctx, model, data, "mc", 4)
    b, _ = evaluate(ctx, model, data, "mc", 4)
    assert a.sampler.steps == b.sampler.steps
    # batch 1 is the longest: the one the old sampler always counted
    assert longest == collate([data[i] for i in sorted_batches([e.length for e in data], 4)[0]], "mc", 0).seq_len


def test_training_counts_a_random_micro_batch_of_a_random_step(small, tmp_path):
    """A step's micro-batches run longest first; before, the counted micro-batch index was spread
    evenly from 1, which with a fixed number of micro-batches per step is always a step's first (longest)."""
    model, tok, data = small
    ctx = measured(context(tmp_path, model, tok))
    hp = HParams(batch_size=8, micro_batch_size=2, max_steps=4, warmup_ratio=0.0)
    picked = set()
    for seed in range(8):
        tally, facts = train(ctx, model, "target:copa", [TrainTask("copa", "mc", data)], hp, seed)
        assert tally.sampler.sampled == 1 and len(tally.sampled_micro) == 1
        assert facts["flops_sampled_at"] == [list(x) for x in tally.sampled_micro]
        picked.add(tally.sampled_micro[0])
    steps = {s for s, _ in picked}
    micros = {m for _, m in picked}
    assert all(1 <= s <= 4 for s in steps) and all(0 <= m < 4 for m in micros)
    assert len(micros) > 1 and micros != {0}, picked


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
