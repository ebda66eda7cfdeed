"""translate-test's measurement (issue 17): no FlopCounterMode inside a timed window; the first batch
of each translate:<lang> translated untimed, plain and counted, before its meter (a warmup event);
flops_measured from that check; the inference bench's FLOPs (translation and classification) and
MFU; the MT model's useful-work FLOPs."""

from __future__ import annotations

import pytest
from support.injob import ends, run_in_process, warmup_before, watch


@pytest.fixture(scope="module")
def tt_run(tmp_path_factory, data_dir):
    spec = {
        "method": "translate-test",
        "model": "tiny-xlmr",
        "translations": "tiny-marian",
        "mt_max_new_tokens": 4,
        "langs": ["it"],
        "data_dir": str(data_dir),
        "max_eval_examples": 6,
        "eval_batch_size": 4,
        "hparams": {"max_steps": 1, "batch_size": 8, "max_examples": 16, "max_seq_len": 48},
        "measure": {"inference_bench_examples": 2, "inference_warmup": 1, "curve_points": 0},
    }
    mp = pytest.MonkeyPatch()
    try:
        w = watch(mp)
        events = run_in_process(tmp_path_factory.mktemp("tt") / "run", spec)
    finally:
        mp.undo()
    return events, w


def test_no_flop_counting_inside_a_timed_window(tt_run):
    """Before, a sampled batch of each translate phase was generated under FlopCounterMode inside
    its meter."""
    _, w = tt_run
    assert w.counted_timed == 0 and w.counted_untimed >= 1


def test_the_translate_phase_is_warmed_and_checked_untimed(tt_run):
    events, _ = tt_run
    warm = warmup_before(events, "translate:it")
    assert warm["seconds"] > 0 and warm["info"]["mt_model"] == "tiny-marian"
    assert [s["mode"] for s in warm["shapes"]] == ["generate"] and warm["shapes"][0]["rows"] == 4
    check = warm["flop_check"]
    assert check["passes"] == 1 and check["counted"] == check["analytic"] > 0
    costs = ends(events)["translate:it"]["costs"]
    measured = costs["flops_measured"]
    assert measured["untimed"] is True and measured["ratio"] == pytest.approx(1.0)
    assert measured["value"] == costs["flops_analytic"]["value"]
    assert 0 < costs["flops_analytic_nonpad"]["value"] <= costs["flops_analytic"]["value"]


def test_the_bench_counts_translation_and_classification_flops(tt_run):
    events, _ = tt_run
    bench = ends(events)["inference-bench"]["costs"]
    flops = bench["flops_analytic"]
    assert flops["value"] == flops["latency"] + flops["throughput"] > 0
    assert flops["latency"] == pytest.approx(2 * bench["query_flops"]["value"])  # two timed calls
    assert bench["flops_analytic_nonpad"]["value"] <= flops["value"]
    assert bench["mfu"]["value"] is None and bench["mfu"]["reason"] == "no peak FLOP/s table for CPUs"
