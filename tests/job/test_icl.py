"""icl and translate-test, piece by piece: the harness's prompt, the nested demonstrations, the
KV-cache scorer against plain full-sequence scoring, per-query FLOPs against FlopCounterMode, the
memory check before a big model loads, which spec keys apply to which method, and the
translation sources (published translations without Quechua, MT language codes)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from xcost_tui.errors import ModelError, SpecError
from xcost_tui.job.causal import (
    build_tiny_gpt2,
    check_memory_fit,
    count_parameters,
    model_precision,
    train_tiny_gpt2_tokenizer,
)
from xcost_tui.job.data import few_shot_sample
from xcost_tui.job.icl import (
    CausalScorer,
    encode_pair,
    encode_prompts,
    histogram,
    standalone_query_flops,
)
from xcost_tui.measure.flops import DecoderDims, count_flops
from xcost_tui.plan import loads_plan
from xcost_tui.spec import RunSpec
from xcost_tui.tasks import MCExample, copa_context, load_examples
from xcost_tui.tasks.needs import needs_of
from xcost_tui.tasks.prompts import build_prompt, query_text


def ex(premise, question, c1, c2, label=0, idx=0, lang="it"):
    return MCExample(idx, copa_context(premise, question), (c1, c2), label, lang)


# ---- the prompt ---------------------------------------------------------------------------------


def test_the_prompt_is_the_harness_xcopa_prompt():
    item = ex("L'oggetto era incartato nella plastica bollata.", "cause", "Era delicato.", "Era piccolo.")
    p = build_prompt(item, "it", [])
    assert p.context == "L'oggetto era incartato nella plastica bollata perché"
    assert p.continuations == (" era delicato.", " era piccolo.")
    assert p.choices == ("era delicato.", "era piccolo.")
    shot = ex("Avevo svuotato le mie tasche.", "effect", "Estrassi la matrice di un biglietto.", "Trovai un'arma.")
    p2 = build_prompt(item, "it", [shot])
    assert p2.context == (
        "Avevo svuotato le mie tasche quindi estrassi la matrice di un biglietto.\n\n"
        "L'oggetto era incartato nella plastica bollata perché"
    )
    assert (
        query_text(ex("男孩很累。", "effect", "a", "b"), "zh") == "男孩很累 所以"
    )  # the last character goes, whatever it is; then a space
    assert query_text(ex("The man fell.", "cause", "a", "b"), "en") == "The man fell because"


def test_encode_pair_moves_trailing_spaces_to_the_continuation():
    class Chars:  # one token per character
        def encode(self, text):
            return [ord(c) for c in text]

    assert encode_pair(Chars(), "ab ", "c") == ([97, 98], [32, 99])


def test_demonstrations_are_nested_across_k_and_the_same_for_every_query(data_dir):
    pool = load_examples("xcopa", "validation", data_dir=data_dir, lang="it")
    small, large = few_shot_sample(pool, 4, 1, "it"), few_shot_sample(pool, 16, 1, "it")
    assert set(small) <= set(large) and few_shot_sample(pool, 4, 2, "it") != small
    items = load_examples("xcopa", "test", data_dir=data_dir, lang="it", limit=3)
    shots = [pool[j] for j in small]
    prefixes = {build_prompt(e, "it", shots).context.rsplit("\n\n", 1)[0] for e in items}
    assert len(prefixes) == 1


# ---- the scorer ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_lm(data_dir):
    pool = load_examples("xcopa", "validation", data_dir=data_dir, lang="th")
    tok = train_tiny_gpt2_tokenizer([t for e in pool for t in (e.context, *e.choices)], 600)
    model = build_tiny_gpt2(tok, {"hidden_size": 32, "intermediate_size": 64}, seed=0).eval()
    model.config._attn_implementation = "eager"
    items = load_examples("xcopa", "test", data_dir=data_dir, lang="th", limit=9)
    shots = [pool[j] for j in few_shot_sample(pool, 3, 0, "th")]
    queries = encode_prompts(tok, [build_prompt(e, "th", shots) for e in items], "th")
    return tok, model, queries


def full_sequence_ll(model, q):
    """The harness's way: context + continuation in one unpadded pass per choice."""
    out = []
    for cont in q.continuations:
        ids = torch.tensor([q.context + cont])
        with torch.inference_mode():
            lp = torch.log_softmax(model(ids).logits[0].float(), -1)
        n = len(q.context)
        out.append(float(sum(lp[n - 1 + j, t] for j, t in enumerate(cont))))
    return out


def test_kv_cache_scoring_equals_full_sequence_scoring(tiny_lm):
    tok, model, queries = tiny_lm
    scorer = CausalScorer(model, DecoderDims.from_hf_config(model.config), tok.pad_token_id, torch.device("cpu"))
    assert scorer.shared_prefix(queries) > 0  # the three demonstrations
    reference = [full_sequence_ll(model, q) for q in queries]
    for share, bs in ((True, 4), (False, 4), (True, 1), (False, 9)):
        got = scorer.score(queries, bs, share_prefix=share)
        for ref, ll in zip(reference, got):
            assert ll == pytest.approx(ref, abs=1e-4)


def test_the_demonstrations_are_computed_once(tiny_lm):
    from xcost_tui.job.icl import ScoreStats

    tok, model, queries = tiny_lm
    scorer = CausalScorer(model, DecoderDims.from_hf_config(model.config), tok.pad_token_id, torch.device("cpu"))
    shared, alone = ScoreStats(), ScoreStats()
    scorer.score(queries, 3, stats=shared)
    scorer.score(queries, 3, share_prefix=False, stats=alone)
    prefix = scorer.shared_prefix(queries)
    assert shared.prefix_tokens == prefix and shared.flops < alone.flops
    # every real token once: the prefix, each context's rest, each continuation but its last token
    real = prefix + sum(len(q.context) - prefix + sum(len(c) - 1 for c in q.continuations) for q in queries)
    assert shared.tokens_nonpad == real


def test_standalone_query_flops_match_the_flop_counter(tiny_lm):
    tok, model, queries = tiny_lm
    scorer = CausalScorer(model, DecoderDims.from_hf_config(model.config), tok.pad_token_id, torch.device("cpu"))
    for q in queries[:3]:
        _, counted = count_flops(scorer.score, [q], 1, share_prefix=False)
        assert counted == standalone_query_flops(scorer.dims, q)


def test_histogram_counts_every_value():
    values = [3, 5, 5, 9, 40]
    hist = histogram(values, bins=4)
    assert sum(b[2] for b in hist) == len(values) and hist[0][0] == 3 and hist[-1][1] >= 40


# ---- memory ---------------------------------------------------------------------------------------


def test_a_model_that_does_not_fit_fails_naming_the_memory_needed_and_available():
    from transformers import GPT2Config

    huge = GPT2Config(n_embd=8192, n_layer=64, n_head=64, vocab_size=50000, bos_token_id=0, eos_token_id=0)
    n = count_parameters(huge)  # on the meta device: no memory used
    assert 50e9 < n < 60e9
    assert model_precision("auto", "cpu") == "fp32" and model_precision("auto", "cuda", bf16_ok=True) == "bf16"
    assert model_precision("auto", "cuda", bf16_ok=False) == "fp16" and model_precision("fp16", "cpu") == "fp16"
    with pytest.raises(ModelError) as info:
        check_memory_fit("big/model", n, "bf16", 24 * 2**30, "free on cuda:0")
    msg = str(info.value)
    assert (
        "big/model" in msg
        and "needs 96.8 GiB for its weights in bf16" in msg
        and "GiB" in msg
        and "only 24.0 GiB is free on cuda:0" in msg
    )
    assert check_memory_fit("big/model", 1000, "fp32", 10**6, "free") == 4000


def test_the_job_refuses_a_model_too_big_for_the_machine_before_loading_it(tmp_path, data_dir):
    from transformers import GPT2Config

    model_dir = tmp_path / "huge"
    GPT2Config(n_embd=8192, n_layer=96, n_head=64, vocab_size=50000, bos_token_id=0, eos_token_id=0).save_pretrained(
        model_dir
    )  # no weights at all
    run = tmp_path / "run"
    run.mkdir()
    spec = RunSpec.from_dict(
        {
            "method": "icl",
            "model": str(model_dir),
            "langs": ["it"],
            "max_eval_examples": 2,
            "data_dir": str(data_dir),
            "device": "cpu",
        }
    )
    (run / "spec.json").write_text(json.dumps(spec.to_dict()))
    proc = subprocess.run(
        [sys.executable, "-m", "xcost_tui.job", str(run)], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 2, proc.stderr
    status = json.loads((run / "status.json").read_text())
    assert status["status"] == "failed" and "GiB for its weights in fp32" in status["error"]
    assert "free RAM on this machine" in status["error"] and "Traceback" not in proc.stderr
    assert not (run / "predictions.jsonl").exists() or not (run / "predictions.jsonl").read_text()


# ---- which keys apply to which method ---------------------------------------------------------------


@pytest.mark.parametrize(
    "data, message",
    [
        ({"method": "icl", "intermediate": ["siqa"]}, "intermediate does not apply to method 'icl'"),
        ({"method": "icl", "collapse_retries": 1}, "collapse_retries does not apply to method 'icl'"),
        ({"method": "icl", "few_shot_k": 4, "eval_split": "val"}, "must evaluate on 'test'"),
        ({"method": "translate-test"}, "method 'translate-test' needs translations"),
        ({"method": "direct", "translations": "published"}, "translations is only used by method 'translate-test'"),
        ({"method": "direct", "model_dtype": "bf16"}, "model_dtype applies to the causal LM of method 'icl'"),
        (
            {"method": "translate-test", "translations": "published", "device_map": "auto"},
            "device_map applies to the causal LM of method 'icl' and the MT model of 'translate-test'",
        ),
        (
            {"method": "translate-test", "translations": "published", "mt_beams": 4},
            "mt_beams applies to translate-test with an MT model",
        ),
        (
            {"method": "icl", "model_dtype": "bf61"},
            "model_dtype: 'bf61' is not one of auto, fp32, bf16, fp16 (did you mean 'bf16'?)",
        ),
        ({"method": "few-shot", "few_shot_k": 0}, "few_shot_k: must be at least 1, got 0"),
        ({"method": "icl", "few_shot_k": -1}, "few_shot_k: must be at least 0, got -1"),
        ({"method": "translate-test", "translations": "x", "mt_beams": 0}, "mt_beams: must be in [1, 16], got 0"),
    ],
)
def test_keys_of_the_new_methods_are_validated(data, message):
    with pytest.raises(SpecError) as info:
        RunSpec.from_dict({"model": "m", **data})
    assert message in str(info.value)


def test_icl_defaults_and_identity():
    zero = RunSpec.from_dict({"method": "icl", "model": "m", "shot_seed": 3})
    assert zero.few_shot_k == 0 and zero.shot_seed is None  # no demonstrations, no draw
    four = RunSpec.from_dict({"method": "icl", "model": "m", "few_shot_k": 4})
    assert four.shot_seed == 0 and four.phases_planned == [
        "eval:en",
        *(f"eval:{lang}" for lang in four.langs),
        "inference-bench",
    ]
    # the new keys at their defaults leave the run ids of the other methods as they were
    direct = RunSpec.from_dict({"method": "direct", "model": "m"})
    assert not {"translations", "model_dtype", "device_map", "mt_beams", "mt_max_new_tokens"} & set(direct.identity())
    assert RunSpec.from_dict({"method": "icl", "model": "m", "device_map": "auto"}).run_id() == zero.run_id()


def test_shots_zero_is_an_icl_plan_setting_only():
    plan = loads_plan(
        '[defaults]\nmodel = "tiny-gpt2"\nlangs = ["it"]\n[[experiment]]\nmethod = "icl"\n'
        "shots = [0, 4]\nshot_seeds = [0, 1]\n"
    )
    assert sorted((s.few_shot_k, s.shot_seed) for s in plan.runs) == [(0, None), (4, 0), (4, 1)]
    assert any("kept once" in n for n in plan.notes)
    with pytest.raises(SpecError, match=r"experiment\[0\].shots\[0\]: few_shot_k must be at least 1, got 0"):
        loads_plan('[[experiment]]\nmethod = "few-shot"\nmodel = "m"\nshots = [0, 4]\n')
    via_defaults = loads_plan('[defaults]\nmethod = "icl"\nmodel = "m"\n[[experiment]]\nshots = [0]\n')
    assert via_defaults.runs[0].few_shot_k == 0


def test_translate_test_reads_published_translations_and_has_none_for_quechua():
    spec = RunSpec.from_dict(
        {"method": "translate-test", "model": "m", "translations": "published", "langs": ["it", "qu"], "data_dir": "/d"}
    )
    needs = [(n.task, n.split, n.lang, n.role) for n in needs_of(spec)]
    assert ("xcopa-translate-test", "test", "it", "eval") in needs
    assert not any(lang == "qu" for _, _, lang, _ in needs)
    assert spec.phases_planned[-5:] == ["translate:it", "eval:it", "translate:qu", "eval:qu", "inference-bench"]
    mt = RunSpec.from_dict({"method": "translate-test", "model": "m", "translations": "tiny-marian", "langs": ["qu"]})
    assert ("xcopa", "test", "qu", "eval") in [(n.task, n.split, n.lang, n.role) for n in needs_of(mt)]
    inter = RunSpec.from_dict(
        {"method": "translate-test", "model": "m", "translations": "published", "intermediate": ["rte"]}
    )
    assert inter.phases_planned[0] == "intermediate:rte" and not inter.shares_intermediate


def test_published_translations_take_the_corrected_questions(data_dir):
    fixed = load_examples("xcopa-translate-test", "test", data_dir=data_dir, lang="th")
    raw = load_examples("xcopa-translate-test", "test", data_dir=data_dir, lang="th", xcopa_question="published")
    copa = {e.idx: e for e in load_examples("copa", "test", data_dir=data_dir)}
    assert all(e.context.split(" ")[-1] == copa[e.idx].context.split(" ")[-1] for e in fixed)
    assert sum(a.context != b.context for a, b in zip(fixed, raw)) == 250  # docs/tasks.md: th's 250 items


def test_language_codes_per_mt_family():
    from xcost_tui.job.translate import NLLB_CODES, Translator, Unavailable, mt_family

    class NllbTokenizerFast:
        src_lang = None

        def convert_tokens_to_ids(self, token):
            return {"eng_Latn": 7}[token]

    class M2M100Tokenizer:
        src_lang = None

        def get_lang_id(self, lang):
            return {"en": 9}[lang]

    class Cfg:
        model_type = "m2m_100"

    class Model:
        config = Cfg()

    spec = RunSpec.from_dict({"method": "translate-test", "model": "m", "translations": "some/mt"})
    tr = Translator.__new__(Translator)
    tr.spec, tr.loaded_id = spec, "some/mt"
    tr.tokenizer, tr.family = NllbTokenizerFast(), mt_family(Model(), NllbTokenizerFast())
    assert tr.family == "nllb" and tr.generate_kwargs("qu")["forced_bos_token_id"] == 7
    assert tr.tokenizer.src_lang == NLLB_CODES["qu"] == "quy_Latn"
    tr.tokenizer, tr.family = M2M100Tokenizer(), mt_family(Model(), M2M100Tokenizer())
    assert (
        tr.family == "m2m100" and tr.generate_kwargs("sw")["forced_bos_token_id"] == 9 and tr.tokenizer.src_lang == "sw"
    )
    with pytest.raises(Unavailable, match="no language code for qu"):
        tr.generate_kwargs("qu")


# ---- the built-in plans -------------------------------------------------------------------------------


def test_the_built_in_methods_plans(capsys):
    from xcost_tui.commands.plan_check import check_command
    from xcost_tui.plan import builtin_plans, load_plan

    assert {"xcopa-methods", "demo-methods"} <= set(builtin_plans())
    gpu = load_plan("xcopa-methods")
    by = {}
    for s in gpu.runs:
        by.setdefault((s.method, s.model, s.translations), []).append(s)
    assert {k: len(v) for k, v in by.items()} == {
        ("direct", "FacebookAI/xlm-roberta-large", None): 3,
        ("intermediate", "FacebookAI/xlm-roberta-large", None): 3,
        ("translate-test", "FacebookAI/xlm-roberta-large", "published"): 3,
        ("translate-test", "FacebookAI/xlm-roberta-large", "facebook/nllb-200-distilled-600M"): 3,
        ("translate-test", "FacebookAI/roberta-large", "published"): 3,  # English-only, SIQA->COPA
        ("icl", "facebook/xglm-564M", None): 11,  # k = 0 once, k = 4 and 16 with five draws each
        ("icl", "facebook/xglm-7.5B", None): 11,
    }
    assert {(s.few_shot_k, s.shot_seed) for s in by[("icl", "facebook/xglm-7.5B", None)]} == {
        (0, None),
        *((k, d) for k in (4, 16) for d in range(5)),
    }
    assert all(s.langs == list(gpu.runs[0].langs) and len(s.langs) == 11 for s in gpu.runs)
    assert len(gpu.runs) == 37
    roberta = by[("translate-test", "FacebookAI/roberta-large", "published")]
    assert all(s.intermediate == ["siqa"] and s.hparams.learning_rate == 3e-5 for s in roberta)
    assert check_command("xcopa-methods") == 0
    out = capsys.readouterr().out
    assert "phases of icl runs: eval:en, eval:<lang> x 11 languages, inference-bench" in out
    assert (
        "phases of translate-test runs: target:copa, eval:en, (translate:<lang>, eval:<lang>) x 11 languages, "
        "inference-bench"
    ) in out
    demo = load_plan("demo-methods")
    assert {s.method for s in demo.runs} == {"direct", "icl", "translate-test"} and len(demo.runs) == 9
