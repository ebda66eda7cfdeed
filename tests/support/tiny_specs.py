"""Small RunSpecs of the built-in tiny model, for tests that run the real job a few times (the
warm worker's, job/worker.py, and the runner's, runner/workers.py)."""

from __future__ import annotations

from pathlib import Path

from xcost_tui.spec import HParams, MeasureOpts, RunSpec

SMALL = HParams(max_examples=24, max_steps=2, batch_size=8, max_seq_len=64)
MEASURE = MeasureOpts(inference_bench_examples=2, inference_warmup=1, curve_points=0)

# A one-run plan of the tiny model, small enough to run or forecast in seconds (plan estimate's tests).
TINY_PLAN = """
[plan]
name = "tiny"
[defaults]
model = "tiny-xlmr"
langs = ["it"]
max_eval_examples = 24
[defaults.hparams]
max_examples = 48
max_steps = 4
batch_size = 8
max_seq_len = 64
[defaults.measure]
inference_bench_examples = 5
inference_warmup = 1
[[experiment]]
name = "direct"
method = "direct"
"""


def tiny_spec(data_dir: Path | str, **changes) -> RunSpec:
    """A direct tiny-xlmr run on 6 Italian items, two steps; ``changes`` replace any field."""
    base = dict(
        method="direct",
        model="tiny-xlmr",
        langs=["it"],
        max_eval_examples=6,
        eval_batch_size=8,
        data_dir=str(data_dir),
        hparams=SMALL,
        measure=MEASURE,
    )
    return RunSpec(**{**base, **changes})
