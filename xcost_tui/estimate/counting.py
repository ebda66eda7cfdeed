"""The estimate's counting: ``python -m xcost_tui.estimate.worker count`` (worker.py).

For every run, the data the job would read (``tasks.needs.needs_of``, the same calls as
``job/data.py`` ``load_run_data``), the run's tokenizer (tiny-xlmr's trained in-process as the job
trains it, a pretrained one from the hub or its cache), the token length of every example as the
job encodes it (``job/batching.py`` ``encode``; a sample when a split is large), and then the
exact batches the job would make: the training loop's step groups and micro-batches
(``job/loops.py`` ``plan_steps``, ``step_groups``, ``split_micro``, seeded as ``train`` seeds them),
the evaluation batches (``sorted_batches``), and their analytic FLOPs (``loops.forward_flops``).
Where a split or the tokenizer cannot be reached, the registry's split size and an assumed length
per task (``assumptions.py``) stand in, and the phase says so.

transformers and datasets are imported inside the functions that read the hub: after
``setup_hub`` has put them in offline mode when the hub cannot be reached, so that every read
fails at once instead of retrying.
"""

from __future__ import annotations

import collections
import dataclasses
import hashlib
import json
import os
import random
import time
import traceback
from types import SimpleNamespace
from typing import Any, cast

from ..errors import XcostError
from ..job.batching import Batch, encode, sorted_batches
from ..job.data import RunData, few_shot_sample, split_request
from ..job.device import pick_device
from ..job.loops import (
    DEFAULT_MICRO_BATCH,
    JobContext,
    TrainTask,
    forward_flops,
    micro_batch_of,
    plan_steps,
    split_micro,
    step_groups,
)
from ..job.model import TINY_DIMS, head_key, train_tiny_tokenizer
from ..measure.env import collect_env
from ..measure.flops import EncoderDims, train_flops
from ..spec import TINY_ENCODERS, PhaseKind, RunSpec
from ..tasks import all_texts, get_task, load_split
from ..tasks.loading import HUB_MIRROR_ENV
from ..tasks.needs import CURVE, EVAL, INTERMEDIATE_EVAL, MT_REFERENCE, TRAIN, needs_of
from ..tasks.preflight import probe_hub
from ..tasks.registry import TRANSLATED, XCOPA_TASKS
from . import assumptions as A
from . import configs
from .memory import halving
from .protocol import emit, note

SAMPLE_DEFAULT = 4000  # examples tokenised per split at most; larger splits are sampled
FULL_SIMULATION_MAX = 60_000  # examples in a phase up to which every epoch's batches are simulated


# ---- hub ---------------------------------------------------------------------------------------


def setup_hub(needed: bool, timeout_s: float) -> dict[str, Any]:
    """Probe the hub once (tasks/preflight.py's probe); unreachable: offline mode before datasets or
    transformers are imported, so every hub read fails at once instead of retrying."""
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


# ---- count -------------------------------------------------------------------------------------


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
        self.assumed: dict[tuple, list] = {}  # (task, max_len, n) -> n stand-ins of the assumed shape
        self.configs: dict[str, dict | None] = {}

    # ---- data -----------------------------------------------------------------------------------
    def load(self, task: str, split: str, **kw) -> Any:
        """load_split with a cache (the same split read by many runs is read once); an error is cached too."""
        key = (task, split, json.dumps(kw, sort_keys=True, default=str))
        if key not in self.splits:
            try:
                self.splits[key] = load_split(task, split, **kw)
            except Exception as exc:  # noqa: BLE001 - the estimate goes on with the registry's size
                self.splits[key] = exc
        return self.splits[key]

    def run_data(self, spec) -> tuple[Any, dict[tuple, SplitData]]:
        """The run's data exactly as ``job/data.py`` ``load_run_data`` reads it (same needs, same
        arguments), split by split, each either loaded or stood in for by the registry's size."""
        inter: dict[str, list] = {}
        target_train: list = []
        english: list = []
        target_eval: dict[str, list] = {}
        pool: dict[str, list] = {}
        got: dict[tuple, SplitData] = {}
        for need in needs_of(spec):
            request = split_request(spec, need)
            if request is None or need.role in (CURVE, MT_REFERENCE, INTERMEDIATE_EVAL):
                # the COPA questions come with XCOPA's splits; curve points, MT references
                # (chrF/BLEU, untimed) and a span task's validation (in its intermediate phase's
                # info, not a phase) are not counted here
                continue
            task, split_name, kwargs = request
            limit = kwargs.get("limit")
            res = self.load(task, split_name, **kwargs)
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
                    f"{'' if need.task not in XCOPA_TASKS else ' ' + need.lang}: not loaded ({reason[:200]}); "
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
            elif need.role == EVAL and need.task not in XCOPA_TASKS:
                english = exs
            elif need.role == EVAL:
                target_eval[need.lang] = exs
            else:
                pool[need.lang] = exs
        return RunData(inter, target_train, english, target_eval, pool), got

    # ---- tokenizer ----------------------------------------------------------------------------
    def tokenizer(self, spec, data, got) -> tuple[Any, str, str | None]:
        """(tokenizer or None, how it was made, why not) for the run."""
        if spec.model in TINY_ENCODERS:
            lists = list(data.tokenizer_lists(spec))
            missing = [k for k, v in got.items() if k[3] == "train" and v.examples is None]
            texts = [t for _, exs in lists for t in all_texts(exs)]
            vocab = {**TINY_DIMS, **spec.tiny_model_dims}["vocab_size"]
            key = hashlib.sha256(json.dumps([vocab, sorted(set(texts))]).encode()).hexdigest()
            if key not in self.tokenizers:
                if not texts:
                    self.tokenizers[key] = (
                        None,
                        "unavailable",
                        "no training text could be read to train tiny-xlmr's tokenizer",
                    )
                else:
                    tok = train_tiny_tokenizer(texts, vocab)
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
        n = sd.rows if examples is None else len(examples)
        if examples is None or tok is None:
            # one list per shape, so the runs that share it share its worked-out shapes (_shapes)
            akey = (task, max_len, n)
            if akey not in self.assumed:
                self.assumed[akey] = [_Proto(A.assumed_choices(task), A.assumed_length(task, max_len))] * n
            return self.assumed[akey], "assumed", None
        if not examples:
            return [], "measured", None
        key = (tok_key, name, max_len, len(examples), id(examples))
        if key in self.encodings:
            return self.encodings[key][0], self.encodings[key][1], None
        if len(examples) <= self.sample:
            out, how, note = encode(examples, tok, max_len), "measured", None
        else:
            rng = random.Random(f"estimate-sample:{name}")
            picked = sorted(rng.sample(range(len(examples)), self.sample))
            sample = encode([examples[i] for i in picked], tok, max_len)
            draw = random.Random(f"estimate-resample:{name}")
            # span extraction encodes a question as one window or more: the sample's windows per
            # question scale to the split (one per example otherwise)
            n_out = round(len(sample) * len(examples) / len(picked))
            out = [sample[draw.randrange(len(sample))] for _ in range(n_out)]
            how, note = "sampled", f"{name}: lengths of {self.sample:,} of {len(examples):,} examples, resampled"
        self.encodings[key] = (out, how)
        return out, how, note

    # ---- one run ------------------------------------------------------------------------------
    def count_run(self, item: dict) -> dict:
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
        if spec.model not in TINY_ENCODERS and spec.model not in configs.SHIPPED and not os.path.isdir(spec.model):
            fetched = self.hub_config(spec.model)
        shape = configs.model_shape(
            spec.model,
            spec.tiny_model_dims,
            vocab=len(tok) if (tok is not None and spec.model in TINY_ENCODERS) else None,
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
            # a sweep's trial (few-shot-trial) trains as a few-shot phase does (its selection items'
            # scoring, a forward pass over lr_sweep_items, is not counted: a small under-forecast)
            elif p.kind in (PhaseKind.INTERMEDIATE, PhaseKind.TARGET, PhaseKind.FEW_SHOT, PhaseKind.FEW_SHOT_TRIAL):
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
                    assert p.lang is not None  # an eval phase is of one language
                    split = "validation" if spec.eval_split in ("val", "validation") else spec.eval_split
                    if spec.uses_published_translations:
                        # translate-test on XCOPA's published translations: their English items; none
                        # for Quechua, whose eval phase the job records as missing (nothing evaluated)
                        task = TRANSLATED
                        sd = got.get((TRANSLATED, split, p.lang, "eval")) or SplitData([], 0, "data")
                    else:
                        task = "xcopa"
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


def flops_of(dims, head: str, n_seqs: int, seq_len: int, train: bool) -> int:
    """The job's own count: ``loops.forward_flops`` (x3 with ``train_flops`` for a training step)."""
    # stand-ins with just what forward_flops reads (ctx.dims; the batch's head, n_seqs, seq_len)
    ctx = cast(JobContext, SimpleNamespace(dims=dims))
    f = forward_flops(ctx, cast(Batch, SimpleNamespace(head=head, n_seqs=n_seqs, seq_len=seq_len)))
    return train_flops(f) if train else f


def micro_candidates(hp, device_type: str) -> tuple[list[int], str]:
    """The micro-batches to count a phase with, and how the job will choose among them: the set
    value, the CPU default, or (GPU, unset) the job's halving search (``memory.halving``)."""
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
    micros, how = micro_candidates(hp, device_type)
    train_tasks = [TrainTask(name, head, data) for name, head, data in tasks]
    total_steps, _ = plan_steps(train_tasks, hp)
    shapes = {t.name: _shapes(t.data) for t in train_tasks}
    lengths = {name: sh.lengths for name, sh in shapes.items()}
    nseqs = {name: sh.nseqs for name, sh in shapes.items()}
    ntok = {name: sh.ntok for name, sh in shapes.items()}
    heads = {t.name: t.head for t in train_tasks}
    hist: dict[int, collections.Counter] = {m: collections.Counter() for m in micros}
    tokens_nonpad = examples = steps = 0
    n_examples = sum(len(t.data) for t in train_tasks)
    uniform = arithmetic and all(shapes[t.name].one_shape for t in train_tasks)
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
            # no step runs under FlopCounterMode inside a phase any more (its check is untimed,
            # before the phase: job/warmup.py), so a phase's time has no counted steps to forecast
            "flop_samples": 0,
        }
    # what the probe needs: each task's head, its usual choice count and its longest examples
    out["tasks"] = [
        {
            "name": t.name,
            "head": t.head,
            "choices": shapes[t.name].usual_choices,
            "top": [list(cl) for cl in shapes[t.name].longest_first[: hp.batch_size]],
        }
        for t in train_tasks
    ]
    return out


@dataclasses.dataclass(frozen=True)
class _Shapes:
    """Per-example lengths of one encoded data list, worked out once: a plan's runs share their
    encoded lists (``encoded`` caches them), and a flagship plan simulates ~1,500 phases over them
    (recomputing these per phase was two thirds of the count's time)."""

    lengths: list[int]
    nseqs: list[int]
    ntok: list[int]
    one_shape: bool  # every example has one (length, choices): counted arithmetically
    usual_choices: int
    longest_first: list[tuple[int, int]]  # (choices, length), longest first, ties in data order


_SHAPES: dict[int, tuple[list, _Shapes]] = {}  # id(data) -> (data, its shapes): the list kept alive


def _shapes(data: list) -> _Shapes:
    hit = _SHAPES.get(id(data))
    if hit is not None and hit[0] is data:
        return hit[1]
    lengths = [e.length for e in data]
    nseqs = [len(e.seqs) for e in data]
    pairs = list(zip(nseqs, lengths, strict=True))
    shapes = _Shapes(
        lengths=lengths,
        nseqs=nseqs,
        ntok=[sum(len(s) for s in e.seqs) for e in data],
        one_shape=len(set(pairs)) <= 1,
        usual_choices=collections.Counter(nseqs).most_common(1)[0][0] if data else 1,
        longest_first=sorted(pairs, key=lambda cl: cl[1], reverse=True),
    )
    _SHAPES[id(data)] = (data, shapes)
    return shapes


_FLOP_CACHE: dict[tuple, int] = {}


def _flops_of_cached(head: str, ns: int, L: int, dims) -> int:
    key = (head, ns, L, dims)
    if key not in _FLOP_CACHE:
        _FLOP_CACHE[key] = flops_of(dims, head, ns, L, True)
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
    shapes = _shapes(enc)
    lengths, nseqs = shapes.lengths, shapes.nseqs
    hist: collections.Counter = collections.Counter()
    for idxs in sorted_batches(lengths, batch_size):
        hist[(head, len(idxs), sum(nseqs[i] for i in idxs), max(lengths[i] for i in idxs))] += 1
    n_batches = sum(hist.values())
    return {
        "examples": len(enc),
        "steps": n_batches,
        "batch_size": batch_size,
        "head": head,
        "tokens_nonpad": sum(shapes.ntok),
        "tokens_padded": sum(c * ns * L for (_, _, ns, L), c in hist.items()),
        "flops": sum(c * flops_of(dims, h, ns, L, False) for (h, _, ns, L), c in hist.items()),
        "hist": [[h, n, ns, L, c, flops_of(dims, h, ns, L, False)] for (h, n, ns, L), c in sorted(hist.items())],
        "lengths": [[ns, L] for ns, L in zip(nseqs, lengths, strict=True)],
        "flop_samples": 0,  # as in training: the FLOP check is untimed, before the phase
    }


def count_main(request: dict) -> int:
    runs = request.get("runs") or []
    needs_hub = any(not (r.get("spec") or {}).get("data_dir") for r in runs) or any(
        (r.get("spec") or {}).get("model") not in (None, "tiny-xlmr") for r in runs
    )
    hub = setup_hub(needs_hub, float(request.get("hub_timeout_s") or 10))
    emit({"event": "hub", **hub})
    try:  # what the forecast is made with: the job's own record of its environment
        d = pick_device("auto")
        emit({"event": "env", "env": collect_env(d.type, d.name, d.count, d.precision)})
    except Exception as exc:  # noqa: BLE001 - provenance only
        note(f"environment not recorded: {type(exc).__name__}: {exc}")
    counter = Counter(int(request.get("sample") or SAMPLE_DEFAULT))
    for item in runs:
        t0 = time.monotonic()
        try:
            out = counter.count_run(item)
        except Exception as exc:  # noqa: BLE001 - one run that cannot be counted never hides the others
            msg = str(exc) if isinstance(exc, XcostError) else f"{type(exc).__name__}: {exc}"
            emit(
                {
                    "event": "failed",
                    "run_id": item.get("run_id"),
                    "error": msg,
                    "traceback": None if isinstance(exc, XcostError) else traceback.format_exc(),
                }
            )
            continue
        out["seconds"] = round(time.monotonic() - t0, 3)
        emit(out)
    emit({"event": "done"})
    return 0
