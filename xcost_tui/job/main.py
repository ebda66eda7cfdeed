"""One run, start to end, inside its own process: ``python -m xcost_tui.job RUN_DIR``.

Reads RUN_DIR/spec.json, checks all data and the model before any training starts, runs the
phases (intermediate* → target → eval:en → [few-shot:<lang>] eval:<lang> … → inference-bench)
and writes events, predictions and the final status into RUN_DIR.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import os
import random
import signal
import sys
import threading
import time
import traceback
from pathlib import Path

from .. import runfiles
from ..errors import SpecError, XcostError
from ..spec import TINY_MODEL, RunSpec

CHECKPOINT_NAME = "intermediate"


def _log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


class Job:
    def __init__(self, run_dir: Path):
        self.run_dir = run_dir
        self.events = runfiles.EventWriter(run_dir / runfiles.EVENTS)
        self.predictions = runfiles.JsonlWriter(run_dir / runfiles.PREDICTIONS)
        self.cancel = threading.Event()
        self.phase: str | None = None

    # ---- entry --------------------------------------------------------------------------------
    def main(self) -> int:
        runfiles.write_status(self.run_dir, runfiles.RUNNING, pid=os.getpid(), started=time.time(), ended=None,
                              error=None, phase=None)
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._on_signal)
        try:
            spec = self._read_spec()
            self._run(spec)
        except BaseException as exc:  # noqa: BLE001 - every ending is recorded
            return self._finish_error(exc)
        self._finish(runfiles.SUCCEEDED)
        return 0

    def _on_signal(self, signum, frame) -> None:
        _log(f"received {signal.Signals(signum).name}: cancelling after the current batch")
        self.cancel.set()

    def _read_spec(self) -> RunSpec:
        path = self.run_dir / runfiles.SPEC
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise SpecError(f"{path}: no spec.json in the run directory") from None
        except json.JSONDecodeError as exc:
            raise SpecError(f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}") from None
        return RunSpec.from_dict(data, where=str(path))

    def _finish(self, status: str, **extra) -> None:
        self.events.emit("run_end", status=status, error=extra.get("error"), phase=extra.get("phase"),
                         traceback=extra.get("traceback"))
        runfiles.write_status(self.run_dir, status, ended=time.time(), **extra)
        self.events.close()
        self.predictions.close()

    def _finish_error(self, exc: BaseException) -> int:
        from .loops import Cancelled

        if isinstance(exc, (Cancelled, KeyboardInterrupt)):
            _log(f"cancelled during {self.phase or 'start-up'}")
            self._finish(runfiles.CANCELLED, phase=self.phase, error="cancelled by signal")
            return 143
        if isinstance(exc, XcostError):
            message, tb = str(exc), None
        else:
            message, tb = f"{type(exc).__name__}: {exc}", traceback.format_exc()
            traceback.print_exc()
        print(f"error: {message}", file=sys.stderr, flush=True)
        self._finish(runfiles.FAILED, phase=self.phase, error=message, traceback=tb)
        return 2 if isinstance(exc, XcostError) else 1

    # ---- the run ------------------------------------------------------------------------------
    def _run(self, spec: RunSpec) -> None:

        from ..measure.env import collect_env
        from ..measure.flops import EncoderDims
        from ..tasks import all_texts, get_task, load_examples
        from . import model as models
        from .loops import JobContext

        seed_everything(spec.seed)
        device = pick_device(spec.device)
        self.events.emit("run_start", run_id=self.run_dir.name, spec=spec.to_dict(),
                         env=collect_env(device.type, device.name, device.count, device.precision),
                         phases_planned=spec.phases_planned)
        _log(f"run {self.run_dir.name}: {spec.method} on {spec.model}, device {device.name} ({device.precision})")

        # 1. All data first: a bad file fails here, before any training.
        data = load_run_data(spec, load_examples, get_task)

        # 2. The model: from a saved encoder, the hub/a path, or built in.
        reused_meta = None
        if spec.init_from:
            tokenizer, model, reused_meta = models.load_checkpoint(Path(spec.init_from))
            if reused_meta.get("key") != spec.intermediate_key():
                raise SpecError(f"init_from {spec.init_from!r} was trained with other settings "
                                f"({reused_meta.get('key')}) than this run's intermediate phase ({spec.intermediate_key()})")
        elif spec.model == TINY_MODEL:
            texts = [t for exs in data.all_lists() for t in all_texts(exs)]
            vocab = {**models.TINY_DIMS, **spec.tiny_model_dims}["vocab_size"]
            tokenizer = models.train_tiny_tokenizer(texts, vocab)
            model = models.EncoderWithHeads(models.build_tiny_encoder(tokenizer, spec.tiny_model_dims, spec.seed))
        else:
            tokenizer, encoder = models.load_pretrained(spec.model)
            model = models.EncoderWithHeads(encoder)
        model.to(device.torch_device)

        ctx = JobContext(device=device, events=self.events, measure=spec.measure,
                         dims=EncoderDims.from_hf_config(model.encoder.config), pad_id=tokenizer.pad_token_id,
                         cancel=self.cancel, log=_log, memory_now=lambda: (None, None, None))
        runner = PhaseRunner(self, spec, ctx, model, tokenizer)
        runner.run_all(data, reused_meta)


# ---- data -------------------------------------------------------------------------------------

@dataclasses.dataclass
class RunData:
    intermediate: dict[str, list]
    target_train: list
    english_eval: list
    target_eval: dict[str, list]  # lang -> examples
    few_shot_pool: dict[str, list]  # lang -> validation examples to draw k from

    def all_lists(self):
        yield from self.intermediate.values()
        yield self.target_train
        yield self.english_eval
        yield from self.target_eval.values()
        yield from self.few_shot_pool.values()


def load_run_data(spec: RunSpec, load_examples, get_task) -> RunData:
    d = spec.data_dir
    hp_i = spec.intermediate_hparams
    intermediate = {}
    if not spec.init_from and spec.method != "direct":
        for task in spec.intermediate:
            intermediate[task] = load_examples(task, "train", data_dir=d, limit=hp_i.max_examples)
    target_train = load_examples(spec.target, "train", data_dir=d, limit=spec.hparams.max_examples)
    english = load_examples(spec.target, "validation", data_dir=d, limit=spec.max_eval_examples) if spec.eval_english else []
    target_eval, pool = {}, {}
    for lang in spec.langs:
        target_eval[lang] = load_examples("xcopa", spec.eval_split, data_dir=d, lang=lang, limit=spec.max_eval_examples)
        if spec.method == "few-shot":
            pool[lang] = load_examples("xcopa", "validation", data_dir=d, lang=lang)
            if spec.few_shot_k > len(pool[lang]):
                raise SpecError(f"few_shot_k={spec.few_shot_k} but the xcopa validation split of {lang!r} has only "
                                f"{len(pool[lang])} examples to draw from; use k <= {len(pool[lang])}")
    for name, exs in [(spec.target, target_train), *intermediate.items()]:
        if not exs:
            raise SpecError(f"task {name!r}: the training split is empty")
        if any(e.label < 0 for e in exs):
            raise SpecError(f"task {name!r}: the training split has unlabelled rows (label -1)")
    return RunData(intermediate, target_train, english, target_eval, pool)


def phase_seed(seed: int, phase: str) -> int:
    import hashlib

    return int.from_bytes(hashlib.sha256(f"{seed}:{phase}".encode()).digest()[:4], "little")


def few_shot_sample(pool: list, k: int, seed: int, lang: str) -> list:
    """k examples drawn by seed, the same for every method so few-shot runs are comparable."""
    rng = random.Random(f"few-shot:{seed}:{lang}")
    return sorted(rng.sample(range(len(pool)), k))


# ---- device -------------------------------------------------------------------------------------

def seed_everything(seed: int) -> None:
    import torch

    random.seed(seed)
    torch.manual_seed(seed)
    try:
        import numpy as np

        np.random.seed(seed)
    except ImportError:  # pragma: no cover
        pass
    torch.use_deterministic_algorithms(True, warn_only=True)


def pick_device(requested: str):
    import torch

    from .loops import Device

    if requested == "cpu" or (requested == "auto" and not torch.cuda.is_available()):
        import platform

        name = platform.processor() or platform.machine() or "cpu"
        try:
            with open("/proc/cpuinfo", encoding="utf-8") as fh:
                for line in fh:
                    if line.startswith("model name"):
                        name = line.split(":", 1)[1].strip()
                        break
        except OSError:
            pass
        return Device(torch.device("cpu"), "cpu", name, 1, "fp32")
    if not torch.cuda.is_available():
        raise SpecError(f"device {requested!r} asked for, but torch sees no CUDA GPU here (torch {torch.__version__}); use device = 'auto' or 'cpu'")
    dev = torch.device("cuda" if requested == "auto" else requested)
    index = dev.index if dev.index is not None else torch.cuda.current_device()
    torch.cuda.set_device(index)
    precision = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return Device(dev, "cuda", torch.cuda.get_device_name(index), 1, precision, [nvml_index(index)])


def nvml_index(torch_index: int) -> int:
    """NVML numbers every GPU on the machine; torch numbers those CUDA_VISIBLE_DEVICES shows."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible:
        parts = [p.strip() for p in visible.split(",") if p.strip()]
        if torch_index < len(parts) and parts[torch_index].isdigit():
            return int(parts[torch_index])
    return torch_index


# ---- phases -------------------------------------------------------------------------------------

class PhaseRunner:
    def __init__(self, job: Job, spec: RunSpec, ctx, model, tokenizer):
        self.job, self.spec, self.ctx, self.model, self.tokenizer = job, spec, ctx, model, tokenizer
        self.completed: list[dict] = []  # phase_end events of this run

    def run_all(self, data: RunData, reused_meta: dict | None) -> None:
        from .model import head_key

        spec = self.spec
        # Intermediate phase(s), or the record that they were reused.
        if reused_meta is not None:
            for rec in reused_meta.get("phases", []):
                self._reused_phase(rec, reused_meta)
        elif data.intermediate:
            groups = ([list(data.intermediate)] if spec.intermediate_mode == "mixed"
                      else [[t] for t in data.intermediate])
            for tasks in groups:
                self._train_phase("intermediate:" + "+".join(tasks), "intermediate",
                                  {t: data.intermediate[t] for t in tasks}, spec.intermediate_hparams)
            if spec.save_encoder:
                self._save_checkpoint()

        self._train_phase(f"target:{spec.target}", "target", {spec.target: data.target_train}, spec.hparams)
        target_head = head_key(*self._head_of(spec.target))

        if spec.eval_english:
            self._eval_phase("eval:en", spec.target, "en", "validation", data.english_eval, target_head)

        base_state = copy.deepcopy(self.model.state_dict()) if spec.method == "few-shot" else None
        last_eval = data.english_eval
        for lang in spec.langs:
            if base_state is not None:
                self.model.load_state_dict(base_state)
                pool = data.few_shot_pool[lang]
                picked = few_shot_sample(pool, spec.few_shot_k, spec.seed, lang)
                self._train_phase(f"few-shot:{lang}", "few-shot", {"xcopa": [pool[i] for i in picked]},
                                  spec.few_shot_hparams, lang=lang,
                                  info={"k": spec.few_shot_k, "few_shot_indices": [pool[i].idx for i in picked]})
            self._eval_phase(f"eval:{lang}", "xcopa", lang, spec.eval_split, data.target_eval[lang], target_head)
            last_eval = data.target_eval[lang] or last_eval
        if base_state is not None:
            self.model.load_state_dict(base_state)
        self._inference_bench(last_eval, target_head)

    # ---- helpers -----------------------------------------------------------------------------
    def _head_of(self, task: str) -> tuple[str, int | None]:
        from ..tasks import get_task

        t = get_task(task)
        return t.head, t.num_labels

    def _begin(self, phase: str, kind: str, total_steps: int | None):
        from ..measure.timer import PhaseMeter

        self.job.phase = phase
        runfiles.write_status(self.job.run_dir, runfiles.RUNNING, phase=phase)
        self.ctx.events.emit("phase_start", phase=phase, kind=kind, total_steps=total_steps)
        d = self.ctx.device
        meter = PhaseMeter(d.type, str(d.torch_device), d.nvml_indices, enabled_memory=self.spec.measure.enabled)
        if self.spec.measure.enabled:
            self.ctx.memory_now = lambda: meter.memory.current()
        return meter

    def _end(self, phase: str, kind: str, meter, tally, *, tasks, lang=None, info=None, extra_costs=None):
        from ..measure.cost import Cost
        from ..measure.mfu import mfu, peak_flops
        from ..measure.timer import throughput

        costs = dict(meter.costs())
        wall = costs["wall_s"].value or 0.0
        if tally is not None:
            costs["examples"] = Cost.measured(tally.examples, "count", "counted")
            costs["steps"] = Cost.measured(tally.steps, "count", "counted")
            costs["tokens_nonpad"] = Cost.measured(tally.tokens_nonpad, "count", "counted")
            costs["tokens_padded"] = Cost.measured(tally.tokens_padded, "count", "counted")
            costs["padding_efficiency"] = (Cost.measured(tally.tokens_nonpad / tally.tokens_padded, "ratio", "counted")
                                           if tally.tokens_padded else Cost.missing("ratio", "no tokens processed"))
            costs["flops_analytic"] = Cost.measured(tally.flops_analytic, "FLOP", "analytic")
            if tally.sampler is not None:
                costs["flops_measured"] = tally.sampler.extrapolate(tally.tokens_padded)
            else:
                costs["flops_measured"] = Cost.missing("FLOP", "measurement off (measure.enabled = false)")
            costs["examples_per_s"] = throughput(tally.examples, wall, "examples/s")
            costs["tokens_per_s"] = throughput(tally.tokens_nonpad, wall, "tokens/s")
            peak, reason = peak_flops(self.ctx.device.name, self.ctx.device.precision)
            costs["mfu"] = mfu(tally.flops_analytic, wall, peak, self.ctx.device.count) if peak else Cost.missing("ratio", reason)
        costs.update(extra_costs or {})
        record = self.ctx.events.emit(
            "phase_end", phase=phase, kind=kind, tasks=tasks, lang=lang, reused_from=None,
            costs={k: v.to_dict() for k, v in costs.items()}, info=info or {},
        )
        self.completed.append(record)
        self.ctx.memory_now = lambda: (None, None, None)
        return record

    def _train_phase(self, phase: str, kind: str, task_data: dict[str, list], hp, *, lang=None, info=None) -> None:
        from .batching import encode
        from .loops import TrainTask, plan_steps, train
        from .model import head_key

        # Each phase starts from its own seed, so a phase's randomness (new heads, dropout) does not
        # depend on what ran before it: a run started from a saved encoder matches one that trained it.
        import torch

        torch.manual_seed(phase_seed(self.spec.seed, phase))
        tasks = []
        reinit = {}
        for name, exs in task_data.items():
            key = head_key(*self._head_of(name))
            reinit[name] = self.model.ensure_head(key)
            tasks.append(TrainTask(name, key, encode(exs, self.tokenizer, hp.max_seq_len)))
        total_steps, _ = plan_steps(tasks, hp)
        meter = self._begin(phase, kind, total_steps)
        with meter:
            tally, facts = train(self.ctx, self.model, phase, tasks, hp, self.spec.seed)
        self._end(phase, kind, meter, tally, tasks=list(task_data), lang=lang,
                  info={**facts, "precision": self.ctx.device.precision, "head_initialised": reinit,
                        "max_seq_len": hp.max_seq_len, **(info or {})})

    def _eval_phase(self, phase: str, task: str, lang: str, split: str, examples: list, head: str) -> None:
        from .batching import encode
        from .loops import evaluate

        encoded = encode(examples, self.tokenizer, self.spec.hparams.max_seq_len)
        meter = self._begin(phase, "eval", math.ceil(len(encoded) / self.spec.eval_batch_size))
        with meter:
            tally, rows = evaluate(self.ctx, self.model, encoded, head, self.spec.eval_batch_size)
        correct = sum(r["correct"] for r in rows)
        labelled = sum(1 for r in rows if r["label"] >= 0)
        accuracy = correct / labelled if labelled else None
        for r in rows:
            self.job.predictions.write({"phase": phase, "task": task, "lang": lang, "split": split, **r})
        self._end(phase, "eval", meter, tally, tasks=[task], lang=lang,
                  info={"split": split, "batch_size": self.spec.eval_batch_size})
        self.ctx.events.emit("eval_result", phase=phase, task=task, lang=lang, split=split,
                             accuracy=accuracy, n=labelled, correct=correct)
        _log(f"{phase}: accuracy {accuracy if accuracy is None else round(accuracy, 4)} on {labelled} examples")

    def _inference_bench(self, examples: list, head: str) -> None:
        from .batching import encode
        from .bench import inference_bench

        encoded = encode(examples, self.tokenizer, self.spec.hparams.max_seq_len)
        meter = self._begin("inference-bench", "inference-bench", None)
        with meter:
            extra, facts = inference_bench(self.ctx, self.model, encoded, head, self.spec)
        self._end("inference-bench", "inference-bench", meter, None, tasks=[], extra_costs=extra, info=facts)

    def _save_checkpoint(self) -> None:
        from .model import save_checkpoint

        path = self.job.run_dir / runfiles.CHECKPOINTS / CHECKPOINT_NAME
        phases = [p for p in self.completed if p["kind"] == "intermediate"]
        save_checkpoint(path, self.model, self.tokenizer,
                        {"key": self.spec.intermediate_key(), "run_id": self.job.run_dir.name,
                         "run_dir": str(self.job.run_dir.resolve()), "phases": phases})
        self.ctx.events.emit("checkpoint_saved", phase=phases[-1]["phase"] if phases else None,
                             path=str(path.relative_to(self.job.run_dir)), key=self.spec.intermediate_key())
        _log(f"saved the encoder after the intermediate phase(s) to {path}")

    def _reused_phase(self, rec: dict, meta: dict) -> None:
        """The record of a phase this run did not execute: its cost was counted where it was incurred."""
        reason = f"reused: counted in {meta.get('run_id')}"
        costs = {name: {"value": None, "unit": c.get("unit"), "source": None, "reason": reason}
                 for name, c in rec.get("costs", {}).items()}
        self.ctx.events.emit("phase_start", phase=rec["phase"], kind=rec["kind"], total_steps=None)
        record = self.ctx.events.emit(
            "phase_end", phase=rec["phase"], kind=rec["kind"], tasks=rec.get("tasks", []), lang=None,
            reused_from={"run_id": meta.get("run_id"), "run_dir": meta.get("run_dir"), "phase": rec["phase"]},
            costs=costs, info={"reused": True, "original_costs": rec.get("costs", {})},
        )
        self.completed.append(record)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m xcost_tui.job RUN_DIR", file=sys.stderr)
        return 2
    run_dir = Path(argv[0])
    if not run_dir.is_dir():
        print(f"error: run directory {run_dir} does not exist", file=sys.stderr)
        return 2
    return Job(run_dir).main()
