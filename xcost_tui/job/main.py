"""One run, start to end, inside its own process: ``python -m xcost_tui.job RUN_DIR``.

Reads RUN_DIR/spec.json, checks all data and the model before any training starts, runs the
phases of ``RunSpec.phase_plan()`` (intermediate* → target → eval:en → [few-shot:<lang>]
eval:<lang> … → inference-bench) and writes typed events (xcost_tui.rundir), predictions and the
final status into RUN_DIR. After the target phase and English validation, a collapse check
(xcost_tui/collapse.py) may train the target phase again (``collapse_retries``: target:copa#2,
eval:en#2, ...).
"""

from __future__ import annotations

import copy
import dataclasses
import math
import random
import signal
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from ..errors import DataError, SpecError, WriteError, XcostError
from ..rundir import (
    CheckpointSaved,
    EventWriter,
    JsonlWriter,
    PhaseEnd,
    PhaseStart,
    Prediction,
    ProcessRef,
    ReusedFrom,
    RunDir,
    RunEnd,
    RunStart,
    RunStatus,
    update_status,
)
from ..rundir.cost import Cost
from ..rundir.events import DataLoaded, ModelLoaded
from ..spec import TINY_MODEL, PhaseKind, PlannedPhase, RunSpec, phase_attempt

if TYPE_CHECKING:
    import subprocess


def _log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def _apply_thread_share() -> int | None:
    """The CPU share the runner (or SLURM's --cpus-per-task) gave this job, applied to the thread
    pools' environment (docs/runner.md, "CPU share")."""
    from ..measure.contention import apply_thread_share

    return apply_thread_share()


class Job:
    def __init__(self, run_dir: Path, cancel: threading.Event | None = None):
        self.run_dir = run_dir
        self.files = RunDir(run_dir)
        self.events = EventWriter(self.files.events)
        self.predictions = JsonlWriter(self.files.predictions)
        self.cancel = cancel or threading.Event()
        self.phase: str | None = None
        self._sampler: subprocess.Popen[Any] | None = None  # the sampler process beside this job (runner/sampler.py)

    # ---- entry --------------------------------------------------------------------------------
    def main(self) -> int:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._on_signal)
        threads = _apply_thread_share()  # before torch is imported: its thread pools read the environment
        try:
            update_status(
                self.run_dir,
                RunStatus.RUNNING,
                job=ProcessRef.current(),
                started=time.time(),
                ended=None,
                error=None,
                phase=None,
                exit_code=None,
            )
            self._start_sampler()
            if threads:
                import torch

                torch.set_num_threads(threads)
                _log(f"cpu share: {threads} thread(s)")
            spec = self._read_spec()
            self._run(spec)
        except BaseException as exc:  # noqa: BLE001 - every ending is recorded
            return self._finish_error(exc)
        return self._finish(RunStatus.SUCCEEDED) or 0

    def _start_sampler(self) -> None:
        """The sampler process beside this job: it samples the job's process tree and its GPUs into
        samples.jsonl (runner/sampler.py); phases take their contention evidence from it too."""
        from ..measure.sampler import spawn_beside
        from ..measure.timer import watch_samples

        self._sampler = spawn_beside(self.run_dir)
        watch_samples(self.files.samples if self._sampler is not None else None)

    def _stop_sampler(self) -> None:
        from ..measure.sampler import stop_beside
        from ..measure.timer import watch_samples

        stop_beside(self._sampler)
        self._sampler = None
        watch_samples(None)

    def _on_signal(self, signum: int, frame: object) -> None:
        _log(f"received {signal.Signals(signum).name}: cancelling after the current batch")
        self.cancel.set()

    def _read_spec(self) -> RunSpec:
        path = self.files.spec
        try:
            data = self.files.read_spec()
        except FileNotFoundError:
            raise SpecError(f"{path}: no spec.json in the run directory") from None
        except ValueError as exc:
            raise SpecError(str(exc)) from None
        return RunSpec.from_dict(data, where=str(path))

    def _finish(
        self, status: RunStatus, *, error: str | None = None, traceback_text: str | None = None, exit_code: int = 0
    ) -> int | None:
        """Records the end: the run_end event, then status.json. On a full or read-only disk the
        cause is said once and the exit code is 3; status.json then still says where the run was
        (the runner records the failure with the job's exit code)."""
        try:
            self.events.emit(
                RunEnd(status.value, error, self.phase if status != RunStatus.SUCCEEDED else None, traceback_text)
            )
            update_status(
                self.run_dir,
                status,
                ended=time.time(),
                error=error,
                exit_code=exit_code,
                phase=self.phase if status != RunStatus.SUCCEEDED else None,
            )
        except WriteError as exc:
            print(f"error: could not record the run's end ({status.value}): {exc}", file=sys.stderr, flush=True)
            return 3
        finally:
            self._stop_sampler()
            self.events.close()
            self.predictions.close()
        return None

    def _finish_error(self, exc: BaseException) -> int:
        from .loops import Cancelled

        if isinstance(exc, (Cancelled, KeyboardInterrupt)):
            _log(f"cancelled during {self.phase or 'start-up'}")
            return self._finish(RunStatus.CANCELLED, error="cancelled by signal", exit_code=143) or 143
        if isinstance(exc, XcostError):
            message, tb = str(exc), None
        else:
            message, tb = f"{type(exc).__name__}: {exc}", traceback.format_exc()
            traceback.print_exc()
        print(f"error: {message}", file=sys.stderr, flush=True)
        code = 2 if isinstance(exc, XcostError) else 1
        if isinstance(exc, WriteError):
            code = 3
        return self._finish(RunStatus.FAILED, error=message, traceback_text=tb, exit_code=code) or code

    # ---- the run ------------------------------------------------------------------------------
    def _run(self, spec: RunSpec) -> None:

        from ..measure.env import collect_env
        from ..measure.flops import EncoderDims
        from ..tasks import all_texts, get_task, load_split
        from . import model as models
        from .loops import JobContext

        seed_everything(spec.seed)
        device = pick_device(spec.device)
        if spec.method == "icl":  # the causal LM's weights are loaded in their precision (no autocast)
            from .icl import model_precision

            device = dataclasses.replace(device, precision=model_precision(spec.model_dtype, device.type))
        self.events.emit(
            RunStart(
                self.files.run_id,
                spec.to_dict(),
                collect_env(device.type, device.name, device.count, device.precision),
                spec.phases_planned,
            )
        )
        _log(f"run {self.run_dir.name}: {spec.method} on {spec.model}, device {device.name} ({device.precision})")

        # 1. All data first: a bad file fails here, before any training. Each split read is recorded.
        data = load_run_data(spec, load_split, get_task, log=_log)
        for source in data.sources:
            self.events.emit(data_loaded_event(source))
            _log(
                f"data: {source.task} {source.split}{'' if source.lang == 'en' else ' ' + source.lang} "
                f"({source.role}): {source.used} of {source.rows} rows from {source.describe()}"
                + (f"; fallback {source.fallback}: {source.note}" if source.fallback else "")
                + (
                    f"; {source.questions_corrected} questions taken from English COPA"
                    if source.questions_corrected
                    else ""
                )
            )
        if spec.method == "icl":  # no training: a causal LM prompted with k demonstrations (job/icl.py)
            from .icl import run_icl

            return run_icl(self, spec, device, data)

        # 2. The model: from a saved encoder, the hub/a path, or built in.
        reused_meta = None
        if spec.init_from:
            tokenizer, model, reused_meta = models.load_checkpoint(Path(spec.init_from))
            if reused_meta.get("key") != spec.intermediate_key():
                raise SpecError(
                    f"init_from {spec.init_from!r} was trained with other settings "
                    f"({reused_meta.get('key')}) than this run's intermediate phase ({spec.intermediate_key()})"
                )
            loaded = ModelLoaded(spec.model, "checkpoint", None, str(spec.init_from), "checkpoint")
        elif spec.model == TINY_MODEL:
            # Training splits only: a tokenizer that saw evaluation text would leak it (docs/tasks.md).
            texts = [t for _, exs in data.tokenizer_lists(spec) for t in all_texts(exs)]
            vocab = {**models.TINY_DIMS, **spec.tiny_model_dims}["vocab_size"]
            tokenizer = models.train_tiny_tokenizer(texts, vocab)
            model = models.EncoderWithHeads(models.build_tiny_encoder(tokenizer, spec.tiny_model_dims, spec.seed))
            loaded = ModelLoaded(
                spec.model,
                "built-in",
                None,
                None,
                "trained-in-process",
                len(texts),
                [name for name, _ in data.tokenizer_lists(spec)],
            )
        else:
            tokenizer, encoder = models.load_pretrained(spec.model)
            model = models.EncoderWithHeads(encoder)
            local = Path(spec.model).expanduser().is_dir()
            loaded = ModelLoaded(
                spec.model,
                "local" if local else "hub",
                models.resolved_revision(encoder),
                str(Path(spec.model).expanduser().resolve()) if local else None,
                "pretrained",
            )
        self.events.emit(loaded)
        _log(f"model: {spec.model} ({loaded.source}{', revision ' + loaded.revision if loaded.revision else ''})")
        model.to(device.torch_device)

        ctx = JobContext(
            device=device,
            events=self.events,
            measure=spec.measure,
            dims=EncoderDims.from_hf_config(model.encoder.config),
            pad_id=tokenizer.pad_token_id,
            cancel=self.cancel,
            log=_log,
            memory_now=lambda: (None, None, None),
        )
        self.cancel_point()
        runner_class = PhaseRunner
        if spec.method == "translate-test":  # translate:<lang> before each eval:<lang> (job/translate.py)
            from .translate import TranslateRunner as runner_class
        runner = runner_class(self, spec, ctx, model, tokenizer)
        runner.run_all(data, reused_meta)

    def cancel_point(self) -> None:
        """Stops here when a cancel arrived (start-up is long: data, tokenizer, model)."""
        from .loops import Cancelled

        if self.cancel.is_set():
            raise Cancelled()


# ---- data -------------------------------------------------------------------------------------


@dataclasses.dataclass
class RunData:
    intermediate: dict[str, list]
    target_train: list
    english_eval: list
    target_eval: dict[str, list]  # lang -> examples
    few_shot_pool: dict[str, list]  # lang -> validation examples to draw k from
    sources: list = dataclasses.field(default_factory=list)  # tasks.DataSource of every split read
    corrected: dict = dataclasses.field(default_factory=dict)  # (split, lang) -> idx of corrected XCOPA items
    curve_pool: dict[str, list] = dataclasses.field(default_factory=dict)  # lang -> validation items for curves

    def all_lists(self):
        yield from self.intermediate.values()
        yield self.target_train
        yield self.english_eval
        yield from self.target_eval.values()
        yield from self.few_shot_pool.values()

    def tokenizer_lists(self, spec: RunSpec):
        """(name, examples) of the training data only: intermediate and target training splits and,
        in a few-shot run, the k examples per language its few-shot phases train on (drawn as
        ``few_shot_sample`` draws them). Never an evaluation split, nor the rest of the pool."""
        for task, exs in self.intermediate.items():
            yield f"{task}:train", exs
        yield f"{spec.target}:train", self.target_train
        if spec.method == "few-shot" and spec.few_shot_k:
            for lang, pool in self.few_shot_pool.items():
                picked = few_shot_sample(pool, spec.few_shot_k, spec.shot_seed or 0, lang)
                yield f"xcopa:validation:{lang} ({spec.few_shot_k} few-shot examples)", [pool[j] for j in picked]

    def curve_sets(self, spec: RunSpec, lang: str | None = None) -> dict[str, list]:
        """The held-out items of a learning curve: English COPA validation and, per language, the
        XCOPA validation items not drawn as shots (all of them in a run without shots). ``lang``:
        a few-shot phase's curve, on that language only. Capped by max_eval_examples."""
        out: dict[str, list] = {}
        if lang is None and spec.eval_english:
            out["en"] = list(self.english_eval)
        for code in [lang] if lang else spec.langs:
            pool = self.few_shot_pool.get(code) or self.curve_pool.get(code) or []
            if spec.method == "few-shot" and spec.few_shot_k and code in self.few_shot_pool:
                drawn = set(few_shot_sample(pool, spec.few_shot_k, spec.shot_seed or 0, code))
                pool = [e for j, e in enumerate(pool) if j not in drawn]
            out[code] = pool[: spec.max_eval_examples] if spec.max_eval_examples else pool
        return out

    def questions_info(self, spec: RunSpec, split: str, lang: str, examples: list) -> dict:
        """The eval/few-shot phase facts of XCOPA's questions: the mode and how many items it corrected."""
        fixed = self.corrected.get((split, lang), set())
        return {
            "xcopa_question": spec.xcopa_question,
            "questions_corrected": sum(1 for e in examples if e.idx in fixed),
        }


def load_run_data(spec: RunSpec, load_split=None, get_task=None, log=None) -> RunData:
    """Every split the run reads (tasks/needs.py ``needs_of``, the list the data pre-flight checks),
    loaded and checked before any training. Training subsets (``max_examples``) are drawn by the
    run's seed."""
    if load_split is None or get_task is None:
        from ..tasks import get_task as _get_task
        from ..tasks import load_split as _load_split

        load_split, get_task = load_split or _load_split, get_task or _get_task
    from ..tasks.needs import CURVE, EVAL, FEW_SHOT_POOL, QUESTIONS, TRAIN, XCOPA_TASKS, needs_of

    d = spec.data_dir
    intermediate: dict[str, list] = {}
    target_train: list = []
    english: list = []
    target_eval: dict[str, list] = {}
    pool: dict[str, list] = {}
    curve_pool: dict[str, list] = {}
    sources: list = []
    corrected: dict = {}
    seen: set = set()
    for need in needs_of(spec):
        if need.role == QUESTIONS:
            continue  # read with the XCOPA splits that take their questions from it
        if need.role == TRAIN:
            hp = spec.hparams if need.task == spec.target else spec.intermediate_hparams
            loaded = load_split(
                need.task, "train", data_dir=d, limit=hp.max_examples, seed=spec.seed, role=TRAIN, log=log
            )
            if need.task == spec.target:
                target_train = loaded.examples
            else:
                intermediate[need.task] = loaded.examples
        elif need.role == EVAL and need.task not in XCOPA_TASKS:
            loaded = load_split(need.task, "validation", data_dir=d, limit=spec.max_eval_examples, role=EVAL, log=log)
            english = loaded.examples
        elif need.role == EVAL:
            loaded = load_split(
                need.task,
                spec.eval_split,
                data_dir=d,
                lang=need.lang,
                limit=spec.max_eval_examples,
                xcopa_question=spec.xcopa_question,
                role=EVAL,
                log=log,
            )
            target_eval[need.lang] = loaded.examples
        elif need.role == CURVE:
            loaded = load_split(
                "xcopa",
                "validation",
                data_dir=d,
                lang=need.lang,
                xcopa_question=spec.xcopa_question,
                role=CURVE,
                log=log,
            )
            curve_pool[need.lang] = loaded.examples
        elif need.role == FEW_SHOT_POOL:  # XCOPA validation; COPA train for icl's English demonstrations
            loaded = load_split(
                need.task,
                need.split,
                data_dir=d,
                lang=need.lang,
                xcopa_question=spec.xcopa_question,
                role=FEW_SHOT_POOL,
                log=log,
            )
            pool[need.lang] = loaded.examples
            assert spec.few_shot_k is not None  # a few-shot pool is needed only with few_shot_k
            if spec.few_shot_k > len(loaded.examples):
                raise SpecError(
                    f"few_shot_k={spec.few_shot_k} but the {need.task} {need.split} split of {need.lang!r} has only "
                    f"{len(loaded.examples)} examples to draw from; use k <= {len(loaded.examples)}"
                )
        else:  # pragma: no cover - needs_of has no other role
            continue
        if need.task in XCOPA_TASKS:
            corrected[(loaded.source.split, need.lang)] = set(loaded.corrected)
        for source in loaded.sources:
            key = (source.task, source.split, source.lang, source.role)
            if key not in seen:
                seen.add(key)
                sources.append(source)
    _check_not_empty(spec, get_task, english, target_eval)
    for name, exs in [(spec.target, target_train), *intermediate.items()] if spec.method != "icl" else []:
        if not exs:
            raise SpecError(f"task {name!r}: the training split is empty")
        if any(e.label < 0 for e in exs):
            raise SpecError(f"task {name!r}: the training split has unlabelled rows (label -1)")
    return RunData(intermediate, target_train, english, target_eval, pool, sources, corrected, curve_pool)


def data_loaded_event(source):
    """The ``data_loaded`` event of one tasks.DataSource."""
    fields = {f.name for f in dataclasses.fields(DataLoaded)} - {"t"}
    return DataLoaded(**{k: v for k, v in source.to_dict().items() if k in fields})


def _check_not_empty(spec: RunSpec, get_task, english: list, target_eval: dict[str, list]) -> None:
    """Every evaluation split has items: an empty one would train for nothing, then fail to evaluate."""

    def where(task: str, split: str, lang: str | None) -> str:
        t = get_task(task)
        if spec.data_dir and t.has_offline_copy:
            return str(
                t.local_path(spec.data_dir, "validation" if split in ("val", "validation") else split, lang or "en")
            )
        return f"{t.hub_id} ({lang or 'en'}, split {split})"

    if spec.eval_english and not english:
        raise DataError(
            f"task {spec.target!r}: the validation split has no examples ({where(spec.target, 'validation', None)}); "
            f"nothing to evaluate English on (set eval_english = false to skip it)"
        )
    for lang, exs in target_eval.items():
        if not exs:
            raise DataError(
                f"task 'xcopa': the {spec.eval_split!r} split of {lang!r} has no examples "
                f"({where('xcopa', spec.eval_split, lang)}); nothing to evaluate {lang} on"
            )


def phase_seed(seed: int, phase: str) -> int:
    import hashlib

    return int.from_bytes(hashlib.sha256(f"{seed}:{phase}".encode()).digest()[:4], "little")


def few_shot_order(n: int, shot_seed: int, lang: str) -> list[int]:
    """The draw order of a language's few-shot pool of ``n`` examples for ``shot_seed``: a seeded
    permutation, so the k shots (its first k) of a smaller k are inside those of a larger k."""
    order = list(range(n))
    random.Random(f"few-shot:{shot_seed}:{lang}").shuffle(order)
    return order


def few_shot_sample(pool: list, k: int, shot_seed: int, lang: str) -> list:
    """Positions in ``pool`` of the k shots of ``shot_seed`` (sorted). They depend on the shot seed
    and the language only, never on the training seed or the method, so few-shot runs are
    comparable, and they are nested: k = 4 is inside k = 16 is inside k = 64 for one shot seed."""
    if not 0 <= k <= len(pool):
        raise ValueError(f"cannot draw {k} shots from {len(pool)} examples")
    return sorted(few_shot_order(len(pool), shot_seed, lang)[:k])


def attempt_seed(seed: int, attempt: int) -> int:
    """The seed of attempt ``attempt`` of the target phase: the run's seed first, then one derived
    from it per retry (recorded in the attempt's info and its collapse_check event)."""
    return seed if attempt <= 1 else phase_seed(seed, f"collapse-retry:{attempt}")


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
        raise SpecError(
            f"device {requested!r} asked for, but torch sees no CUDA GPU here (torch {torch.__version__}); use device = 'auto' or 'cpu'"
        )
    dev = torch.device("cuda" if requested == "auto" else requested)
    index = dev.index if dev.index is not None else torch.cuda.current_device()
    torch.cuda.set_device(index)
    mapping = nvml_mapping(index, torch.cuda)
    nvml_indices = [mapping.index] if mapping.index is not None and not mapping.mig else []
    return Device(
        dev,
        "cuda",
        torch.cuda.get_device_name(index),
        1,
        choose_precision(torch.cuda),
        nvml_indices,
        None if nvml_indices else mapping.reason,
    )


def choose_precision(cuda) -> str:
    """bf16 where the GPU has bf16 tensor cores (compute capability 8.0 and newer); elsewhere fp16,
    trained with a grad scaler (loops.train). ``torch.cuda.is_bf16_supported()`` alone counts
    emulation: a V100 or T4 would then run bf16 in software, several times slower. ``cuda`` is
    ``torch.cuda`` (a stand-in in tests)."""
    try:
        native = cuda.is_bf16_supported(including_emulation=False)
    except TypeError:  # a torch without the keyword (< 2.3): decide by the compute capability
        native = cuda.get_device_properties(cuda.current_device()).major >= 8
    return "bf16" if native else "fp16"


def nvml_mapping(torch_index: int, cuda):
    """The NVML device of CUDA device ``torch_index`` (measure/nvml.py ``map_cuda_device``): by the
    UUID torch reports for it, else from CUDA_VISIBLE_DEVICES and CUDA_DEVICE_ORDER; energy is
    NULL with the reason when it cannot be found or is a MIG instance (whose counter is the GPU's)."""
    from ..measure import nvml

    try:
        uuid = str(cuda.get_device_properties(torch_index).uuid)
    except Exception:  # noqa: BLE001 - an old torch or odd build: the environment decides
        uuid = None
    return nvml.map_cuda_device(torch_index, torch_uuid=uuid)


# ---- phases -------------------------------------------------------------------------------------


class PhaseRunner:
    """Executes the spec's phase plan (RunSpec.phase_plan), in order, one measured phase each."""

    def __init__(self, job: Job, spec: RunSpec, ctx, model, tokenizer):
        self.job, self.spec, self.ctx, self.model, self.tokenizer = job, spec, ctx, model, tokenizer
        self.completed: list[PhaseEnd] = []  # phase_end events of this run
        self.data: RunData | None = None

    def run_all(self, data: RunData, reused_meta: dict | None) -> None:
        from .model import head_key

        self.data = data
        spec = self.spec
        plan = spec.phase_plan()
        reused = {rec.get("phase"): rec for rec in (reused_meta or {}).get("phases", []) if isinstance(rec, dict)}
        last_intermediate = max((i for i, p in enumerate(plan) if p.kind == PhaseKind.INTERMEDIATE), default=None)
        target_head = head_key(*self._head_of(spec.target))
        base_state = None  # the model after the target phase, restored before each few-shot phase
        last_eval: list = data.english_eval
        done: set[str] = set()  # planned phases already run as part of another (eval:en with the target)
        for i, phase in enumerate(plan):
            if phase.name in done:
                continue
            if phase.kind == PhaseKind.INTERMEDIATE:
                self._intermediate_phase(phase, data, reused, reused_meta, i == last_intermediate)
            elif phase.kind == PhaseKind.TARGET:
                english = plan[i + 1] if i + 1 < len(plan) and plan[i + 1].lang == "en" else None
                self._target_attempts(phase, english, data, target_head)
                if english is not None:
                    done.add(english.name)
                if spec.method == "few-shot":
                    base_state = copy.deepcopy(self.model.state_dict())
            elif phase.kind == PhaseKind.FEW_SHOT:
                assert phase.lang is not None and base_state is not None and spec.few_shot_k is not None
                self.model.load_state_dict(base_state)
                pool = data.few_shot_pool[phase.lang]
                shot_seed = spec.shot_seed or 0
                picked = few_shot_sample(pool, spec.few_shot_k, shot_seed, phase.lang)
                shots = [pool[j] for j in picked]
                self._train_phase(
                    phase,
                    {"xcopa": shots},
                    spec.few_shot_hparams,
                    info={
                        "k": spec.few_shot_k,
                        "shot_seed": shot_seed,
                        "few_shot_indices": [e.idx for e in shots],
                        **data.questions_info(spec, "validation", phase.lang, shots),
                    },
                )
            elif phase.kind == PhaseKind.EVAL:
                assert phase.lang is not None
                if phase.lang == "en":
                    self._eval_phase(phase, spec.target, "validation", data.english_eval, target_head)
                else:
                    examples = data.target_eval[phase.lang]
                    split = "validation" if spec.eval_split == "val" else spec.eval_split
                    self._eval_phase(
                        phase,
                        "xcopa",
                        spec.eval_split,
                        examples,
                        target_head,
                        extra_info=data.questions_info(spec, split, phase.lang, examples),
                    )
                    last_eval = examples or last_eval
            elif phase.kind == PhaseKind.INFERENCE_BENCH:
                if base_state is not None:
                    self.model.load_state_dict(base_state)
                self._inference_bench(phase, last_eval, target_head)

    def _target_attempts(
        self, phase: PlannedPhase, english: PlannedPhase | None, data: RunData, target_head: str
    ) -> None:
        """The target phase, then English validation and the collapse check; a collapsed attempt is
        trained again (``collapse_retries`` times at most) from the model as it was before the
        target phase, with a derived seed: target:copa#2 and eval:en#2, each its own phase with its
        own costs. The run goes on with the last attempt (collapsed or not: the check says which)."""
        from ..collapse import check_collapse
        from ..rundir.events import CollapseCheck
        from ..spec import attempt_phase

        spec = self.spec
        before = _snapshot(self.model) if spec.collapse_retries and english is not None else None
        attempt = 1
        while True:
            seed = attempt_seed(spec.seed, attempt)
            name = attempt_phase(phase.name, attempt)
            self._train_phase(
                dataclasses.replace(phase, name=name),
                {spec.target: data.target_train},
                spec.hparams,
                seed=seed,
                info={"attempt": attempt},
            )
            if english is None:
                return
            en = dataclasses.replace(english, name=attempt_phase(english.name, attempt))
            rows = self._eval_phase(en, spec.target, "validation", data.english_eval, target_head)
            n_choices = max((len(r["scores"]) for r in rows), default=2)
            verdict = check_collapse([r["pred"] for r in rows], [r["label"] for r in rows], max(2, n_choices))
            retry = bool(verdict.collapsed) and attempt <= spec.collapse_retries
            self.ctx.events.emit(
                CollapseCheck(
                    name,
                    en.name,
                    attempt,
                    seed,
                    verdict.collapsed,
                    verdict.accuracy,
                    verdict.n,
                    verdict.correct,
                    verdict.p_value,
                    verdict.majority_choice,
                    verdict.majority_share,
                    verdict.alpha,
                    verdict.majority,
                    list(verdict.reasons),
                    retry,
                )
            )
            if verdict.collapsed:
                _log(
                    f"{name}: collapsed ({'; '.join(verdict.reasons)})"
                    + (f"; training it again with a derived seed (attempt {attempt + 1})" if retry else "")
                )
            if not retry:
                return
            assert before is not None
            _restore(self.model, before)
            attempt += 1

    # ---- helpers -----------------------------------------------------------------------------
    def _head_of(self, task: str) -> tuple[str, int | None]:
        from ..tasks import get_task

        t = get_task(task)
        return t.head, t.num_labels

    def _begin(self, phase: PlannedPhase, total_steps: int | None):
        from ..measure.timer import PhaseMeter

        self.job.cancel_point()
        self.job.phase = phase.name
        update_status(self.job.run_dir, RunStatus.RUNNING, phase=phase.name)
        self.ctx.events.emit(PhaseStart(phase.name, phase.kind.value, total_steps))
        d = self.ctx.device
        meter = PhaseMeter(
            d.type,
            str(d.torch_device),
            d.nvml_indices,
            enabled_memory=self.spec.measure.enabled,
            gpu_reason=d.nvml_reason,
        )
        if self.spec.measure.enabled:
            self.ctx.memory_now = lambda: meter.memory.current()
        return meter

    def _end(self, phase: PlannedPhase, meter, tally, *, tasks, info=None, extra_costs=None) -> PhaseEnd:
        from ..measure.mfu import mfu, peak_flops
        from ..measure.timer import throughput

        costs = dict(meter.costs())
        wall = costs["wall_s"].value or 0.0
        if tally is not None:
            costs["examples"] = Cost.measured(tally.examples, "count", "counted")
            costs["steps"] = Cost.measured(tally.steps, "count", "counted")
            costs["tokens_nonpad"] = Cost.measured(tally.tokens_nonpad, "count", "counted")
            costs["tokens_padded"] = Cost.measured(tally.tokens_padded, "count", "counted")
            costs["padding_efficiency"] = (
                Cost.measured(tally.tokens_nonpad / tally.tokens_padded, "ratio", "counted")
                if tally.tokens_padded
                else Cost.missing("ratio", "no tokens processed")
            )
            costs["flops_analytic"] = Cost.measured(tally.flops_analytic, "FLOP", "analytic")
            costs["flops_analytic_nonpad"] = Cost.measured(tally.flops_nonpad, "FLOP", "analytic")
            if tally.sampler is not None:
                costs["flops_measured"] = tally.sampler.extrapolate(tally.tokens_padded)
            else:
                costs["flops_measured"] = Cost.missing("FLOP", "measurement off (measure.enabled = false)")
            costs["examples_per_s"] = throughput(tally.examples, wall, "examples/s")
            costs["tokens_per_s"] = throughput(tally.tokens_nonpad, wall, "tokens/s")
            # MFU counts useful work: the FLOPs of the non-pad tokens; mfu_padded what the hardware multiplied.
            peak, reason = peak_flops(self.ctx.device.name, self.ctx.device.precision, self.ctx.device.type)
            count = self.ctx.device.count
            why = cast(str, reason)  # peak_flops gives a reason whenever it gives no peak
            costs["mfu"] = mfu(tally.flops_nonpad, wall, peak, count) if peak else Cost.missing("ratio", why)
            costs["mfu_padded"] = mfu(tally.flops_analytic, wall, peak, count) if peak else Cost.missing("ratio", why)
        costs.update(extra_costs or {})
        record = self.ctx.events.emit(
            PhaseEnd(phase.name, phase.kind.value, list(tasks), phase.lang, None, costs, info or {})
        )
        assert isinstance(record, PhaseEnd)
        self.completed.append(record)
        self.ctx.memory_now = lambda: (None, None, None)
        return record

    def _train_phase(
        self, phase: PlannedPhase, task_data: dict[str, list], hp, *, info=None, seed: int | None = None
    ) -> None:
        # Each phase starts from its own seed, so a phase's randomness (new heads, dropout) does not
        # depend on what ran before it: a run started from a saved encoder matches one that trained it.
        import torch

        from .batching import encode
        from .loops import TrainTask, plan_steps, train
        from .model import head_key

        # A retry of the target phase (target:copa#2) has its own seed (attempt_seed) and is seeded
        # as its phase, so it differs from the first attempt only by that seed.
        seed = self.spec.seed if seed is None else seed
        torch.manual_seed(phase_seed(seed, phase_attempt(phase.name)[0]))
        tasks = []
        reinit = {}
        for name, exs in task_data.items():
            key = head_key(*self._head_of(name))
            reinit[name] = self.model.ensure_head(key)
            tasks.append(TrainTask(name, key, encode(exs, self.tokenizer, hp.max_seq_len)))
        total_steps, _ = plan_steps(tasks, hp)
        probe = self._curve_probe(phase, tasks[0].head)
        meter = self._begin(phase, total_steps)
        with meter:
            if probe is not None:
                probe.start()
            tally, facts = train(self.ctx, self.model, phase.name, tasks, hp, seed, on_step=probe)
        if probe is not None:  # the curve's evaluations are not training: not in the phase's time
            meter.wall = max(0.0, meter.wall - probe.spent_s)
            facts.update(probe.info())
        self._end(
            phase,
            meter,
            tally,
            tasks=list(task_data),
            info={
                **facts,
                "precision": self.ctx.device.precision,
                "head_initialised": reinit,
                "max_seq_len": hp.max_seq_len,
                **(info or {}),
            },
        )

    def _curve_probe(self, phase: PlannedPhase, head: str):
        """A learning-curve probe for the target and few-shot phases (measure.curve_points > 0)."""
        from .batching import encode
        from .curves import CurveProbe, pipeline_costs

        points = self.spec.measure.curve_points if self.spec.measure.enabled else 0
        if points <= 0 or phase.kind not in (PhaseKind.TARGET, PhaseKind.FEW_SHOT) or self.data is None:
            return None
        lang = phase.lang if phase.kind == PhaseKind.FEW_SHOT else None
        sets = self.data.curve_sets(self.spec, lang)
        if not sets:
            return None
        held_out = {code: encode(exs, self.tokenizer, self.spec.hparams.max_seq_len) for code, exs in sets.items()}
        # The pipeline so far: every completed training phase, but not another language's few-shot phase.
        base = pipeline_costs(self.completed, exclude=lambda p: p.kind == PhaseKind.FEW_SHOT.value)
        return CurveProbe(
            self.ctx, self.model, phase.name, head, "validation", held_out, points, self.spec.eval_batch_size, base
        )

    def _eval_phase(
        self, phase: PlannedPhase, task: str, split: str, examples: list, head: str, extra_info: dict | None = None
    ) -> list[dict]:
        from ..rundir import EvalResult
        from .batching import encode
        from .loops import evaluate

        lang = phase.lang or "en"
        encoded = encode(examples, self.tokenizer, self.spec.hparams.max_seq_len)
        meter = self._begin(phase, math.ceil(len(encoded) / self.spec.eval_batch_size))
        with meter:
            tally, rows = evaluate(self.ctx, self.model, encoded, head, self.spec.eval_batch_size)
        correct = sum(r["correct"] for r in rows)
        labelled = sum(1 for r in rows if r["label"] >= 0)
        accuracy = correct / labelled if labelled else None
        for r in rows:
            self.job.predictions.write(
                Prediction(
                    phase.name, task, lang, split, r["idx"], r["pred"], r["label"], r["scores"], r["correct"]
                ).to_dict()
            )
        from .perquery import encoder_query_flops

        self._end(
            phase,
            meter,
            tally,
            tasks=[task],
            info={
                "split": split,
                "batch_size": self.spec.eval_batch_size,
                "ties": sum(1 for r in rows if r.get("tie")),
                **(extra_info or {}),
            },
            extra_costs={"query_flops": encoder_query_flops(self.ctx.dims, encoded, head)},
        )
        self.ctx.events.emit(EvalResult(phase.name, task, lang, split, accuracy, labelled, correct))
        _log(f"{phase.name}: accuracy {accuracy if accuracy is None else round(accuracy, 4)} on {labelled} examples")
        return rows

    def _inference_bench(self, phase: PlannedPhase, examples: list, head: str) -> None:
        from .batching import encode
        from .bench import inference_bench

        encoded = encode(examples, self.tokenizer, self.spec.hparams.max_seq_len)
        meter = self._begin(phase, None)
        with meter:
            extra, facts = inference_bench(self.ctx, self.model, encoded, head, self.spec)
        self._end(phase, meter, None, tasks=[], extra_costs=extra, info=facts)

    def _intermediate_phase(
        self, phase: PlannedPhase, data: RunData, reused: dict, reused_meta: dict | None, last: bool
    ) -> None:
        """An intermediate phase: recorded as reused from the saved encoder, or trained (and the
        encoder saved after the last one when the spec asks)."""
        if reused_meta is not None:
            self._reused_phase(
                reused.get(phase.name) or {"phase": phase.name, "kind": phase.kind.value, "tasks": list(phase.tasks)},
                reused_meta,
            )
            return
        self._train_phase(phase, {t: data.intermediate[t] for t in phase.tasks}, self.spec.intermediate_hparams)
        if last and self.spec.save_encoder:
            self._save_checkpoint()

    def _save_checkpoint(self) -> None:
        from .model import save_checkpoint

        path = self.job.files.intermediate_checkpoint
        phases = [p.to_dict() for p in self.completed if p.kind == PhaseKind.INTERMEDIATE.value]
        save_checkpoint(
            path,
            self.model,
            self.tokenizer,
            {
                "key": self.spec.intermediate_key(),
                "run_id": self.job.files.run_id,
                "run_dir": str(self.job.run_dir.resolve()),
                "phases": phases,
            },
        )
        self.ctx.events.emit(
            CheckpointSaved(
                phases[-1]["phase"] if phases else None,
                str(path.relative_to(self.job.run_dir)),
                self.spec.intermediate_key(),
            )
        )
        _log(f"saved the encoder after the intermediate phase(s) to {path}")

    def _reused_phase(self, rec: dict, meta: dict) -> None:
        """The record of a phase this run did not execute: its cost was counted where it was incurred."""
        reason = f"reused: counted in {meta.get('run_id')}"
        recorded = rec.get("costs")
        original = recorded if isinstance(recorded, dict) else {}
        costs = {
            name: Cost.missing(str(c.get("unit") or "") if isinstance(c, dict) else "", reason)
            for name, c in original.items()
        }
        name, kind = str(rec["phase"]), str(rec.get("kind") or PhaseKind.INTERMEDIATE.value)
        self.ctx.events.emit(PhaseStart(name, kind, None))
        record = self.ctx.events.emit(
            PhaseEnd(
                name,
                kind,
                [str(t) for t in rec.get("tasks") or []],
                None,
                ReusedFrom(meta.get("run_id"), meta.get("run_dir"), name),
                costs,
                {"reused": True, "original_costs": original},
            )
        )
        assert isinstance(record, PhaseEnd)
        self.completed.append(record)


def _snapshot(model) -> dict:
    """The model's weights (on the CPU, so a GPU holds one copy) and which heads it has."""
    return {
        "heads": set(model.heads.keys()),
        "state": {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()},
    }


def _restore(model, snap: dict) -> None:
    """Back to a snapshot: heads created since are dropped (the next phase makes them afresh)."""
    for key in [k for k in model.heads.keys() if k not in snap["heads"]]:
        del model.heads[key]
    model.load_state_dict(snap["state"])


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
