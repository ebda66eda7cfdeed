"""The estimate's job side: ``python -m xcost_tui.estimate.worker count|probe``, reading one JSON
request on stdin and writing JSON lines ``XCOST-ESTIMATE {...}`` (the supervisor's half is
``estimate/run.py``; it never imports this module).

``count``: for every run, the data the job would read (``tasks.needs.needs_of``, the same calls as
``job/main.py`` ``load_run_data``), the run's tokenizer (tiny-xlmr's trained in-process as the job
trains it, a pretrained one from the hub or its cache), the token length of every example as the
job encodes it (``job/batching.py`` ``encode``; a sample when a split is large), and then the
exact batches the job would make: the training loop's step groups and micro-batches
(``job/loops.py`` ``plan_steps``, ``step_groups``, ``split_micro``, seeded as ``train`` seeds them),
the evaluation batches (``sorted_batches``), and their analytic FLOPs (``loops.forward_flops``).
Where a split or the tokenizer cannot be reached, the registry's split size and an assumed length
per task (``assumptions.py``) stand in, and the phase says so.

``probe``: one fresh process per kind of run, started as the job starts (the run's data, its
tokenizer, the model built with random weights from its config), then each planned phase in the
job's order: a few optimiser steps of the training loop itself (``loops.train``) on synthetic
examples of the phase's shapes, inside the job's own ``PhaseMeter`` (so time, the process's or the
CUDA allocator's peak memory and energy are measured as a phase measures them); evaluation and the
inference benchmark replayed on synthetic examples of the exact lengths (``loops.evaluate``,
``bench.inference_bench``). On a GPU the micro-batch is the job's own choice
(``loops.choose_micro_batch``) and the largest that fits is searched with the job's test
(``loops._fits``).

torch, transformers and the job's modules are imported inside functions (as ``measure/`` does):
only this subprocess pays for them.
"""

from __future__ import annotations

import collections
import dataclasses
import hashlib
import json
import math
import os
import random
import statistics
import sys
import time
import traceback
from typing import Any, cast

MARK = "XCOST-ESTIMATE "
SAMPLE_DEFAULT = 4000  # examples tokenised per split at most; larger splits are sampled
FULL_SIMULATION_MAX = 60_000  # examples in a phase up to which every epoch's batches are simulated


def _emit(obj: dict[str, Any]) -> None:
    sys.stdout.write(MARK + json.dumps(obj) + "\n")
    sys.stdout.flush()


def _note(text: str) -> None:
    _emit({"event": "note", "text": text})


# ==== hub =======================================================================================


def setup_hub(needed: bool, timeout_s: float) -> dict[str, Any]:
    """Probe the hub once (tasks/preflight.py's probe); unreachable: offline mode before datasets or
    transformers are imported, so every hub read fails at once instead of retrying."""
    from ..tasks.loading import HUB_MIRROR_ENV
    from ..tasks.preflight import probe_hub

    hub: dict[str, Any] = {"needed": needed}
    if not needed:
        return hub
    if os.environ.get(HUB_MIRROR_ENV):
        hub.update(reachable=True, mirror=os.environ[HUB_MIRROR_ENV])
    elif (os.environ.get("HF_HUB_OFFLINE") or "").upper() in ("1", "TRUE", "YES", "ON"):
        hub.update(reachable=False, error="offline mode (HF_HUB_OFFLINE is set)")
    else:
        ok, endpoint, error = probe_hub(timeout_s)
        hub.update(reachable=ok, endpoint=endpoint, error=error)
    if not hub.get("reachable"):
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ["HF_DATASETS_OFFLINE"] = "1"
        os.environ["TRANSFORMERS_OFFLINE"] = "1"
    return hub


# ==== count =====================================================================================


class _Proto:
    """A stand-in for an encoded example where only its shape is known (assumed lengths)."""

    __slots__ = ("seqs", "label", "idx", "lang")

    def __init__(self, n_choices: int, length: int):
        self.seqs = [range(length)] * n_choices  # len() of each sequence is all that is read
        self.label, self.idx, self.lang = 0, 0, "en"

    @property
    def length(self) -> int:
        return len(self.seqs[0])


@dataclasses.dataclass
class SplitData:
    """One split as the run would use it: its examples (or None when it could not be read)."""

    examples: list | None
    rows: int  # examples the run takes
    source: str  # "data" | "registry"
    note: str | None = None


class Counter:
    """The count worker: caches of splits, tokenizers and encodings shared by all runs."""

    def __init__(self, sample: int = SAMPLE_DEFAULT):
        self.sample = sample
        self.splits: dict[tuple, Any] = {}
        self.tokenizers: dict[str, tuple[Any, str, str | None]] = {}
        self.encodings: dict[tuple, tuple[list, str]] = {}
        self.configs: dict[str, dict | None] = {}

    # ---- data -----------------------------------------------------------------------------------
    def load(self, task: str, split: str, **kw) -> Any:
        """load_split with a cache (the same split read by many runs is read once); an error is cached too."""
        from ..tasks import load_split

        key = (task, split, json.dumps(kw, sort_keys=True, default=str))
        if key not in self.splits:
            try:
                self.splits[key] = load_split(task, split, **kw)
            except Exception as exc:  # noqa: BLE001 - the estimate goes on with the registry's size
                self.splits[key] = exc
        return self.splits[key]

    def run_data(self, spec) -> tuple[Any, dict[tuple, SplitData]]:
        """The run's data exactly as ``job/main.py`` ``load_run_data`` reads it (same needs, same
        arguments), split by split, each either loaded or stood in for by the registry's size."""
        from ..job.main import RunData
        from ..tasks.needs import EVAL, FEW_SHOT_POOL, QUESTIONS, TRAIN, needs_of
        from . import assumptions as A

        d = spec.data_dir
        inter: dict[str, list] = {}
        target_train: list = []
        english: list = []
        target_eval: dict[str, list] = {}
        pool: dict[str, list] = {}
        got: dict[tuple, SplitData] = {}
        for need in needs_of(spec):
            if need.role == QUESTIONS:
                continue
            if need.role == TRAIN:
                hp = spec.hparams if need.task == spec.target else spec.intermediate_hparams
                limit = hp.max_examples
                res = self.load(need.task, "train", data_dir=d, limit=limit, seed=spec.seed, role=TRAIN)
            elif need.role == EVAL and need.task != "xcopa":
                limit = spec.max_eval_examples
                res = self.load(need.task, "validation", data_dir=d, limit=limit, role=EVAL)
            elif need.role == EVAL:
                limit = spec.max_eval_examples
                res = self.load(
                    "xcopa",
                    spec.eval_split,
                    data_dir=d,
                    lang=need.lang,
                    limit=limit,
                    xcopa_question=spec.xcopa_question,
                    role=EVAL,
                )
            elif need.role == FEW_SHOT_POOL:
                limit = None
                res = self.load(
                    "xcopa",
                    "validation",
                    data_dir=d,
                    lang=need.lang,
                    xcopa_question=spec.xcopa_question,
                    role=FEW_SHOT_POOL,
                )
            else:  # pragma: no cover
                continue
            split = "validation" if need.split in ("val", "validation") else need.split
            if isinstance(res, Exception):
                rows = A.split_rows(need.task, split)
                if rows is None:
                    rows = 0
                taken = min(rows, limit) if limit is not None else rows
                reason = str(res).strip().splitlines()[0] if str(res).strip() else type(res).__name__
                sd = SplitData(
                    None,
                    taken,
                    "registry",
                    f"{need.task} {split}"
                    f"{'' if need.task != 'xcopa' else ' ' + need.lang}: not loaded ({reason[:200]}); "
                    f"{taken:,} rows from the registry's split size",
                )
            else:
                sd = SplitData(list(res.examples), len(res.examples), "data")
            got[(need.task, split, need.lang, need.role)] = sd
            exs = sd.examples or []
            if need.role == TRAIN and need.task == spec.target:
                target_train = exs
            elif need.role == TRAIN:
                inter[need.task] = exs
            elif need.role == EVAL and need.task != "xcopa":
                english = exs
            elif need.role == EVAL:
                target_eval[need.lang] = exs
            else:
                pool[need.lang] = exs
        return RunData(inter, target_train, english, target_eval, pool), got

    # ---- tokenizer ----------------------------------------------------------------------------
    def tokenizer(self, spec, data, got) -> tuple[Any, str, str | None]:
        """(tokenizer or None, how it was made, why not) for the run."""
        from ..spec import TINY_MODEL
        from ..tasks import all_texts

        if spec.model == TINY_MODEL:
            lists = list(data.tokenizer_lists(spec))
            missing = [k for k, v in got.items() if k[3] == "train" and v.examples is None]
            texts = [t for _, exs in lists for t in all_texts(exs)]
            from ..job import model as models

            vocab = {**models.TINY_DIMS, **spec.tiny_model_dims}["vocab_size"]
            key = hashlib.sha256(json.dumps([vocab, sorted(set(texts))]).encode()).hexdigest()
            if key not in self.tokenizers:
                if not texts:
                    self.tokenizers[key] = (
                        None,
                        "unavailable",
                        "no training text could be read to train tiny-xlmr's tokenizer",
                    )
                else:
                    tok = models.train_tiny_tokenizer(texts, vocab)
                    why = (
                        f"trained on the training splits that could be read ({len(missing)} could not)"
                        if missing
                        else None
                    )
                    self.tokenizers[key] = (tok, "trained-in-process", why)
            return self.tokenizers[key]
        model = spec.init_from and os.path.join(spec.init_from, "tokenizer") or spec.model
        if model not in self.tokenizers:
            try:
                from transformers import AutoTokenizer

                self.tokenizers[model] = (AutoTokenizer.from_pretrained(model), "pretrained", None)
            except Exception as exc:  # noqa: BLE001 - offline, not cached, a typo: lengths are assumed
                why = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                self.tokenizers[model] = (None, "unavailable", f"tokenizer of {model!r} not available: {why[:200]}")
        return self.tokenizers[model]

    def hub_config(self, model: str) -> dict | None:
        """A config not shipped with xcost-tui, from the hub or its cache (None when unavailable)."""
        if model not in self.configs:
            try:
                from transformers import AutoConfig

                self.configs[model] = AutoConfig.from_pretrained(model).to_dict()
            except Exception:  # noqa: BLE001
                self.configs[model] = None
        return self.configs[model]

    # ---- lengths ------------------------------------------------------------------------------
    def encoded(
        self, tok, tok_key: str, name: str, sd: SplitData, examples: list | None, max_len: int, task: str
    ) -> tuple[list, str, str | None]:
        """(encoded-like examples, "measured" | "sampled" | "assumed", note) of ``examples``."""
        from . import assumptions as A

        n = sd.rows if examples is None else len(examples)
        if examples is None or tok is None:
            proto = _Proto(A.assumed_choices(task), A.assumed_length(task, max_len))
            return [proto] * n, "assumed", None
        if not examples:
            return [], "measured", None
        key = (tok_key, name, max_len, len(examples), id(examples))
        if key in self.encodings:
            return self.encodings[key][0], self.encodings[key][1], None
        from ..job.batching import encode

        if len(examples) <= self.sample:
            out, how, note = encode(examples, tok, max_len), "measured", None
        else:
            rng = random.Random(f"estimate-sample:{name}")
            picked = sorted(rng.sample(range(len(examples)), self.sample))
            sample = encode([examples[i] for i in picked], tok, max_len)
            draw = random.Random(f"estimate-resample:{name}")
            out = [sample[draw.randrange(len(sample))] for _ in range(len(examples))]
            how, note = "sampled", f"{name}: lengths of {self.sample:,} of {len(examples):,} examples, resampled"
        self.encodings[key] = (out, how)
        return out, how, note

    # ---- one run ------------------------------------------------------------------------------
    def count_run(self, item: dict) -> dict:
        from ..job.main import few_shot_sample
        from ..job.model import head_key
        from ..measure.flops import EncoderDims
        from ..spec import TINY_MODEL, PhaseKind, RunSpec
        from ..tasks import get_task
        from . import configs

        spec = RunSpec.from_dict(item["spec"], where=f"run {item.get('run_id')}")
        reused = set(item.get("reused") or [])
        if spec.init_from:  # a saved encoder replaces the intermediate phase(s): the job records them as reused
            reused |= {p.name for p in spec.phase_plan() if p.kind == PhaseKind.INTERMEDIATE}
        device_type = item.get("device_type") or "cpu"
        data, got = self.run_data(spec)
        tok, tok_how, tok_note = self.tokenizer(spec, data, got)
        notes = [sd.note for sd in got.values() if sd.note]
        if tok_note:
            notes.append(tok_note)
        fetched = None
        if spec.model != TINY_MODEL and spec.model not in configs.SHIPPED and not os.path.isdir(spec.model):
            fetched = self.hub_config(spec.model)
        shape = configs.model_shape(
            spec.model,
            spec.tiny_model_dims,
            vocab=len(tok) if (tok is not None and spec.model == TINY_MODEL) else None,
            fetched=fetched,
        )
        dims = EncoderDims(shape.hidden, shape.layers, shape.heads, shape.intermediate)
        tok_key = f"{spec.model}:{id(tok)}"

        def head_of(task: str) -> str:
            t = get_task(task)
            return head_key(t.head, t.num_labels)

        def split_of(task: str, split: str, lang: str, role: str) -> SplitData:
            return got[(task, split, lang, role)]

        phases: list[dict[str, Any]] = []
        for p in spec.phase_plan():
            entry: dict[str, Any] = {
                "name": p.name,
                "kind": p.kind.value,
                "tasks": list(p.tasks),
                "lang": p.lang,
                "reused": p.name in reused,
            }
            if entry["reused"]:  # trained by another run (or in a saved encoder): nothing to count here
                pass
            elif p.kind in (PhaseKind.INTERMEDIATE, PhaseKind.TARGET, PhaseKind.FEW_SHOT):
                if p.kind == PhaseKind.INTERMEDIATE:
                    hp, section = spec.intermediate_hparams, "intermediate_hparams"
                    parts = [(t, split_of(t, "train", "en", "train"), data.intermediate.get(t)) for t in p.tasks]
                elif p.kind == PhaseKind.TARGET:
                    hp, section = spec.hparams, "hparams"
                    parts = [(spec.target, split_of(spec.target, "train", "en", "train"), data.target_train)]
                else:
                    hp, section = spec.few_shot_hparams, "few_shot_hparams"
                    assert p.lang is not None  # a few-shot phase is of one target language
                    sd = split_of("xcopa", "validation", p.lang, "few-shot-pool")
                    k = spec.few_shot_k or 0
                    if sd.examples is not None:
                        pool = sd.examples
                        shots = [pool[j] for j in few_shot_sample(pool, min(k, len(pool)), spec.shot_seed or 0, p.lang)]
                        sd = SplitData(shots, len(shots), "data")
                    else:
                        sd = SplitData(None, min(k, sd.rows or k), "registry", sd.note)
                    parts = [("xcopa", sd, sd.examples)]
                tasks, how = [], []
                for task, sd, exs in parts:
                    enc, lhow, lnote = self.encoded(
                        tok,
                        tok_key,
                        f"{task}:train:{p.lang or 'en'}:{spec.seed}:{p.name}",
                        sd,
                        exs if sd.examples is not None else None,
                        hp.max_seq_len,
                        task,
                    )
                    if lnote:
                        notes.append(lnote)
                    tasks.append((task, head_of(task), enc))
                    how.append((lhow, sd.source))
                entry.update(
                    section=section,
                    batch_size=hp.batch_size,
                    **simulate_train(tasks, hp, spec.seed, p.name, dims, device_type, spec.measure),
                )
                entry.update(_provenance(how))
            elif p.kind == PhaseKind.EVAL:
                if p.lang == "en":
                    task, sd = spec.target, split_of(spec.target, "validation", "en", "eval")
                else:
                    task = "xcopa"
                    assert p.lang is not None  # an eval phase is of one language
                    split = "validation" if spec.eval_split in ("val", "validation") else spec.eval_split
                    sd = split_of("xcopa", split, p.lang, "eval")
                enc, lhow, lnote = self.encoded(
                    tok, tok_key, f"{task}:eval:{p.lang}", sd, sd.examples, spec.hparams.max_seq_len, task
                )
                entry.update(simulate_eval(enc, head_of(spec.target), spec.eval_batch_size, dims, spec.measure))
                entry.update(_provenance([(lhow, sd.source)]))
            else:  # the inference bench runs on the last evaluated language's examples
                last = [q for q in phases if q["kind"] == "eval" and q.get("lengths")]
                entry.update(
                    head=head_of(spec.target),
                    lengths=last[-1]["lengths"] if last else [],
                    warmup=spec.measure.inference_warmup,
                    n=spec.measure.inference_bench_examples,
                    eval_batch_size=spec.eval_batch_size,
                    lengths_source=last[-1]["lengths_source"] if last else "assumed",
                    counts_source=last[-1]["counts_source"] if last else "registry",
                )
            phases.append(entry)
        return {
            "event": "run",
            "run_id": item.get("run_id"),
            "model": shape.to_dict(),
            "tokenizer": tok_how,
            "phases": phases,
            "notes": list(dict.fromkeys(notes)),
        }


def _provenance(how: list[tuple[str, str]]) -> dict[str, str]:
    lengths = (
        "assumed"
        if any(h == "assumed" for h, _ in how)
        else ("sampled" if any(h == "sampled" for h, _ in how) else "measured")
    )
    counts = "registry" if any(s == "registry" for _, s in how) else "data"
    return {"lengths_source": lengths, "counts_source": counts}


def _flops_of(dims, head: str, n_seqs: int, seq_len: int, train: bool) -> int:
    """The job's own count: ``loops.forward_flops`` (x3 with ``train_flops`` for a training step)."""
    from types import SimpleNamespace

    from ..job.batching import Batch
    from ..job.loops import JobContext, forward_flops
    from ..measure.flops import train_flops

    # stand-ins with just what forward_flops reads (ctx.dims; the batch's head, n_seqs, seq_len)
    ctx = cast(JobContext, SimpleNamespace(dims=dims))
    f = forward_flops(ctx, cast(Batch, SimpleNamespace(head=head, n_seqs=n_seqs, seq_len=seq_len)))
    return train_flops(f) if train else f


def micro_candidates(hp, device_type: str) -> tuple[list[int], str]:
    """The micro-batches to count a phase with, and how the job will choose among them: the set
    value, the CPU default, or (GPU, unset) the job's halving search (``memory.halving``)."""
    from ..job.loops import DEFAULT_MICRO_BATCH, micro_batch_of
    from .memory import halving

    fixed = micro_batch_of(hp)
    if fixed is not None:
        return [fixed], "set"
    if device_type != "cuda":
        return [min(DEFAULT_MICRO_BATCH, hp.batch_size)], "default"
    return halving(hp.batch_size), "probed"


def simulate_train(
    tasks: list[tuple[str, str, list]],
    hp,
    seed: int,
    phase: str,
    dims,
    device_type: str,
    measure,
    arithmetic: bool = True,
) -> dict[str, Any]:
    """The batches ``loops.train`` makes for ``tasks`` ((name, head key, encoded examples)), counted
    for every candidate micro-batch: examples, optimiser steps, micro-batches, tokens with and
    without padding, analytic FLOPs, and a histogram of micro-batch shapes (the time model's input).

    Each epoch's step groups come from the job's ``step_groups`` with the job's seeded RNG, so the
    counts are exact for measured lengths. A phase of more than FULL_SIMULATION_MAX examples is
    simulated for its first epoch and scaled to its steps; a phase whose examples all have one
    shape (assumed lengths) is counted arithmetically."""
    from ..job.loops import TrainTask, plan_steps, split_micro, step_groups
    from ..measure.flops import FlopSampler

    micros, how = micro_candidates(hp, device_type)
    train_tasks = [TrainTask(name, head, data) for name, head, data in tasks]
    total_steps, _ = plan_steps(train_tasks, hp)
    lengths = {t.name: [e.length for e in t.data] for t in train_tasks}
    nseqs = {t.name: [len(e.seqs) for e in t.data] for t in train_tasks}
    ntok = {t.name: [sum(len(s) for s in e.seqs) for e in t.data] for t in train_tasks}
    heads = {t.name: t.head for t in train_tasks}
    hist: dict[int, collections.Counter] = {m: collections.Counter() for m in micros}
    tokens_nonpad = examples = steps = 0
    n_examples = sum(len(t.data) for t in train_tasks)
    uniform = arithmetic and all(len({(e.length, len(e.seqs)) for e in t.data}) <= 1 for t in train_tasks)
    scale = 1.0
    if n_examples and uniform:
        steps, examples, tokens_nonpad = _uniform_train(train_tasks, hp, total_steps, micros, hist, heads)
    elif n_examples:
        rng = random.Random(f"{seed}:{phase}")
        one_epoch = n_examples > FULL_SIMULATION_MAX
        while steps < total_steps:
            for task, group in step_groups(train_tasks, hp, rng, True):
                L, ns, nt = lengths[task.name], nseqs[task.name], ntok[task.name]
                for m in micros:
                    for part in split_micro(group, L, m):
                        hist[m][(heads[task.name], len(part), sum(ns[i] for i in part), max(L[i] for i in part))] += 1
                examples += len(group)
                tokens_nonpad += sum(nt[i] for i in group)
                steps += 1
                if steps >= total_steps:
                    break
            if one_epoch and steps < total_steps:
                scale = total_steps / steps
                break
    out: dict[str, Any] = {
        "examples": round(examples * scale),
        "steps": total_steps if n_examples else 0,
        "tokens_nonpad": round(tokens_nonpad * scale),
        "micro_rule": how,
        "by_micro": {},
        "simulated": "arithmetic" if uniform else ("first epoch, scaled" if scale != 1 else "exact"),
    }
    for m in micros:
        h = hist[m]
        n_micro = round(sum(h.values()) * scale)
        out["by_micro"][str(m)] = {
            "micro_batches": n_micro,
            "tokens_padded": round(sum(c * ns * L for (_, _, ns, L), c in h.items()) * scale),
            "flops": round(sum(c * _flops_of_cached(head, ns, L, dims) for (head, _, ns, L), c in h.items()) * scale),
            "hist": [
                [head, n, ns, L, round(c * scale, 3), _flops_of_cached(head, ns, L, dims)]
                for (head, n, ns, L), c in sorted(h.items())
            ],
            "flop_samples": FlopSampler.for_phase(n_micro, measure.flop_sample_steps).steps.__len__()
            if measure.enabled
            else 0,
        }
    # what the probe needs: each task's head, its usual choice count and its longest examples
    out["tasks"] = [
        {
            "name": t.name,
            "head": t.head,
            "choices": collections.Counter(nseqs[t.name]).most_common(1)[0][0] if t.data else 1,
            "top": sorted(
                ([nseqs[t.name][i], lengths[t.name][i]] for i in range(len(t.data))), key=lambda cl: cl[1], reverse=True
            )[: hp.batch_size],
        }
        for t in train_tasks
    ]
    return out


_FLOP_CACHE: dict[tuple, int] = {}


def _flops_of_cached(head: str, ns: int, L: int, dims) -> int:
    key = (head, ns, L, dims)
    if key not in _FLOP_CACHE:
        _FLOP_CACHE[key] = _flops_of(dims, head, ns, L, True)
    return _FLOP_CACHE[key]


def _uniform_train(tasks, hp, total_steps: int, micros: list[int], hist, heads) -> tuple[int, int, int]:
    """Counts for tasks whose examples share one shape: per epoch each task gives full groups of
    ``batch_size`` and one short group; a last partial epoch takes its share of each task's groups."""
    per_task = []
    for t in tasks:
        n = len(t.data)
        e = t.data[0]
        full, rest = divmod(n, hp.batch_size)
        groups = [hp.batch_size] * full + ([rest] if rest else [])
        per_task.append((t, groups, len(e.seqs), e.length, sum(len(s) for s in e.seqs)))
    per_epoch = sum(len(g) for _, g, *_ in per_task)
    epochs_full, rem = divmod(total_steps, per_epoch) if per_epoch else (0, 0)
    steps = examples = tokens = 0
    for t, groups, ns, L, nt in per_task:
        share = rem * len(groups) / per_epoch if per_epoch else 0
        taken_groups = groups * epochs_full + groups[: int(round(share))]
        for g in taken_groups:
            for m in micros:
                q, r = divmod(g, m)
                if q:
                    hist[m][(heads[t.name], m, m * ns, L)] += q
                if r:
                    hist[m][(heads[t.name], r, r * ns, L)] += 1
            examples += g
            tokens += g * nt
            steps += 1
    return steps, examples, tokens


def simulate_eval(enc: list, head: str, batch_size: int, dims, measure) -> dict[str, Any]:
    """The evaluation batches (``batching.sorted_batches``): counts, FLOPs, and every example's
    (choices, length) for the probe's replay."""
    from ..job.batching import sorted_batches
    from ..measure.flops import FlopSampler

    lengths = [e.length for e in enc]
    hist: collections.Counter = collections.Counter()
    for idxs in sorted_batches(lengths, batch_size):
        hist[(head, len(idxs), sum(len(enc[i].seqs) for i in idxs), max(lengths[i] for i in idxs))] += 1
    n_batches = sum(hist.values())
    return {
        "examples": len(enc),
        "steps": n_batches,
        "batch_size": batch_size,
        "head": head,
        "tokens_nonpad": sum(sum(len(s) for s in e.seqs) for e in enc),
        "tokens_padded": sum(c * ns * L for (_, _, ns, L), c in hist.items()),
        "flops": sum(c * _flops_of(dims, h, ns, L, False) for (h, _, ns, L), c in hist.items()),
        "hist": [[h, n, ns, L, c, _flops_of(dims, h, ns, L, False)] for (h, n, ns, L), c in sorted(hist.items())],
        "lengths": [[len(e.seqs), e.length] for e in enc],
        "flop_samples": len(FlopSampler.for_phase(n_batches, measure.flop_sample_steps).steps)
        if measure.enabled
        else 0,
    }


def count_main(request: dict) -> int:
    runs = request.get("runs") or []
    needs_hub = any(not (r.get("spec") or {}).get("data_dir") for r in runs) or any(
        (r.get("spec") or {}).get("model") not in (None, "tiny-xlmr") for r in runs
    )
    hub = setup_hub(needs_hub, float(request.get("hub_timeout_s") or 10))
    _emit({"event": "hub", **hub})
    try:  # what the forecast is made with: the job's own record of its environment
        from ..job.main import pick_device
        from ..measure.env import collect_env

        d = pick_device("auto")
        _emit({"event": "env", "env": collect_env(d.type, d.name, d.count, d.precision)})
    except Exception as exc:  # noqa: BLE001 - provenance only
        _note(f"environment not recorded: {type(exc).__name__}: {exc}")
    counter = Counter(int(request.get("sample") or SAMPLE_DEFAULT))
    for item in runs:
        t0 = time.monotonic()
        try:
            out = counter.count_run(item)
        except Exception as exc:  # noqa: BLE001 - one run that cannot be counted never hides the others
            from ..errors import XcostError

            msg = str(exc) if isinstance(exc, XcostError) else f"{type(exc).__name__}: {exc}"
            _emit(
                {
                    "event": "failed",
                    "run_id": item.get("run_id"),
                    "error": msg,
                    "traceback": None if isinstance(exc, XcostError) else traceback.format_exc(),
                }
            )
            continue
        out["seconds"] = round(time.monotonic() - t0, 3)
        _emit(out)
    _emit({"event": "done"})
    return 0


# ==== probe =====================================================================================


def _synthetic(n: int, choices: int, length: int, lang: str = "en") -> list:
    """``n`` encoded examples of ``choices`` sequences of ``length`` tokens (token 5: any id in the
    vocabulary; the cost of a step does not depend on which)."""
    from ..job.batching import Encoded

    seq = [5] * length
    return [Encoded([list(seq) for _ in range(choices)], 0, i, lang) for i in range(n)]


def _from_lengths(pairs: list, lang: str = "en") -> list:
    from ..job.batching import Encoded

    return [Encoded([[5] * int(L) for _ in range(int(c))], 0, i, lang) for i, (c, L) in enumerate(pairs)]


class Prober:
    """One kind of run, started as its job starts, then probed phase by phase in the job's order."""

    def __init__(self, request: dict):
        self.request = request
        self.opts = request.get("options") or {}

    def start(self) -> None:
        """What the job does before its first phase: seed, device, data, tokenizer, model."""
        import threading

        from ..job import model as models
        from ..job.loops import JobContext
        from ..job.main import RunData, load_run_data, pick_device, seed_everything
        from ..measure.flops import EncoderDims
        from ..rundir import EventWriter
        from ..spec import TINY_MODEL, RunSpec
        from . import configs

        self.spec = spec = RunSpec.from_dict(self.request["spec"], where="probe spec")
        seed_everything(spec.seed)
        self.device = device = pick_device(spec.device)
        try:
            self.data: RunData | None = load_run_data(spec)
        except Exception as exc:  # noqa: BLE001 - the probe goes on; the run's data footprint is then missing
            self.data = None
            _note(
                f"probe: the run's data could not be loaded ({str(exc).splitlines()[0][:200]}); "
                f"its memory then leaves the data out"
            )
        shape_cfg = self.request.get("model_config") or {}
        if spec.model == TINY_MODEL:
            from ..tasks import all_texts

            texts = [t for _, exs in self.data.tokenizer_lists(spec) for t in all_texts(exs)] if self.data else []
            vocab = {**models.TINY_DIMS, **spec.tiny_model_dims}["vocab_size"]
            if not texts:
                texts = [f"w{i}" for i in range(vocab)]
            tokenizer = models.train_tiny_tokenizer(texts, vocab)
            encoder = models.build_tiny_encoder(tokenizer, spec.tiny_model_dims, spec.seed)
            pad = tokenizer.pad_token_id
        else:
            encoder, pad = _from_config(spec.model, shape_cfg)
        self.model = models.EncoderWithHeads(encoder)
        self.model.to(device.torch_device)
        shape = configs.shape_from_config(spec.model, shape_cfg or encoder.config.to_dict(), "probe")
        self.ctx = JobContext(
            device=device,
            events=EventWriter(os.devnull),
            measure=spec.measure,
            dims=EncoderDims(shape.hidden, shape.layers, shape.heads, shape.intermediate),
            pad_id=pad if pad is not None else 1,
            cancel=threading.Event(),
            log=lambda m: None,
            memory_now=lambda: (None, None, None),
        )

    def meter(self):
        from ..measure.timer import PhaseMeter

        d = self.ctx.device
        meter = PhaseMeter(d.type, str(d.torch_device), d.nvml_indices, enabled_memory=self.spec.measure.enabled)
        if self.spec.measure.enabled:
            self.ctx.memory_now = lambda: meter.memory.current()
        return meter

    def timed(self, fn, *args, **kw) -> tuple[float, int | None, float | None, Any]:
        """(wall s, peak memory B, energy J, result) of ``fn`` inside a PhaseMeter, as a phase is measured."""
        meter = self.meter()
        with meter:
            result = fn(*args, **kw)
        costs = meter.costs()
        self.ctx.memory_now = lambda: (None, None, None)
        return meter.wall, costs["peak_mem_bytes"].value, costs["energy_j"].value, result

    # ---- phases -------------------------------------------------------------------------------
    def train_phase(self, p: dict, first: bool) -> dict:
        import torch

        from ..job.loops import TrainTask, _fits, choose_micro_batch, train
        from .memory import largest_fitting_micro

        spec = self.spec
        hp = getattr(spec, p["section"])
        for t in p["tasks"]:
            self.model.ensure_head(t["head"])
        top = [TrainTask(t["name"], t["head"], _from_lengths(t["top"])) for t in p["tasks"]]
        # the job's choice of micro-batch, on the phase's longest examples (a search only on a GPU)
        t0 = time.perf_counter()
        micro, micro_source = choose_micro_batch(self.ctx, self.model, top, hp)
        choose_s = time.perf_counter() - t0 if micro_source == "probed" else 0.0
        batch = hp.batch_size
        k = math.ceil(batch / micro)
        main = max(p["tasks"], key=lambda t: t.get("weight", 0))
        choices = int(main["choices"])
        points = sorted({int(x) for x in p["points"]})
        budget_s = float(self.opts.get("step_budget_s") or 0.3)
        out: dict[str, Any] = {
            "micro": micro,
            "micro_source": micro_source,
            "k": k,
            "choose_s": choose_s,
            "points": [],
            "peak_mem_bytes": None,
            "energy_j_per_s": None,
        }
        peaks: list[int] = []
        energy_rate = []

        def run(L: int, steps: int, b: int, m: int, measure=None) -> float:
            data = _synthetic(steps * b, choices, L)
            h = dataclasses.replace(
                hp, max_steps=steps, batch_size=b, micro_batch_size=m, grad_accum=None, min_steps=None
            )
            saved = self.ctx.measure
            if measure is not None:
                self.ctx.measure = measure
            try:
                wall, peak, energy, _ = self.timed(
                    train, self.ctx, self.model, p["name"], [TrainTask(main["name"], main["head"], data)], h, spec.seed
                )
            finally:
                self.ctx.measure = saved
            if peak is not None:
                peaks.append(int(peak))
            if energy is not None and wall > 0:
                energy_rate.append(energy / wall)
            return wall

        warm_first = None
        for j, L in enumerate(reversed(points)):  # the longest first: the worst case of memory, then the others
            t_a = run(L, 2, batch, micro)
            if first and j == 0:
                warm_first = t_a
                t_a = run(L, 2, batch, micro)
            est = max(t_a / 2, 1e-4)
            n = int(min(40, max(3, math.ceil(budget_s / est))))
            reps = 3 if t_a < 1.0 else 1
            a_s, b_s = [t_a], []
            for r in range(reps):
                if r:
                    a_s.append(run(L, 2, batch, micro))
                b_s.append(run(L, 2 + n, batch, micro))
            # the median of the repeats: a forecast is of a typical run, and the job's own phases are
            # measured once each, with what a run meets (the sampler beside it, caches, the OS); the
            # least of them forecast 30-50% low on the demo plan (docs/benchmarks.md)
            ta, tb = statistics.median(a_s), statistics.median(b_s)
            t_step = max((tb - ta) / n, 1e-6)
            point = {
                "length": L,
                "head": main["head"],
                "choices": choices,
                "n_examples": micro,
                "n_seqs": micro * choices,
                "flops": _flops_of(self.ctx.dims, main["head"], micro * choices, L, True),
                "t_step": t_step,
                "fixed": max(ta - 2 * t_step, 0.0),
                "steps_a": 2,
                "steps_b": 2 + n,
                "reps": reps,
            }
            if k > 1 and j == 0:  # one micro-batch per step: the optimiser's share apart from the micro-batches'
                t1a = statistics.median(run(L, 2, micro, micro) for _ in range(max(1, reps // 2)))
                t1b = statistics.median(run(L, 2 + n, micro, micro) for _ in range(max(1, reps // 2)))
                t_step1 = max((t1b - t1a) / n, 1e-6)
                t_micro = max((t_step - t_step1) / (k - 1), 1e-6)
                point.update(t_opt=max(t_step1 - t_micro, 0.0), t_micro=t_micro)
            if j == 0 and p.get("flop_samples", 1) > 1 and self.spec.measure.enabled:
                t0a = run(L, 2, batch, micro, dataclasses.replace(self.spec.measure, flop_sample_steps=0))
                point["sample_extra"] = max(ta - t0a, 0.0)
            if warm_first is not None and j == 0:
                point["warmup"] = max(warm_first - ta, 0.0)
            out["points"].append(point)
        out["peak_mem_bytes"] = max(peaks) if peaks else None
        out["energy_j_per_s"] = statistics.median(energy_rate) if energy_rate else None
        # the largest micro-batch that fits: the job's own test on a GPU (its longest examples)
        if self.device.type == "cuda":
            out["max_micro"] = largest_fitting_micro(batch, lambda m: _fits(self.ctx, self.model, top, m))
            out["memory_total_bytes"] = int(torch.cuda.get_device_properties(self.device.torch_device).total_memory)
        else:
            import psutil

            out["memory_total_bytes"] = int(psutil.virtual_memory().total)
        return out

    def replay(self, fn, *args) -> dict:
        """Runs a phase's code twice on its synthetic examples: the median time and energy (a typical
        run, as the probe's steps), the higher peak."""
        walls, peaks, energies = [], [], []
        for _ in range(int(self.opts.get("replays") or 2)):
            wall, peak, energy, _ = self.timed(fn, *args)
            walls.append(wall)
            peaks.append(peak)
            energies.append(energy)
        known = [p for p in peaks if p is not None]
        measured = [e for e in energies if e is not None]
        return {
            "wall_s": statistics.median(walls),
            "peak_mem_bytes": max(known) if known else None,
            "energy_j": statistics.median(measured) if len(measured) == len(energies) else None,
            "walls": walls,
        }

    def eval_phase(self, p: dict) -> dict:
        from ..job.loops import evaluate

        data = _from_lengths(p["lengths"], p.get("lang") or "en")
        return self.replay(evaluate, self.ctx, self.model, data, p["head"], p["batch_size"])

    def bench_phase(self, p: dict) -> dict:
        from ..job.bench import inference_bench

        data = _from_lengths(p["lengths"])
        return self.replay(inference_bench, self.ctx, self.model, data, p["head"], self.spec)

    def run(self) -> dict:
        import copy

        t_start = time.monotonic()
        self.start()
        start_s = time.monotonic() - t_start
        results: dict[str, Any] = {}
        first_train = True
        base_state = None
        for p in self.request["phases"]:
            t0 = time.monotonic()
            if p.get("reused"):
                continue
            if p["kind"] in ("intermediate", "target", "few-shot"):
                if p["kind"] == "few-shot" and base_state is not None:
                    self.model.load_state_dict(base_state)
                res = self.train_phase(p, first_train)
                first_train = False
                if p["kind"] == "target" and self.spec.method == "few-shot":
                    base_state = copy.deepcopy(self.model.state_dict())  # as the job keeps it
            elif p["kind"] == "eval":
                res = self.eval_phase(p)
            else:
                if base_state is not None:
                    self.model.load_state_dict(base_state)
                res = self.bench_phase(p)
            res["probe_s"] = round(time.monotonic() - t0, 3)
            results[p["name"]] = res
            _note(f"probe {self.request.get('label', '')}: {p['name']} in {res['probe_s']:.1f} s")
        d = self.device
        return {
            "event": "probe",
            "phases": results,
            "start_s": round(start_s, 3),
            "device": {"type": d.type, "name": d.name, "precision": d.precision, "count": d.count},
            "seconds": round(time.monotonic() - t_start, 3),
        }


def _from_config(model: str, config: dict):
    """The encoder of ``model`` with random weights from its config (no weights downloaded), as
    ``job/model.py`` ``load_pretrained`` builds it (no pooler)."""
    from transformers import AutoConfig, AutoModel

    cfg = dict(config)
    model_type = cfg.pop("model_type", None)
    if not model_type:
        raise ValueError(f"model {model!r}: its config has no model_type")
    for key in ("architectures", "transformers_version", "_name_or_path"):
        cfg.pop(key, None)
    hf_config = AutoConfig.for_model(model_type, **cfg)
    try:
        encoder = AutoModel.from_config(hf_config, add_pooling_layer=False)
    except TypeError:
        encoder = AutoModel.from_config(hf_config)
    return encoder, getattr(hf_config, "pad_token_id", None)


def probe_main(request: dict) -> int:
    try:
        out = Prober(request).run()
    except Exception as exc:  # noqa: BLE001 - said to the supervisor, which reports it
        from ..errors import XcostError

        msg = str(exc) if isinstance(exc, XcostError) else f"{type(exc).__name__}: {exc}"
        _emit(
            {
                "event": "failed",
                "error": msg,
                "traceback": None if isinstance(exc, XcostError) else traceback.format_exc(),
            }
        )
        _emit({"event": "done"})
        return 1
    _emit(out)
    _emit({"event": "done"})
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in ("count", "probe"):
        print("usage: python -m xcost_tui.estimate.worker count|probe  (a JSON request on stdin)", file=sys.stderr)
        return 2
    try:
        request = json.loads(sys.stdin.read() or "{}")
    except ValueError as exc:
        _emit({"event": "failed", "error": f"bad request: {exc}"})
        _emit({"event": "done"})
        return 2
    os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    if argv[0] == "count":
        return count_main(request)
    if request.get("offline"):  # the count found the hub unreachable: do not wait for it again
        for var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
            os.environ[var] = "1"
    return probe_main(request)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
