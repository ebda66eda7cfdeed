"""icl's measurement (issue 17): no FlopCounterMode inside a timed window; an untimed warm-up and
FLOP check of each phase's first batch before its meter (a warmup event, in no phase); the scorer's
useful-work FLOPs; the inference bench's FLOPs and MFU."""

from __future__ import annotations

import pytest
import torch
from support.injob import ends, run_in_process, warmup_before, watch

from xcost_tui.job.causal import build_tiny_gpt2, train_tiny_gpt2_tokenizer
from xcost_tui.job.data import few_shot_sample
from xcost_tui.job.icl import CausalScorer, ScoreStats, encode_prompts
from xcost_tui.job.warmup import OFF
from xcost_tui.measure.flops import DecoderDims, decoder_forward_flops
from xcost_tui.tasks import load_examples
from xcost_tui.tasks.prompts import build_prompt


def icl_spec(data_dir, **measure) -> dict:
    return {
        "method": "icl",
        "model": "tiny-gpt2",
        "few_shot_k": 2,
        "langs": ["it"],
        "data_dir": str(data_dir),
        "max_eval_examples": 10,
        "eval_batch_size": 4,
        "hparams": {"max_examples": 48},
        "measure": {"inference_bench_examples": 3, "inference_warmup": 1, **measure},
    }


@pytest.fixture(scope="module")
def icl_run(tmp_path_factory, data_dir):
    mp = pytest.MonkeyPatch()
    try:
        w = watch(mp)
        events = run_in_process(tmp_path_factory.mktemp("icl") / "run", icl_spec(data_dir))
    finally:
        mp.undo()
    return events, w


def test_no_flop_counting_inside_a_timed_window(icl_run):
    """Before, a few batches of every eval phase ran under FlopCounterMode inside its meter (a
    counted pass costs several plain ones: short phases read slow)."""
    _, w = icl_run
    assert w.counted_timed == 0
    assert w.counted_untimed >= 1


def test_each_eval_phase_is_warmed_and_checked_untimed(icl_run):
    events, _ = icl_run
    costs = ends(events)
    for phase in ("eval:en", "eval:it"):
        warm = warmup_before(events, phase)
        assert warm["seconds"] > 0 and warm["info"]["enabled"] and warm["info"]["batch_size"] == 4
        check = warm["flop_check"]
        assert check["passes"] >= 1 and check["ratio"] == pytest.approx(1.0) and check["counted"] == check["analytic"]
        measured, analytic = costs[phase]["costs"]["flops_measured"], costs[phase]["costs"]["flops_analytic"]
        assert measured["source"] == "flop_counter" and measured["untimed"] is True
        assert measured["ratio"] == pytest.approx(1.0) and measured["value"] == analytic["value"]
    # a new shape is warmed (its first batch: 4 rows), and it is recorded
    shapes = warmup_before(events, "eval:en")["shapes"]
    assert shapes and shapes[0]["mode"] == "score" and shapes[0]["rows"] == 4


def test_the_warm_up_is_not_in_the_phase(icl_run):
    """The warm-up's seconds lie between the previous phase's end and this phase's start."""
    events, _ = icl_run
    warm = warmup_before(events, "eval:it")
    start = next(e for e in events if e["type"] == "phase_start" and e["phase"] == "eval:it")
    end_en = ends(events)["eval:en"]
    assert end_en["t"] <= warm["t"] <= start["t"]


def test_icl_phases_have_useful_work_flops_and_the_bench_its_flops(icl_run):
    events, _ = icl_run
    costs = ends(events)
    ev = costs["eval:it"]["costs"]
    assert 0 < ev["flops_analytic_nonpad"]["value"] <= ev["flops_analytic"]["value"]
    bench = costs["inference-bench"]["costs"]
    flops = bench["flops_analytic"]
    assert flops["source"] == "analytic" and flops["value"] == flops["latency"] + flops["throughput"]
    # three timed batch-1 calls, each the query scored alone
    assert flops["latency"] == pytest.approx(3 * bench["query_flops"]["value"])
    assert bench["mfu"]["value"] is None and bench["mfu"]["reason"] == "no peak FLOP/s table for CPUs"


def test_warm_up_off_counts_nothing(tmp_path, data_dir, monkeypatch):
    w = watch(monkeypatch)
    spec = icl_spec(data_dir, warmup=False)
    events = run_in_process(tmp_path / "run", spec)
    assert w.counted_timed == 0 and w.counted_untimed == 0
    warm = warmup_before(events, "eval:en")
    assert warm["info"]["enabled"] is False and warm["shapes"] == []
    measured = ends(events)["eval:en"]["costs"]["flops_measured"]
    assert measured["value"] is None and measured["reason"] == OFF


# ---- the scorer's useful work ------------------------------------------------------------------


@pytest.fixture(scope="module")
def lm(data_dir):
    pool = load_examples("xcopa", "validation", data_dir=data_dir, lang="it")
    tok = train_tiny_gpt2_tokenizer([t for e in pool for t in (e.context, *e.choices)], 500)
    model = build_tiny_gpt2(tok, {"hidden_size": 32, "intermediate_size": 64}, seed=0).eval()
    items = load_examples("xcopa", "test", data_dir=data_dir, lang="it", limit=7)
    shots = [pool[j] for j in few_shot_sample(pool, 2, 0, "it")]
    queries = encode_prompts(tok, [build_prompt(e, "it", shots) for e in items], "it")
    return tok, model, queries


def alone_nonpad(dims: DecoderDims, q) -> int:
    """An independent reference: the query scored alone with nothing padded: its context in one pass
    (one logit), then each choice's tokens but the last over the context's keys."""
    c = len(q.context)
    flops = decoder_forward_flops(dims, 1, c, c, 1)
    for cont in q.continuations:
        m = len(cont) - 1
        flops += decoder_forward_flops(dims, 1, m, c + m, m)
    return flops


def test_useful_work_does_not_depend_on_batching(lm):
    """The non-pad FLOPs count each row at its own length: the same for every batch size; without a
    shared prefix, the sum of the queries scored alone; never more than the padded count."""
    tok, model, queries = lm
    dims = DecoderDims.from_hf_config(model.config)
    scorer = CausalScorer(model, dims, tok.pad_token_id, torch.device("cpu"))
    reference = sum(alone_nonpad(dims, q) for q in queries)
    for bs in (1, 3, 7):
        st = ScoreStats()
        scorer.score(queries, bs, share_prefix=False, stats=st)
        assert st.flops_nonpad == reference and st.flops_nonpad <= st.flops
    shared = {bs: ScoreStats() for bs in (2, 7)}
    for bs, st in shared.items():
        scorer.score(queries, bs, stats=st)
    assert shared[2].flops_nonpad == shared[7].flops_nonpad < reference  # the demonstrations once


def test_a_limited_pass_scores_the_first_batch_as_the_phase_does(lm):
    tok, model, queries = lm
    scorer = CausalScorer(model, DecoderDims.from_hf_config(model.config), tok.pad_token_id, torch.device("cpu"))
    full, first = ScoreStats(), ScoreStats()
    all_lls = scorer.score(queries, 3, stats=full)
    some = scorer.score(queries, 3, stats=first, batches=1)
    done = scorer.order(queries)[:3]
    assert first.batches == 1 and first.prefix_tokens == full.prefix_tokens
    assert [i for i, ll in enumerate(some) if ll is not None] == sorted(done)
    for i in done:
        assert some[i] == pytest.approx(all_lls[i])
