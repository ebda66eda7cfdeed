"""Training throughput of the job loop against transformers.Trainer, like for like (issue 17).

    python benchmarks/bench_train_throughput.py [--steps 60] [--batch-size 8] [--repeats 5]
        [--grouping both|on|off] [--deterministic on|off] [--threads N] [--json PATH]

Both arms train the same module (the job's EncoderWithHeads on tiny-xlmr, fresh from one seed),
on the same encoded COPA train examples, with the same batch, steps, learning rate, linear
schedule without warm-up, weight decay, gradient clipping, fused AdamW and collation
(``batching.collate``: each batch padded to its longest sequence). What differs is the loop.

* The same padding policy in both arms: the job's length grouping against Trainer's
  ``group_by_length`` (in transformers 5 ``train_sampling_strategy="group_by_length"``: its
  LengthGroupedSampler: mega-batches of min(50, n / (4 * batch)) batches sorted by length, where the
  job sorts mega-batches of 50), and the job without
  grouping against Trainer's random sampler. ``--grouping`` picks one pair or both.
* The same deterministic settings: every real job calls
  ``torch.use_deterministic_algorithms(True, warn_only=True)`` (``phases.seed_everything``); it is
  set before each arm (``--deterministic off`` turns it off in both), and the setting each arm ran
  under is read back and printed (Trainer's ``set_seed`` could have changed it: it does not).
* A short round of every arm first, not reported (the process's first-time costs); then the
  arms' order is rotated every repeat, and each ratio is the median of the repeats' paired
  ratios (job / Trainer in the same repeat).

Reported: the like-for-like ratio per padding policy (target: >= 1.0x, never slower than
Trainer) and the padding policy's own gain (job grouped / job ungrouped, and Trainer's likewise).
Throughput is examples over the wall time of the whole ``train()`` / ``trainer.train()`` call.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time

from _common import context, paired_median, rotated, setup
from _quiet import Contention

POLICIES = {"on": (True,), "off": (False,), "both": (True, False)}


def set_determinism(on: bool) -> None:
    import torch

    torch.use_deterministic_algorithms(on, warn_only=True)


def determinism_now() -> str:
    import torch

    if not torch.are_deterministic_algorithms_enabled():
        return "off"
    return "on (warn only)" if torch.is_deterministic_algorithms_warn_only_enabled() else "on"


def run_job(fresh_model, tokenizer, encoded, steps: int, bs: int, group: bool, deterministic: bool) -> dict:
    import random

    import torch

    from xcost_tui.job.loops import TrainTask, train
    from xcost_tui.measure.flops import EncoderDims
    from xcost_tui.spec import HParams

    model = fresh_model()
    # measurement off: no FLOP counting, progress events or memory probes (Trainer has none either)
    ctx = context(False, tokenizer, EncoderDims.from_hf_config(model.encoder.config))
    hp = HParams(learning_rate=3e-5, batch_size=bs, micro_batch_size=bs, max_steps=steps, warmup_ratio=0.0)
    random.seed(0)
    torch.manual_seed(0)
    set_determinism(deterministic)
    seen = determinism_now()
    t0 = time.perf_counter()
    tally, _ = train(ctx, model, "bench", [TrainTask("copa", "mc", encoded)], hp, seed=0, group_by_length=group)
    elapsed = time.perf_counter() - t0
    return {
        "examples": tally.examples,
        "wall_s": elapsed,
        "examples_per_s": tally.examples / elapsed,
        "padding_efficiency": tally.tokens_nonpad / tally.tokens_padded,
        "deterministic": seen,
    }


def _trainer_module(inner, counts: dict):
    """The job's EncoderWithHeads behind the interface Trainer calls: forward(**batch) -> loss.
    The loss is the job's (``micro_backward``): cross-entropy of the fp32 choice scores. It counts
    what it trains on in ``counts`` (the collator cannot: accelerate's loader collates one batch
    ahead, to know which is the last)."""
    from torch import nn

    class ForTrainer(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = inner
            self.loss_fn = nn.CrossEntropyLoss()

        def forward(self, input_ids, attention_mask, labels, n_examples):
            counts["examples"] += int(n_examples)
            counts["nonpad"] += int(attention_mask.sum())
            counts["padded"] += attention_mask.numel()
            logits = self.inner(input_ids, attention_mask, "mc")
            scores = logits.view(int(n_examples), -1).float()
            return {"loss": self.loss_fn(scores, labels), "logits": scores}

    return ForTrainer()


def run_trainer(fresh_model, tokenizer, encoded, steps: int, bs: int, group: bool, deterministic: bool) -> dict:
    import torch
    from transformers import Trainer, TrainerCallback, TrainingArguments
    from transformers.trainer_pt_utils import LengthGroupedSampler

    from xcost_tui.job.batching import collate

    counts = {"examples": 0, "nonpad": 0, "padded": 0}
    model = _trainer_module(fresh_model(), counts)
    seen: dict[str, str] = {}

    def collator(items):
        b = collate(items, "mc", tokenizer.pad_token_id)  # the job's own padding: to the batch's longest
        return {
            "input_ids": b.input_ids,
            "attention_mask": b.attention_mask,
            "labels": b.labels,
            "n_examples": torch.tensor(b.n_examples),
        }

    class Grouped(Trainer):
        # Trainer's group_by_length takes the lengths from a `datasets` column or len(item["input_ids"]);
        # a multiple-choice item's input_ids is its list of choices (len 2), so the lengths are given
        # here as the column would give them: each example's longest choice (Encoded.length), which
        # is what the job groups by. The sampler is Trainer's own.
        def _get_train_sampler(self, train_dataset=None):
            if self.args.train_sampling_strategy != "group_by_length":
                return super()._get_train_sampler(train_dataset)
            size = self.args.train_batch_size * self.args.gradient_accumulation_steps
            return LengthGroupedSampler(size, lengths=[e.length for e in encoded])

    class Watch(TrainerCallback):
        def on_step_begin(self, args, state, control, **kw):
            seen.setdefault("deterministic", determinism_now())

    with tempfile.TemporaryDirectory(prefix="xcost-bench-trainer-") as out:
        args = TrainingArguments(
            output_dir=out,
            per_device_train_batch_size=bs,
            max_steps=steps,
            learning_rate=3e-5,
            weight_decay=0.01,  # the job's HParams default
            warmup_steps=0,
            lr_scheduler_type="linear",
            max_grad_norm=1.0,
            optim="adamw_torch_fused",  # the job's optimiser (loops._optimizer)
            train_sampling_strategy="group_by_length" if group else "random",
            remove_unused_columns=False,
            report_to=[],
            save_strategy="no",
            logging_strategy="no",
            use_cpu=True,
            dataloader_num_workers=0,
            seed=0,
            disable_tqdm=True,
        )
        set_determinism(deterministic)
        trainer = Grouped(
            model=model, args=args, train_dataset=list(encoded), data_collator=collator, callbacks=[Watch()]
        )
        t0 = time.perf_counter()
        out_metrics = trainer.train()
        elapsed = time.perf_counter() - t0
    return {
        "examples": counts["examples"],
        "wall_s": elapsed,
        "examples_per_s": counts["examples"] / elapsed,
        "padding_efficiency": counts["nonpad"] / counts["padded"],
        "deterministic": seen.get("deterministic", "not seen"),
        # Trainer's own figure leaves out some of its start-up; the ratios use the stricter wall above.
        "self_reported_examples_per_s": out_metrics.metrics.get("train_samples_per_second"),
    }


def set_threads(n: int | None) -> None:
    import torch

    if n:
        torch.set_num_threads(n)


def threads_now() -> int:
    import torch

    return torch.get_num_threads()


def arm_name(loop: str, group: bool) -> str:
    return f"{loop}_{'grouped' if group else 'ungrouped'}"


def summarise(res: dict[str, list[dict]], policies: tuple[bool, ...]) -> dict[str, dict]:
    """The paired ratios of every repeat and their medians: like for like per padding policy, and
    each loop's gain from grouping when both policies ran."""
    eps = {k: [r["examples_per_s"] for r in v] for k, v in res.items()}
    pairs: dict[str, tuple[str, str]] = {}
    for group in policies:
        pairs[f"job/trainer {'grouped' if group else 'ungrouped'}"] = (
            arm_name("job", group),
            arm_name("trainer", group),
        )
    if len(policies) == 2:
        pairs["padding gain job (grouped/ungrouped)"] = ("job_grouped", "job_ungrouped")
        pairs["padding gain trainer (grouped/ungrouped)"] = ("trainer_grouped", "trainer_ungrouped")
    return {
        name: {
            "numerator": a,
            "denominator": b,
            "per_repeat": [x / y for x, y in zip(eps[a], eps[b])],
            "median_paired": paired_median(eps[a], eps[b]),
        }
        for name, (a, b) in pairs.items()
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--grouping", choices=sorted(POLICIES), default="both")
    ap.add_argument("--deterministic", choices=["on", "off"], default="on")
    ap.add_argument("--threads", type=int, help="torch threads (default: torch's own choice)")
    ap.add_argument("--json", help="write the arms' figures and the ratios here")
    a = ap.parse_args()
    deterministic = a.deterministic == "on"
    policies = POLICIES[a.grouping]
    set_threads(a.threads)
    tokenizer, fresh_model, _, encoded = setup()
    arms = [(loop, group) for group in policies for loop in ("job", "trainer")]
    runners = {"job": run_job, "trainer": run_trainer}
    # One short round of every arm, not reported: the process's first-time costs (lazy imports
    # inside the libraries, the allocator's first growth, kernel selection) fall on no measured arm.
    for loop, group in arms:
        runners[loop](fresh_model, tokenizer, encoded, min(a.steps, 5), a.batch_size, group, deterministic)
    res: dict[str, list[dict]] = {arm_name(*arm): [] for arm in arms}
    quiet_repeats = []
    with Contention() as whole:
        for r in range(a.repeats):
            with Contention() as c:
                for loop, group in rotated(arms, r):
                    out = runners[loop](fresh_model, tokenizer, encoded, a.steps, a.batch_size, group, deterministic)
                    res[arm_name(loop, group)].append(out)
            quiet_repeats.append(c.quiet)
            line = ", ".join(
                f"{arm_name(*arm)} {res[arm_name(*arm)][-1]['examples_per_s']:.1f}" for arm in rotated(arms, r)
            )
            print(c.label(f"repeat {r + 1} (in this order): {line} examples/s"), flush=True)
    summary = summarise(res, policies)
    print(
        f"\n{a.steps} steps of batch {a.batch_size}, tiny-xlmr + COPA train, {a.repeats} repeats, "
        f"deterministic algorithms {a.deterministic} in both arms, {threads_now()} torch thread(s):"
    )
    for name, rows in res.items():
        eff = rows[-1]["padding_efficiency"]
        det = sorted({row["deterministic"] for row in rows})
        extra = ""
        if rows[0].get("self_reported_examples_per_s") is not None:
            extra = f"  (Trainer's own figure {statistics.median(r['self_reported_examples_per_s'] for r in rows):.1f})"
        print(
            whole.label(
                f"  {name:18s} median {statistics.median(r['examples_per_s'] for r in rows):8.1f} examples/s  "
                f"padding efficiency {eff:.3f}  deterministic {'/'.join(det)}{extra}"
            )
        )
    print("median of paired ratios (same repeat):")
    for name, s in summary.items():
        target = "  (target >= 1.00x)" if name.startswith("job/trainer") else ""
        spread = f"{min(s['per_repeat']):.2f}-{max(s['per_repeat']):.2f}"
        print(whole.label(f"  {name:42s} {s['median_paired']:.3f}x  (repeats {spread}){target}"))
    print(whole.verdict())
    if a.json:
        with open(a.json, "w") as f:
            json.dump(
                {
                    "steps": a.steps,
                    "batch_size": a.batch_size,
                    "repeats": a.repeats,
                    "deterministic": a.deterministic,
                    "threads": threads_now(),
                    "arms": res,
                    "ratios": summary,
                    "quiet": whole.quiet,
                    "quiet_repeats": quiet_repeats,
                    "other_cores": whole.other_cores,
                },
                f,
                indent=1,
            )


if __name__ == "__main__":
    main()
