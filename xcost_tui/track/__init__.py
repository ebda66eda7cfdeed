"""Measure your own training script: a measured run and its phases, written into a store as the
tool's own job writes its runs (docs/measurement.md, "Measuring your own training script").

    from xcost_tui.track import measured_run

    with measured_run(store="store", method="direct", model="xlm-roberta-base", seed=1,
                      hparams={"learning_rate": 1e-5, "batch_size": 32, "epochs": 3}) as run:
        with run.phase("target:copa") as phase:
            trainer.train()
            phase.steps = trainer.state.global_step
        with run.phase("eval:th"):
            output = trainer.predict(xcopa_th)
            run.record_eval("th", zip(ids, output.predictions.argmax(-1), output.label_ids))

then ``xcost-tui ingest --store store``. With Hugging Face's Trainer, ``XcostCallback(run)``
(``xcost_tui.track.callback``, which imports transformers) measures the training phase from
Trainer's hooks. Importing this package loads neither torch nor transformers.
"""

from .run import MeasuredPhase, MeasuredRun, external_spec, measured_run

__all__ = ["MeasuredPhase", "MeasuredRun", "external_spec", "measured_run"]
