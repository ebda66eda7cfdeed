"""Training throughput of the job loop against transformers.Trainer, same model, data, batch and steps.

    python benchmarks/bench_train_throughput.py [--steps 60] [--batch-size 8] [--repeats 3]

Prints examples/s of each, their ratio, and the padding efficiency (non-pad / all tokens) of
both: Trainer with DataCollatorWithPadding (dynamic padding, random order), the job loop with
length-grouped batches, and the job loop without grouping.
"""

from __future__ import annotations

import argparse
import statistics
import time

from _common import context, setup
from _quiet import Contention


def run_job_loop(fresh_model, tokenizer, encoded, steps, bs, group):
    from xcost_tui.job.loops import TrainTask, train
    from xcost_tui.measure.flops import EncoderDims
    from xcost_tui.spec import HParams

    model = fresh_model()
    ctx = context(False, tokenizer, EncoderDims.from_hf_config(model.encoder.config))
    hp = HParams(learning_rate=3e-5, batch_size=bs, grad_accum=1, max_steps=steps, warmup_ratio=0.0)
    t0 = time.perf_counter()
    tally, _ = train(ctx, model, "bench", [TrainTask("copa", "mc", encoded)], hp, seed=0, group_by_length=group)
    elapsed = time.perf_counter() - t0
    return tally.examples / elapsed, tally.tokens_nonpad / tally.tokens_padded


def run_trainer(fresh_model, tokenizer, encoded, steps, bs):
    import torch
    from transformers import DataCollatorWithPadding, Trainer, TrainingArguments, XLMRobertaForMultipleChoice

    base = fresh_model()
    model = XLMRobertaForMultipleChoice(base.encoder.config)
    model.roberta.load_state_dict(base.encoder.state_dict(), strict=False)
    features = [{"input_ids": e.seqs, "label": e.label} for e in encoded]
    pad = DataCollatorWithPadding(tokenizer)
    seen = {"nonpad": 0, "padded": 0}

    def collate(batch):
        n_choices = len(batch[0]["input_ids"])
        flat = [{"input_ids": s} for f in batch for s in f["input_ids"]]
        out = pad(flat)
        mask = out["attention_mask"]
        seen["nonpad"] += int(mask.sum())
        seen["padded"] += mask.numel()
        out = {k: v.view(len(batch), n_choices, -1) for k, v in out.items()}
        out["labels"] = torch.tensor([f["label"] for f in batch])
        return out

    args = TrainingArguments(
        output_dir="/tmp/xcost-bench-trainer",
        per_device_train_batch_size=bs,
        max_steps=steps,
        learning_rate=3e-5,
        report_to=[],
        save_strategy="no",
        logging_strategy="no",
        use_cpu=True,
        dataloader_num_workers=0,
        seed=0,
        disable_tqdm=True,
    )
    trainer = Trainer(model=model, args=args, train_dataset=features, data_collator=collate)
    t0 = time.perf_counter()
    out = trainer.train()
    elapsed = time.perf_counter() - t0
    # Trainer's own figure leaves out some of its start-up; report it too, the ratio uses the stricter one.
    run_trainer.self_reported = out.metrics.get("train_samples_per_second")
    return steps * bs / elapsed, seen["nonpad"] / seen["padded"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    tokenizer, fresh_model, _, encoded = setup()
    res = {"trainer": [], "job": [], "job_nogroup": []}
    pad = {}
    whole = Contention().__enter__()
    for r in range(a.repeats):  # interleaved, so drift in machine load hits all alike
        for name in ("trainer", "job", "job_nogroup"):
            with Contention() as c:
                if name == "trainer":
                    eps, eff = run_trainer(fresh_model, tokenizer, encoded, a.steps, a.batch_size)
                else:
                    eps, eff = run_job_loop(fresh_model, tokenizer, encoded, a.steps, a.batch_size, name == "job")
            res[name].append(eps)
            if name == "trainer":
                res.setdefault("trainer_self", []).append(float(run_trainer.self_reported))
            pad[name] = eff
            print(
                c.label(f"repeat {r + 1}: {name:12s} {eps:8.1f} examples/s  padding efficiency {eff:.3f}"), flush=True
            )
    whole.__exit__(None, None, None)
    med = {k: statistics.median(v) for k, v in res.items()}
    print(
        f"\nmedian examples/s over {a.repeats} repeats, {a.steps} steps of batch {a.batch_size} (tiny-xlmr, COPA train):"
    )
    for k, v in med.items():
        print(
            whole.label(
                f"  {k:12s} {v:8.1f}"
                + (f"  padding efficiency {pad[k]:.3f}" if k in pad else "  (Trainer's own train_samples_per_second)")
            )
        )
    print(
        whole.label(
            f"ratio job/trainer (wall of train() each): {med['job'] / med['trainer']:.2f}x; "
            f"against Trainer's self-reported figure: {med['job'] / med['trainer_self']:.2f}x; "
            f"job without length grouping: {med['job_nogroup'] / med['trainer']:.2f}x"
        )
    )
    print(whole.verdict())


if __name__ == "__main__":
    main()
