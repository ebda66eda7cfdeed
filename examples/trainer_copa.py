"""Measure your own Hugging Face Trainer script with xcost-tui: fine-tune on English COPA, evaluate
on XCOPA languages, and land the run in a store beside the tool's own runs.

    XCOST_DATA_DIR=../shared/data python examples/trainer_copa.py --store store
    xcost-tui ingest --store store
    xcost-tui report --store store --out report

The model is a tiny XLM-R with random weights and a tokenizer trained on COPA's training text
(the shape of the tool's built-in ``tiny-xlmr``), so the script runs in seconds on a CPU and its
accuracies are chance: it shows the plumbing, not a result. For a real model, load it with
``AutoModelForMultipleChoice.from_pretrained(...)`` and name it in ``measured_run(model=...)``.
docs/measurement.md, "Measuring your own training script", says what is measured as the tool's
own job measures it and what is not.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile

import torch
from transformers import Trainer, TrainingArguments, XLMRobertaConfig, XLMRobertaForMultipleChoice

from xcost_tui.job.model import train_tiny_tokenizer  # the tool's tiny-xlmr tokenizer recipe (BPE, XLM-R specials)
from xcost_tui.tasks import load_examples
from xcost_tui.track import measured_run
from xcost_tui.track.callback import XcostCallback, predictions_from

DIMS = {
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "intermediate_size": 64,
    "vocab_size": 1000,
}


class ChoicePairs(torch.utils.data.Dataset):
    """COPA/XCOPA items as Trainer's multiple-choice batches: the context paired with each choice."""

    def __init__(self, examples, tokenizer, max_len: int):
        self.examples, self.tokenizer, self.max_len = examples, tokenizer, max_len

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, i: int) -> dict:
        ex = self.examples[i]
        enc = self.tokenizer(
            [ex.context] * len(ex.choices),
            list(ex.choices),
            truncation=True,
            max_length=self.max_len,
            padding="max_length",
            return_tensors="pt",
        )
        return {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"], "labels": ex.label}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", default="store", help="the xcost-tui store to write the run into (default: store)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-steps", type=int, default=8, help="optimiser steps (default: 8)")
    parser.add_argument(
        "--langs", default="it,th", help="XCOPA languages to evaluate, comma-separated (default: it,th)"
    )
    parser.add_argument("--eval-items", type=int, default=20, help="items evaluated per language (default: 20)")
    args = parser.parse_args(argv)
    data_dir = os.environ.get("XCOST_DATA_DIR")  # None: the Hugging Face hub
    langs = [lang for lang in args.langs.split(",") if lang]
    batch, max_len, lr = 8, 64, 1e-4

    train = load_examples("copa", "train", data_dir=data_dir)
    english = load_examples("copa", "validation", data_dir=data_dir, limit=args.eval_items)
    xcopa = {
        lang: load_examples("xcopa", "test", data_dir=data_dir, lang=lang, limit=args.eval_items) for lang in langs
    }
    texts = [t for ex in train for t in (ex.context, *ex.choices)]
    tokenizer = train_tiny_tokenizer(texts, DIMS["vocab_size"])

    # What the run is, in the tool's words: the verdict groups and pairs it by this spec.
    with (
        contextlib.ExitStack() as stack,
        measured_run(
            store=args.store,
            method="direct",
            model="tiny-xlmr",
            seed=args.seed,
            hparams={
                "learning_rate": lr,
                "batch_size": batch,
                "max_steps": args.max_steps,
                "warmup_ratio": 0.0,
                "weight_decay": 0.0,
                "max_seq_len": max_len,
            },
            langs=langs,
            max_eval_examples=args.eval_items,
            tiny_model_dims=DIMS,
            phases=["target:copa", "eval:en", *(f"eval:{lang}" for lang in langs)],
        ) as run,
    ):
        torch.manual_seed(args.seed)
        config = XLMRobertaConfig(
            vocab_size=len(tokenizer),
            hidden_size=DIMS["hidden_size"],
            num_hidden_layers=DIMS["num_hidden_layers"],
            num_attention_heads=DIMS["num_attention_heads"],
            intermediate_size=DIMS["intermediate_size"],
            max_position_embeddings=max_len + 4,
            pad_token_id=tokenizer.pad_token_id,
        )
        model = XLMRobertaForMultipleChoice(config)
        scratch = stack.enter_context(tempfile.TemporaryDirectory())  # Trainer's output folder: nothing kept
        training = TrainingArguments(
            output_dir=scratch,
            per_device_train_batch_size=batch,
            per_device_eval_batch_size=32,
            learning_rate=lr,
            max_steps=args.max_steps,
            weight_decay=0.0,
            logging_steps=1,
            save_strategy="no",
            report_to=[],
            seed=args.seed,
            use_cpu=not torch.cuda.is_available(),
            include_num_input_tokens_seen="non_padding",
            disable_tqdm=True,
        )
        trainer = Trainer(
            model=model,
            args=training,
            train_dataset=ChoicePairs(train, tokenizer, max_len),
            callbacks=[XcostCallback(run)],  # measures trainer.train() as target:copa
        )
        trainer.train()
        for lang, items in [("en", english), *xcopa.items()]:
            with run.phase(f"eval:{lang}", examples=len(items)):
                output = trainer.predict(ChoicePairs(items, tokenizer, max_len))
                run.record_eval(lang, predictions_from(output, [ex.idx for ex in items]))
        print(f"run {run.run_id} written to {run.run_dir}; now: xcost-tui ingest --store {args.store}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
