"""In-context scoring: xcost-tui's KV-cache scorer against lm-evaluation-harness's HFLM, same model,
same prompts, same batch size, in one process.

    python benchmarks/bench_icl.py [--lang it] [--items 100] [--shots 0 4] [--batch-size 16] [--repeats 3] [--threads N]

The model is a random GPT-2 (hidden 256, 4 layers; random weights, so choices are arbitrary but
must be identical) with a byte-level tokenizer trained in-process on the language's validation
texts. Both score every (context, " " + choice) pair of lm-eval's xcopa prompt: the harness
through ``HFLM.loglikelihood`` (its batching, its sorting, one full sequence per pair), xcost-tui
through ``CausalScorer`` (the demonstrations once, each context once, then the continuations over
the KV cache). Prints the queries per second of each, their ratio, the largest log-likelihood
difference and whether every chosen option agrees; the ratio is labelled when other processes
shared the CPUs (benchmarks/_quiet.py).
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import time

from _common import data_dir
from _quiet import Contention


def build(lang: str, seed: int = 0):
    from xcost_tui.job.causal import build_tiny_gpt2, train_tiny_gpt2_tokenizer
    from xcost_tui.tasks import all_texts, load_examples

    pool = load_examples("xcopa", "validation", data_dir=data_dir(), lang=lang, xcopa_question="published")
    tokenizer = train_tiny_gpt2_tokenizer(all_texts(pool), 4000)
    model = build_tiny_gpt2(
        tokenizer,
        {"hidden_size": 256, "num_hidden_layers": 4, "num_attention_heads": 4, "intermediate_size": 1024},
        seed,
    ).eval()
    return tokenizer, model, pool


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lang", default="it")
    ap.add_argument("--items", type=int, default=100)
    ap.add_argument("--shots", type=int, nargs="+", default=[0, 4])
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    logging.disable(logging.WARNING)

    import torch
    from lm_eval.api.instance import Instance
    from lm_eval.models.huggingface import HFLM

    from xcost_tui.job.data import few_shot_sample
    from xcost_tui.job.icl import CausalScorer, encode_prompts
    from xcost_tui.measure.flops import DecoderDims
    from xcost_tui.tasks import load_examples
    from xcost_tui.tasks.prompts import build_prompt

    if args.threads:
        torch.set_num_threads(args.threads)
    tokenizer, model, pool = build(args.lang)
    items = load_examples(
        "xcopa", "test", data_dir=data_dir(), lang=args.lang, limit=args.items, xcopa_question="published"
    )
    lm = HFLM(pretrained=model, tokenizer=tokenizer, batch_size=args.batch_size, device="cpu")
    scorer = CausalScorer(model, DecoderDims.from_hf_config(model.config), tokenizer.pad_token_id, torch.device("cpu"))
    print(
        f"model: random GPT-2, {sum(p.numel() for p in model.parameters()) / 1e6:.1f} M parameters; "
        f"{len(items)} XCOPA {args.lang} test items; batch {args.batch_size}; torch threads {torch.get_num_threads()}"
    )
    for k in args.shots:
        shots = [pool[j] for j in few_shot_sample(pool, k, 0, args.lang)]
        prompts = [build_prompt(e, args.lang, shots) for e in items]
        requests = [
            Instance("loglikelihood", {}, (p.context, c), idx=j) for p in prompts for j, c in enumerate(p.continuations)
        ]
        queries = encode_prompts(tokenizer, prompts, args.lang)

        def theirs(requests=requests):  # bound now: the loop rebinds the names
            return [r[0] for r in lm.loglikelihood(requests, disable_tqdm=True)]

        def ours(queries=queries):
            return [v for row in scorer.score(queries, args.batch_size) for v in row]

        ref, got = theirs(), ours()  # warm-up, and the comparison
        worst = max(abs(a - b) for a, b in zip(ref, got))
        same = all((ref[2 * i] >= ref[2 * i + 1]) == (got[2 * i] >= got[2 * i + 1]) for i in range(len(prompts)))
        times = {"lm-eval": [], "xcost-tui": []}
        with Contention() as c:
            for _ in range(args.repeats):
                for name, fn in (("lm-eval", theirs), ("xcost-tui", ours)):
                    t0 = time.perf_counter()
                    fn()
                    times[name].append(time.perf_counter() - t0)
        rate = {name: len(prompts) / statistics.median(ts) for name, ts in times.items()}
        ratio = rate["xcost-tui"] / rate["lm-eval"]
        print(
            f"k={k}: lm-eval {rate['lm-eval']:.1f} queries/s, xcost-tui {rate['xcost-tui']:.1f} queries/s; "
            + c.label(f"ratio {ratio:.2f}x")
            + f"; same choices: {same}; max |delta loglik| {worst:.2e}; "
            f"context {statistics.mean(q.context_tokens for q in queries):.0f} tokens on average"
        )
        print(f"  k={k}: {c.verdict()}")


if __name__ == "__main__":
    main()
