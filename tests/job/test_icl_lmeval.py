"""xcost-tui's in-context scorer against lm-evaluation-harness itself, example by example.

A tiny random GPT-2 with a byte-level BPE tokenizer trained in-process (on Italian XCOPA
validation texts) is saved to a folder; the harness (a dev dependency, offline, local JSONL
files through ``dataset_path: json``, its own ``tasks/xcopa/utils.py``) and xcost-tui's
``CausalScorer`` (KV cache, shared demonstrations, batches) score the same items 0-shot and
4-shot. The same option must be chosen for every example and every log-likelihood must agree
within 1e-4. The harness reads the question as published, so xcost-tui uses
``xcopa_question = "published"`` here (docs/tasks.md). The 4-shot prompts use the k examples
xcost-tui draws (``few_shot_sample``), given to the harness as its few-shot split with the
``first_n`` sampler, so both see the same demonstrations in the same order.

English (eval:en) is the harness's own ``super_glue/copa`` task (its ``utils.py``: the two spaces
before a choice, ``acc_norm`` counting one of them) on COPA validation, 0-shot and 4-shot with
demonstrations from COPA train: the prompt tasks/prompts.py pins to ``LM_EVAL_VERSION``, which
must be the installed harness's version.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from importlib import util
from pathlib import Path

import pytest
import torch

from xcost_tui.job.causal import build_tiny_gpt2, train_tiny_gpt2_tokenizer
from xcost_tui.job.data import few_shot_sample
from xcost_tui.job.icl import (
    CausalScorer,
    encode_prompts,
    standalone_query_flops,
)
from xcost_tui.measure.flops import DecoderDims
from xcost_tui.tasks import all_texts, load_examples
from xcost_tui.tasks.prompts import LM_EVAL_VERSION, build_prompt

LANG = "it"
N_ITEMS = 24
K = 4
TOL = 1e-4


def _task_yaml(name: str, data: Path, shots: Path | None, lang: str = LANG) -> str:
    if lang == "en":  # super_glue/copa/default.yaml's fields, on the local COPA validation file
        files = {"validation": str(data / "copa" / "val.jsonl")}
        fields = [
            "doc_to_text: !function utils.doc_to_text",
            "doc_to_target: !function utils.doc_to_target",
            "doc_to_choice: !function utils.doc_to_choice",
        ]
    else:
        files = {
            "validation": str(data / "xcopa" / lang / "val.jsonl"),
            "test": str(data / "xcopa" / lang / "test.jsonl"),
        }
        fields = [
            "test_split: test",
            f"doc_to_text: !function utils.doc_to_text_{lang}",
            "doc_to_target: label",
            "doc_to_choice: !function utils.doc_to_choice",
        ]
    lines = [f"task: {name}", "dataset_path: json", "dataset_kwargs:", "  data_files:"]
    if shots is not None:
        files["fewshot"] = str(shots)
    lines += [f"    {split}: {path}" for split, path in files.items()]
    lines += [
        "output_type: multiple_choice",
        "validation_split: validation",
        *fields,
        "metric_list:",
        "  - metric: acc",
        "  - metric: acc_norm",
    ]
    if shots is not None:
        lines += ["fewshot_split: fewshot", "fewshot_config:", "  sampler: first_n", f"num_fewshot: {K}"]
    return "\n".join(lines) + "\n"


# one worker runs this module, so its module-scoped fixtures are built once (pytest-xdist, pyproject)
pytestmark = pytest.mark.xdist_group("icl_lmeval")


@pytest.fixture(scope="module")
def harness(tmp_path_factory, data_dir):
    """(model dir, the items, the shots, the harness's samples per task)."""
    if util.find_spec("lm_eval") is None:
        pytest.fail("lm-eval is a dev dependency (pyproject [dev]); install it: pip install -e '.[dev]'")
    root = tmp_path_factory.mktemp("lmeval")
    pool = load_examples("xcopa", "validation", data_dir=data_dir, lang=LANG, xcopa_question="published")
    items = load_examples("xcopa", "test", data_dir=data_dir, lang=LANG, limit=N_ITEMS, xcopa_question="published")
    tokenizer = train_tiny_gpt2_tokenizer(all_texts(pool), 800)
    model = build_tiny_gpt2(tokenizer, {"hidden_size": 32, "intermediate_size": 64}, seed=0)
    model_dir = root / "model"
    model.save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)

    shots = [pool[j] for j in few_shot_sample(pool, K, 0, LANG)]
    rows = {json.loads(line)["idx"]: line for line in (data_dir / "xcopa" / LANG / "val.jsonl").open(encoding="utf-8")}
    shot_file = root / "shots.jsonl"
    shot_file.write_text("".join(rows[s.idx] for s in shots), encoding="utf-8")
    # English: COPA validation items, demonstrations drawn from COPA train (icl's English pool)
    en_pool = load_examples("copa", "train", data_dir=data_dir)
    en_items = load_examples("copa", "validation", data_dir=data_dir, limit=N_ITEMS)
    en_shots = [en_pool[j] for j in few_shot_sample(en_pool, K, 0, "en")]
    en_rows = {json.loads(line)["idx"]: line for line in (data_dir / "copa" / "train.jsonl").open(encoding="utf-8")}
    en_shot_file = root / "en_shots.jsonl"
    en_shot_file.write_text("".join(en_rows[s.idx] for s in en_shots), encoding="utf-8")

    tasks = root / "tasks"
    (tasks / "copa").mkdir(parents=True)
    import lm_eval

    assert lm_eval.__version__ == LM_EVAL_VERSION, (
        f"tasks/prompts.py pins the prompts to lm-eval {LM_EVAL_VERSION}, the installed harness is "
        f"{lm_eval.__version__}: compare the two versions' xcopa and super_glue/copa tasks, then update "
        f"LM_EVAL_VERSION (and docs/methods.md)"
    )
    harness_tasks = Path(lm_eval.__file__).parent / "tasks"
    shutil.copy(harness_tasks / "xcopa" / "utils.py", tasks / "utils.py")
    shutil.copy(harness_tasks / "super_glue" / "copa" / "utils.py", tasks / "copa" / "utils.py")
    (tasks / "zero.yaml").write_text(_task_yaml("xc_zero", data_dir, None), encoding="utf-8")
    (tasks / "four.yaml").write_text(_task_yaml("xc_four", data_dir, shot_file), encoding="utf-8")
    (tasks / "copa" / "zero.yaml").write_text(_task_yaml("en_zero", data_dir, None, "en"), encoding="utf-8")
    (tasks / "copa" / "four.yaml").write_text(_task_yaml("en_four", data_dir, en_shot_file, "en"), encoding="utf-8")
    out = root / "out"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "lm_eval",
            "--model",
            "hf",
            "--model_args",
            f"pretrained={model_dir}",
            "--tasks",
            "xc_zero,xc_four,en_zero,en_four",
            "--include_path",
            str(tasks),
            "--device",
            "cpu",
            "--batch_size",
            "8",
            "--limit",
            str(N_ITEMS),
            "--log_samples",
            "--output_path",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    samples = {}
    for task in ("xc_zero", "xc_four", "en_zero", "en_four"):
        (path,) = out.rglob(f"samples_{task}_*.jsonl")
        samples[task] = {json.loads(line)["doc"]["idx"]: json.loads(line) for line in path.open(encoding="utf-8")}
    return model_dir, {LANG: (items, shots), "en": (en_items, en_shots)}, samples


@pytest.mark.parametrize(
    "task, lang, k", [("xc_zero", LANG, 0), ("xc_four", LANG, K), ("en_zero", "en", 0), ("en_four", "en", K)]
)
def test_same_choices_and_log_likelihoods_as_the_harness(harness, task, lang, k):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model_dir, data, samples = harness
    items, shots = data[lang]
    theirs = samples[task]
    assert sorted(theirs) == sorted(e.idx for e in items)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    prompts = [build_prompt(e, lang, shots[:k]) for e in items]
    for p in prompts:  # the same text the harness scored
        args = theirs[p.idx]["arguments"]
        assert [args[f"gen_args_{j}"]["arg_0"] for j in range(2)] == [p.context] * 2
        assert [args[f"gen_args_{j}"]["arg_1"] for j in range(2)] == list(p.continuations)
    if lang == "en":  # super_glue/copa: two spaces before a choice (its own and the target delimiter's)
        assert all(c.startswith("  ") and not c.startswith("   ") for p in prompts for c in p.continuations)
    queries = encode_prompts(tokenizer, prompts, lang)
    scorer = CausalScorer(model, DecoderDims.from_hf_config(model.config), tokenizer.pad_token_id, torch.device("cpu"))
    ours = scorer.score(queries, batch_size=5)  # padding, several batches, the shared demonstrations once
    alone = [scorer.score([q], 1, share_prefix=False)[0] for q in queries[:3]]  # the batch-1 path too
    worst = 0.0
    for q, ll in zip(queries, ours):
        ref = [float(r[0]) for r in theirs[q.prompt.idx]["filtered_resps"]]
        worst = max(worst, *(abs(a - b) for a, b in zip(ll, ref)))
        assert max(range(2), key=lambda j: ll[j]) == max(range(2), key=lambda j: ref[j]), (q.prompt.idx, ll, ref)
        assert theirs[q.prompt.idx]["acc"] == float(max(range(2), key=lambda j: ll[j]) == q.prompt.label)
    assert worst < TOL, worst
    for a, b in zip(alone, ours):
        assert max(abs(x - y) for x, y in zip(a, b)) < TOL
    # acc_norm divides by the choice's length in characters, as the harness does
    for q, ll in zip(queries, ours):
        norm = [v / len(c) for v, c in zip(ll, q.prompt.choices)]
        assert theirs[q.prompt.idx]["acc_norm"] == float(max(range(2), key=lambda j: norm[j]) == q.prompt.label)
    if k:
        assert standalone_query_flops(scorer.dims, queries[0]) > 0
