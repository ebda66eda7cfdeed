"""Comparability variants end to end (issue 19): a plan with both XCOPA question variants and both
ICL prompt variants, run headless through the real job on the built-in tiny models (tiny-gpt2 icl,
tiny-xlmr direct, Thai, Tamil and Italian, 6 items each), then `xcost-tui report`: the report puts
the variants side by side, each configuration with the verdict's own accuracy, and names the one
comparable with published numbers; a report of one configuration has no such section."""

from __future__ import annotations

import json

import pytest
from support.cli import run_and_report, sql_rows, xcost

from xcost_tui import XCOPA_LANGS
from xcost_tui.report.variants import Member, VariantGroup, comparability_sentence, group_variants
from xcost_tui.spec import RunSpec
from xcost_tui.tasks import load_examples
from xcost_tui.tasks.prompts import LM_EVAL_VERSION, premises_cut
from xcost_tui.verdict.api import verdict

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("report_variants")]

N = 6
LANGS = ["th", "ta", "it"]
PLAN = f"""
[plan]
name = "variants-e2e"
description = "both question variants, both icl prompts: tiny models"

[defaults]
langs = {json.dumps(LANGS)}
max_eval_examples = {N}
eval_batch_size = 8
measure = {{ inference_bench_examples = 2, inference_warmup = 1, curve_points = 0 }}

[[experiment]]
name = "icl"
method = "icl"
model = "tiny-gpt2"
grid = {{ icl_prompt = ["lm-eval", "period-only"], xcopa_question = ["copa", "published"] }}

[[experiment]]
name = "direct"
method = "direct"
model = "tiny-xlmr"
hparams = {{ max_examples = 24, max_steps = 2, batch_size = 8, max_seq_len = 64 }}
grid = {{ xcopa_question = ["copa", "published"] }}
"""


@pytest.fixture(scope="module")
def reported(tmp_path_factory, data_dir):
    plan = tmp_path_factory.mktemp("variants-e2e") / "variants.toml"
    plan.write_text(PLAN, encoding="utf-8")
    store, out, _ = run_and_report(plan, data_dir, 6)
    return store, out


def _section(md: str) -> str:
    start = md.index("## Comparability variants")
    return md[start : md.index("\n## ", start + 1)]


def test_the_report_puts_the_variants_side_by_side(reported, data_dir):
    store, out = reported
    md = (out / "report.md").read_text(encoding="utf-8")
    section = _section(md)
    v = verdict(store)
    specs = {r["config_id"]: json.loads(r["spec"]) for r in sql_rows(store, "SELECT config_id, spec FROM runs")}
    assert len(specs) == 6
    lines = [line for line in section.splitlines() if line.startswith("| ") and "configuration" not in line]
    assert len(lines) == 6  # every configuration, in its group's table
    for cid, spec in specs.items():
        cfg = v.configurations[cid]
        (row,) = [line for line in lines if line.startswith(f"| {cfg.label} |")]
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells[1] == f"`{spec['xcopa_question']}`"
        icl = spec["method"] == "icl"
        assert cells[2] == (f"`{spec.get('icl_prompt', 'lm-eval')}`" if icl else "–")
        comparable = spec["xcopa_question"] == "published" and (not icl or spec.get("icl_prompt") == "lm-eval")
        assert cells[3] == ("yes" if comparable else "no")
        # the verdict's accuracy of this configuration, per language (not pooled over the variants)
        for j, lang in enumerate(["en", *(x for x in XCOPA_LANGS if x in LANGS), "avg"]):  # the table's order
            e = cfg.accuracy[lang]
            assert cells[5 + j].startswith(f"{100 * e.value:.1f}"), (lang, cells, e)
    assert section.count("Comparable with lm-evaluation-harness's published XCOPA numbers") == 1
    assert section.count("Comparable with published fine-tuning numbers such as XTREME-R's") == 1
    # the premises the harness's prompt cuts, counted from the data
    counts = {
        lang: premises_cut(load_examples("xcopa", "test", data_dir=data_dir, lang=lang, limit=N)) for lang in LANGS
    }
    assert counts["th"] == N and counts["it"] == 0 and counts["ta"] >= N - 1
    assert f"th {counts['th']} of {N}" in section and f"ta {counts['ta']} of {N}" in section and "none in it" in section
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "Comparability variants" in html and "variants-table-1" in html
    tex = (out / "table.tex").read_text(encoding="utf-8")
    # one comparable member per group, starred in its column's heading (issue 21: members as columns)
    assert "tab:xcost-variants" in tex and tex.count("$^{*}$}") == 2


def test_the_icl_prompt_variants_change_thai_and_tamil_only(reported):
    store, _ = reported
    rows = sql_rows(
        store,
        "SELECT r.config_id, r.spec, p.phase, p.lang, p.info FROM phases p JOIN runs r USING (run_id) "
        "WHERE p.kind = 'eval' AND r.method = 'icl'",
    )
    assert rows
    runs = sql_rows(store, "SELECT method, icl_prompt, spec FROM runs")
    for r in runs:  # the store's column: the spec's variant for icl, NULL for the others
        spec = json.loads(r["spec"]) if isinstance(r["spec"], str) else r["spec"]
        assert r["icl_prompt"] == (spec.get("icl_prompt", "lm-eval") if r["method"] == "icl" else None)
    for r in rows:
        info = json.loads(r["info"]) if isinstance(r["info"], str) else r["info"]
        spec = json.loads(r["spec"]) if isinstance(r["spec"], str) else r["spec"]
        assert info["icl_prompt"] == spec.get("icl_prompt", "lm-eval")
        task = "super_glue/copa" if r["lang"] == "en" else f"xcopa/{r['lang']}"
        assert info["prompt_template"].startswith(f"lm-eval {LM_EVAL_VERSION} {task}")
        assert (info["prompts_differing"] > 0) == (r["lang"] in ("th", "ta")), r
    # the same model, items and question: the prompt variants score differently only where they differ
    preds = sql_rows(
        store,
        "SELECT r.spec, p.lang, p.idx, p.scores FROM predictions p JOIN runs r USING (run_id) "
        "WHERE r.method = 'icl' AND p.lang <> 'en'",
    )
    by: dict[tuple, dict[str, list]] = {}
    for p in preds:
        spec = json.loads(p["spec"]) if isinstance(p["spec"], str) else p["spec"]
        key = (spec["xcopa_question"], p["lang"], p["idx"])
        by.setdefault(key, {})[spec.get("icl_prompt", "lm-eval")] = p["scores"]
    assert by
    for (_, lang, _), scores in by.items():
        assert set(scores) == {"lm-eval", "period-only"}
        same = scores["lm-eval"] == scores["period-only"]
        assert same == (lang == "it"), (lang, scores)


def test_a_report_without_variants_has_no_section(reported, tmp_path):
    store, _ = reported
    (one,) = sql_rows(store, "SELECT any_value(run_id) AS run_id FROM runs WHERE method = 'direct'")
    out = tmp_path / "one"
    proc = xcost(["report", "--where", f"run_id = '{one['run_id']}'", "--store", str(store), "--out", str(out)], 600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Comparability variants" not in (out / "report.md").read_text(encoding="utf-8")


def test_grouping_and_the_sentence():
    def spec(**kw):
        return RunSpec.from_dict({"method": "icl", "model": "tiny-gpt2", "langs": ["th"], **kw}).to_dict()

    specs = {
        "a": spec(),
        "b": spec(icl_prompt="period-only"),
        "c": spec(xcopa_question="published"),
        "d": spec(few_shot_k=4),  # another configuration: not a variant of a, b, c
    }
    old = {k: v for k, v in spec().items() if k != "icl_prompt"}  # a spec file from before the field
    specs["e"] = {**old, "model": "other"}
    (g,) = group_variants(specs, ["a", "b", "c", "d", "e"])
    assert [m.config_id for m in g.members] == ["a", "b", "c"] and g.keys == ("xcopa_question", "icl_prompt")
    assert [m.comparable for m in g.members] == [False, False, True]
    text = comparability_sentence(g, str.upper)
    assert text.startswith("Comparable with lm-evaluation-harness's published XCOPA numbers") and ": C." in text
    assert "period-only" in text and "docs/tasks.md" in text
    assert (
        group_variants({"e": specs["e"], "e2": {**old, "model": "other", "icl_prompt": "lm-eval"}}, ["e", "e2"]) == []
    )
    none = VariantGroup(
        [Member("x", {"xcopa_question": "copa", "icl_prompt": "lm-eval"}, False)] * 2, ("xcopa_question",)
    )
    assert comparability_sentence(none, str).startswith("None of these is comparable with published fine-tuning")
