"""icl and translate-test end to end on CPU: the built-in plan demo-methods (demo-sized runs: tiny
GPT-2, tiny encoder, tiny MT model) through the runner and the real job into DuckDB; the per-query cost columns are
filled where measurable and NULL with a reason elsewhere; the verdict's break-even between a
fine-tuned encoder and an ICL configuration is finite."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import pytest
from support.timeouts import E2E_COMMAND_TIMEOUT_S

from xcost_tui.stats.costs import break_even

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("methods_e2e")]  # one worker builds store


def sql(store, query):
    proc = subprocess.run(
        [sys.executable, "-m", "xcost_tui", "sql", "--store", str(store), "--format", "json", query],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    return [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def store(tmp_path_factory, data_dir):
    root = tmp_path_factory.mktemp("methods")
    plan = "demo-methods"
    store = root / "store"
    env = {**os.environ, "XCOST_ASSERT_NO_HEAVY_IMPORTS": "1", "TERM": "dumb"}
    check = subprocess.run(
        [sys.executable, "-m", "xcost_tui", "plan", "check", plan, "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert check.returncode == 0, check.stderr
    assert "phases of icl runs: eval:en, eval:<lang> x 2 languages, inference-bench" in check.stdout
    assert (
        "phases of translate-test runs: target:copa, eval:en, (translate:<lang>, eval:<lang>) x 2 languages"
        in check.stdout
    )
    proc = subprocess.run(
        [sys.executable, "-m", "xcost_tui", "--headless", plan, "--data-dir", str(data_dir), "--store", str(store)],
        capture_output=True,
        text=True,
        timeout=E2E_COMMAND_TIMEOUT_S,
        env=env,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "9/9 runs succeeded" in proc.stdout, proc.stdout[-3000:]
    return store


def board(store):
    return {r["name"]: r for r in sql(store, "SELECT * FROM leaderboard")}


def test_every_method_reaches_the_store_with_per_query_costs(store):
    rows = board(store)
    # icl k = 2 with five draws of the demonstrations (issue 19); k = 0 draws none: one run
    assert set(rows) == {"direct", "icl-k0-draw0", *(f"icl-k2-draw{d}" for d in range(5)), "tt-published", "tt-mt"}
    for name, r in rows.items():
        assert r["status"] == "succeeded", name
        # measurable on a CPU: a number
        assert r["query_flops"] > 0 and r["query_latency_p50_s"] > 0 and r["query_latency_p95_s"] > 0, name
        assert r["query_peak_mem_bytes"] > 0 and r["query_prompt_tokens"] > 0, name
        # energy needs RAPL or NVML: NULL here, and the note says why
        if r["query_energy_j"] is None:
            assert r["query_cost_note"] and "energy:" in r["query_cost_note"], name
    # icl: no training, a prompt whose length grows with k; its queries cost more than the encoder's
    assert rows["icl-k0-draw0"]["train_flops"] == 0 and rows["icl-k0-draw0"]["train_device_hours"] == 0
    assert rows["icl-k2-draw0"]["query_context_tokens_mean"] > rows["icl-k0-draw0"]["query_context_tokens_mean"]
    assert rows["icl-k2-draw0"]["query_flops"] > rows["icl-k0-draw0"]["query_flops"]
    assert rows["icl-k0-draw0"]["query_continuation_tokens"] > 0 and rows["direct"]["query_context_tokens_max"] is None
    # translate-test: the MT model's cost is counted, the published translations' is not
    assert rows["tt-mt"]["query_translation_counted"] is True
    assert rows["tt-published"]["query_translation_counted"] is False
    assert "translated by the dataset authors; not measured" in rows["tt-published"]["query_cost_note"]
    assert rows["tt-mt"]["query_flops"] > rows["tt-published"]["query_flops"]
    assert rows["direct"]["query_translation_counted"] is None and rows["tt-mt"]["translations"] == "tiny-marian"


def test_quechua_is_missing_for_the_published_translations_not_chance(store):
    rows = {r["lang"]: r for r in sql(store, "SELECT lang, accuracy, n FROM lang_accuracy WHERE name = 'tt-published'")}
    assert rows["qu"]["accuracy"] is None and rows["qu"]["n"] == 0
    assert rows["it"]["accuracy"] is not None
    r = board(store)["tt-published"]
    assert r["acc_qu"] is None and r["n_langs"] == 1 and r["avg_accuracy"] == r["acc_it"]
    phase = sql(
        store,
        "SELECT costs, info FROM phases p JOIN runs USING (run_id) WHERE runs.name = 'tt-published' "
        "AND phase = 'translate:it'",
    )[0]
    costs = json.loads(phase["costs"])
    assert (
        costs["wall_s"]["value"] is None
        and costs["wall_s"]["reason"] == "translated by the dataset authors; not measured"
    )


def test_translations_and_log_likelihoods_are_kept(store):
    tr = sql(
        store,
        "SELECT runs.name, t.lang, count(*) AS n, count(t.source_premise) AS with_source "
        "FROM translations t JOIN runs USING (run_id) GROUP BY ALL ORDER BY ALL",
    )
    assert {(r["name"], r["lang"]): (r["n"], r["with_source"]) for r in tr} == {
        ("tt-mt", "it"): (16, 16),
        ("tt-mt", "qu"): (16, 16),
        ("tt-published", "it"): (16, 0),
    }
    preds = sql(store, "SELECT p.scores FROM predictions p JOIN runs USING (run_id) WHERE runs.name = 'icl-k2-draw0'")
    assert preds and all(len(p["scores"]) == 2 and all(s < 0 for s in p["scores"]) for p in preds)  # log-likelihoods
    run_dir = sql(store, "SELECT run_dir FROM runs WHERE name = 'icl-k2-draw0'")[0]["run_dir"]
    lines = (store / run_dir / "loglikelihoods.jsonl").read_text().splitlines()
    first = json.loads(lines[0])
    assert first["context"].count("\n\n") == 2 and len(first["loglikelihoods"]) == 2  # k = 2 demonstrations


def test_the_context_length_distribution_is_recorded(store):
    rows = sql(
        store,
        "SELECT phase, context_tokens_mean, context_tokens_p50, context_tokens_p95, context_tokens_max, "
        "prompt_tokens, queries, info FROM phases p JOIN runs USING (run_id) "
        "WHERE runs.name = 'icl-k2-draw0' AND kind = 'eval'",
    )
    assert {r["phase"] for r in rows} == {"eval:en", "eval:it", "eval:qu"}
    for r in rows:
        assert r["context_tokens_p50"] <= r["context_tokens_p95"] <= r["context_tokens_max"]
        assert r["prompt_tokens"] == pytest.approx(r["context_tokens_mean"] * r["queries"])
        hist = json.loads(r["info"])["context_length_histogram"]
        assert sum(b[2] for b in hist) == r["queries"]


def test_break_even_between_a_fine_tuned_encoder_and_icl_is_finite(store):
    rows = board(store)
    enc, icl = rows["direct"], rows["icl-k2-draw0"]
    result = break_even(enc["train_flops"], enc["query_flops"], icl["train_flops"], icl["query_flops"])
    assert result.queries is not None and math.isfinite(result.queries) and result.queries > 0
    assert result.cheaper_before == "b" and result.cheaper_after == "a"  # ICL first, the encoder after N*


def test_mt_quality_lands_in_the_store_beside_the_accuracy(store):
    """chrF and BLEU of the English each translate-test run's classifier read (issue 19): against
    the original English COPA items for both, against XCOPA's published translations for the MT
    model; Quechua NULL with a reason where there is nothing to score."""
    rows = sql(
        store,
        "SELECT r.name, m.lang, m.reference, m.chrf, m.bleu, m.items, m.missing, m.chrf_signature "
        "FROM mt_quality m JOIN runs r USING (run_id) ORDER BY r.name, m.lang, m.reference",
    )
    got = {(r["name"], r["lang"], r["reference"]): r for r in rows}
    assert set(got) == {
        ("tt-mt", "it", "copa"),
        ("tt-mt", "it", "published"),
        ("tt-mt", "qu", "copa"),
        ("tt-mt", "qu", "published"),
        ("tt-published", "it", "copa"),
        ("tt-published", "qu", "copa"),
    }
    published = got[("tt-published", "it", "copa")]
    assert published["items"] == 16 and 40 < published["chrf"] <= 100 and published["bleu"] > 10
    assert published["chrf_signature"].startswith("nrefs:1|")
    assert got[("tt-mt", "it", "copa")]["chrf"] < published["chrf"]  # tiny-marian's garbage scores lower
    assert got[("tt-mt", "it", "published")]["items"] == 16
    for key in (("tt-published", "qu", "copa"), ("tt-mt", "qu", "published")):
        assert got[key]["chrf"] is None and got[key]["missing"], key
    la = sql(store, "SELECT name, lang, accuracy, mt_chrf FROM lang_accuracy WHERE lang = 'it' ORDER BY name")
    assert {r["name"]: r["mt_chrf"] is not None for r in la} == {
        "direct": False,
        "icl-k0-draw0": False,
        **{f"icl-k2-draw{d}": False for d in range(5)},  # five draws of the demonstrations
        "tt-mt": True,
        "tt-published": True,
    }
