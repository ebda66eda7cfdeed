"""Gradient accumulation is exact: micro-batches give the gradient of one big batch, every epoch
starts new groups, a short last group is divided by its own size, and the optimisation does not
depend on the micro-batch."""

from __future__ import annotations

import copy
import random

import pytest
import torch
from support.jobtiny import CPU, context, tiny
from torch import nn

from xcost_tui.job.batching import Encoded, collate
from xcost_tui.job.loops import (
    TrainTask,
    accumulate,
    choose_micro_batch,
    largest_fitting,
    micro_backward,
    plan_steps,
    score,
    split_micro,
    step_groups,
    train,
)
from xcost_tui.spec import FewShotHParams, HParams


def grads(model) -> dict[str, torch.Tensor]:
    return {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.grad is not None}


def test_micro_batches_sum_to_the_gradient_of_one_big_batch(data_dir):
    model, tok, data = tiny(data_dir, 6)
    model.eval()  # no dropout anywhere (the tiny config has none either)
    loss_fn = nn.CrossEntropyLoss()
    pad = tok.pad_token_id
    big = collate(data, "mc", pad)
    loss_big = accumulate(model, [big], loss_fn, CPU)
    g_big = grads(model)
    model.zero_grad(set_to_none=True)
    # unequal micro-batches: 4 + 2 (each padded to its own longest sequence)
    parts = [collate(data[:4], "mc", pad), collate(data[4:], "mc", pad)]
    loss_parts = accumulate(model, parts, loss_fn, CPU)
    g_parts = grads(model)
    assert set(g_big) == set(g_parts) and len(g_big) > 10
    # fp64: agreement to rounding, where a wrong division of a short micro-batch is off by tens of
    # percent (below)
    for name in g_big:
        torch.testing.assert_close(g_parts[name], g_big[name], rtol=1e-9, atol=1e-13, msg=name)
    assert float(loss_parts) == pytest.approx(float(loss_big), rel=1e-12)

    # what the old loop did: each micro-batch's mean divided by the number of micro-batches, as if
    # they were equal: a different gradient when they are not
    model.zero_grad(set_to_none=True)
    for b in parts:
        micro_backward(model, b, 1 / len(parts), loss_fn, CPU)
    g_old = grads(model)
    assert any(not torch.allclose(g_old[n], g_big[n], rtol=1e-6, atol=1e-9) for n in g_big)


def _fake(n: int) -> list[Encoded]:
    rng = random.Random(1)
    return [Encoded([[0] * rng.randint(5, 40), [0] * rng.randint(5, 40)], i % 2, i, "en") for i in range(n)]


def test_each_epoch_starts_new_groups_and_the_last_one_is_short():
    task = TrainTask("copa", "mc", _fake(400))
    hp = HParams(batch_size=32, epochs=5)
    assert plan_steps([task], hp) == (65, 5)  # 13 steps per epoch: 12 of 32 and one of 16
    rng = random.Random("0:target:copa")
    for _ in range(3):
        groups = step_groups([task], hp, rng)
        sizes = sorted((len(g) for _, g in groups), reverse=True)
        assert sizes == [32] * 12 + [16]
        assert sorted(i for _, g in groups for i in g) == list(range(400))  # every example once per epoch
    lengths = [e.length for e in task.data]
    short = next(g for _, g in groups if len(g) == 16)
    parts = split_micro(short, lengths, 8)
    assert [len(p) for p in parts] == [8, 8] and sorted(i for p in parts for i in p) == sorted(short)
    assert [len(p) / len(short) for p in parts] == [0.5, 0.5]  # the weights of the short group's halves
    assert [len(p) for p in split_micro(list(range(32)), lengths, 12)] == [12, 12, 8]


def test_the_groups_do_not_depend_on_the_micro_batch():
    task = TrainTask("copa", "mc", _fake(100))
    a = step_groups([task], HParams(batch_size=32, micro_batch_size=4), random.Random(3))
    b = step_groups([task], HParams(batch_size=32, micro_batch_size=32), random.Random(3))
    assert [g for _, g in a] == [g for _, g in b]


def test_training_is_the_same_whatever_the_micro_batch(data_dir, tmp_path):
    model0, tok, data = tiny(data_dir, 12)
    before = torch.tensor(score(context(tmp_path, model0, tok), model0, data, "mc", 12))
    after = {}
    for micro in (12, 5, 1):  # one pass; 5 + 5 + 2; one example per pass
        model = copy.deepcopy(model0)
        hp = HParams(
            learning_rate=1e-3, batch_size=12, micro_batch_size=micro, max_steps=3, warmup_ratio=0.0, weight_decay=0.0
        )
        ctx = context(tmp_path, model, tok)
        tally, facts = train(ctx, model, "target:copa", [TrainTask("copa", "mc", data)], hp, seed=0)
        assert facts["micro_batch_size"] == micro and facts["batch_size"] == 12 and facts["steps"] == 3
        assert facts["grad_accum"] == -(-12 // micro) and tally.examples == 36
        after[micro] = torch.tensor(score(ctx, model, data, "mc", 12))
    moved = float((after[12] - before).abs().max())
    assert moved > 0.01, "three steps at lr 1e-3 should move the scores"
    # The same optimisation: in fp64 the scores agree to rounding (AdamW divides by sqrt(v), which
    # would magnify any inexactness in parameters whose gradient is near 0).
    for micro in (5, 1):
        assert float((after[micro] - after[12]).abs().max()) < 1e-9 * moved, micro


def test_min_steps_gives_few_examples_enough_updates():
    four = TrainTask("xcopa", "mc", _fake(4))
    assert plan_steps([four], HParams(batch_size=4, epochs=10)) == (10, 10)
    assert plan_steps([four], FewShotHParams()) == (50, 50)  # k = 4: one step per epoch, at least 50 steps
    assert plan_steps([TrainTask("xcopa", "mc", _fake(64))], FewShotHParams()) == (160, 10)
    assert plan_steps([four], FewShotHParams(max_steps=5)) == (5, 5)  # max_steps wins


def test_the_micro_batch_is_chosen_for_throughput(tmp_path, data_dir, monkeypatch):
    model, tok, data = tiny(data_dir, 4)
    ctx = context(tmp_path, model, tok)
    tasks = [TrainTask("copa", "mc", data)]
    assert choose_micro_batch(ctx, model, tasks, HParams(batch_size=32)) == (8, "default")  # a CPU: 8
    assert choose_micro_batch(ctx, model, tasks, HParams(batch_size=4)) == (4, "default")
    assert choose_micro_batch(ctx, model, tasks, HParams(batch_size=32, micro_batch_size=64)) == (32, "set")
    assert choose_micro_batch(ctx, model, tasks, HParams(batch_size=8, grad_accum=1)) == (8, "set")
    # on a GPU: probed, the largest of batch, batch/2, ... that fits
    import dataclasses

    from xcost_tui.job import loops

    gpu = dataclasses.replace(ctx, device=dataclasses.replace(ctx.device, type="cuda"))
    tried = []
    monkeypatch.setattr(loops, "_fits", lambda c, m, t, micro: tried.append(micro) or micro <= 10)
    assert choose_micro_batch(gpu, model, tasks, HParams(batch_size=32)) == (8, "probed")
    assert tried == [32, 16, 8]
    assert choose_micro_batch(gpu, model, tasks, HParams(batch_size=32, micro_batch_size=4)) == (4, "set")
    assert largest_fitting(32, lambda m: m <= 12) == 8
    assert largest_fitting(32, lambda m: True) == 32
    assert largest_fitting(24, lambda m: m <= 6) == 6
    assert largest_fitting(32, lambda m: False) == 1
