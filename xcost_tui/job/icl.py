"""In-context few-shot evaluation of a causal LM on XCOPA (``method = "icl"``): no training.

The prompt and the scoring are lm-evaluation-harness's ``xcopa`` task, and for English its
``super_glue/copa`` task (tasks/prompts.py: version 0.4.13; ``icl_prompt`` chooses how a premise
ends); the tokenisation of a (context, continuation) pair is the harness's ``_encode_pair``: the context
and the whole text are encoded, and the continuation's tokens are the whole text's tokens after
the context's. A log-likelihood is the sum of the continuation tokens' log-probabilities.

The two choices of a query share its context, and the k demonstrations are the same for every
query of a language, so ``CausalScorer`` computes each only once:

1. the longest token prefix all the queries of a call share (the demonstrations): one forward
   pass, its KV cache kept;
2. per batch of queries, the rest of each context, right-padded, over a copy of that cache: the
   log-probabilities of each continuation's first token come from its last context position;
3. each continuation's other tokens, one row per (query, choice), over that cache repeated per
   choice.

Pads sit between real tokens (keys masked out; positions count real tokens only), so every real
token sees exactly the tokens the harness's unpadded sequence gives it. Every call's FLOPs are
counted from its shapes (measure/flops.py, ``decoder_forward_flops``): padded (what the hardware
multiplied) and each row at its own length (the useful work, MFU's).

Before each evaluation phase's meter starts, the phase's first batch (and the demonstrations'
prefix) is scored untimed, once plain (the warm-up: one-time CUDA costs land there, not in the
phase) and once under FlopCounterMode (the FLOP check: counted against the analytic count of that
same pass); a ``warmup`` event records it, in no phase (issue 17). No pass inside a phase's window
is counted any more. With ``device_map = "auto"`` over several GPUs the phases are measured over
every GPU the model is on (job/device.py ``spread_device``).
"""

from __future__ import annotations

import copy
import inspect
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from ..errors import SpecError
from ..measure.flops import DecoderDims, FlopCheck, decoder_forward_flops
from ..measure.stats import latency_summary, percentile, present
from ..rundir import EvalResult, JsonlWriter, Prediction
from ..rundir.cost import Cost
from ..rundir.events import Progress
from ..spec import PhaseKind, PlannedPhase, RunSpec
from ..tasks import all_texts
from ..tasks.prompts import Prompt, build_prompt, premises_cut, prompt_template, prompts_differing
from .bench import bench_flop_costs
from .causal import load_causal_lm, max_positions
from .data import RunData, few_shot_sample
from .device import model_cuda_indices, spread_device
from .log import _log
from .loops import Device, JobContext, Tally, pick_choice
from .phases import PhaseRunner, RunHandle
from .warmup import Shape, phase_check, plain_then_counted, record_warmup, seq_bucket

# ---- tokens -----------------------------------------------------------------------------------


@dataclass
class TokQuery:
    """One prompt as token ids: its context and each choice's continuation (the harness's split)."""

    prompt: Prompt
    lang: str
    context: list[int]
    continuations: list[list[int]]

    @property
    def context_tokens(self) -> int:
        return len(self.context)


def encode_pair(tokenizer, context: str, continuation: str) -> tuple[list[int], list[int]]:
    """lm-evaluation-harness's ``_encode_pair`` for a causal LM (lm_eval/api/model.py): trailing
    spaces of the context move to the continuation; the continuation's tokens are those of the
    whole text after the context's own tokens. Special tokens as the tokenizer adds them by default."""
    n_spaces = len(context) - len(context.rstrip())
    if n_spaces:
        continuation = context[-n_spaces:] + continuation
        context = context[:-n_spaces]
    whole = tokenizer.encode(context + continuation)
    ctx = tokenizer.encode(context)
    return ctx, whole[len(ctx) :]


def encode_prompts(tokenizer, prompts: Sequence[Prompt], lang: str) -> list[TokQuery]:
    out = []
    for p in prompts:
        pairs = [encode_pair(tokenizer, p.context, c) for c in p.continuations]
        ctx = pairs[0][0]
        if any(c != ctx for c, _ in pairs):  # pragma: no cover - the same context string encodes the same
            raise ValueError("the choices of a query encode their context differently")
        conts = [cont for _, cont in pairs]
        if any(not c for c in conts):
            raise SpecError(f"{lang} item {p.idx}: a choice encodes to no tokens of its own")
        out.append(TokQuery(p, lang, ctx, conts))
    return out


# ---- scoring ----------------------------------------------------------------------------------


@dataclass
class ScoreStats:
    """What a scoring pass processed: calls, tokens, analytic FLOPs of every call's shapes."""

    calls: int = 0
    batches: int = 0
    tokens_nonpad: int = 0
    tokens_padded: int = 0
    flops: int = 0  # of the padded shapes
    flops_nonpad: int = 0  # each row at its own length (its real tokens over its real keys): useful work
    prefix_tokens: int = 0


class CausalScorer:
    """Log-likelihoods of every continuation of every query (module docstring)."""

    def __init__(self, model, dims: DecoderDims, pad_id: int, device: torch.device):
        self.model, self.dims, self.pad_id, self.device = model, dims, pad_id, device
        params = inspect.signature(model.forward).parameters
        self.cache_arg = "cache" if "cache" in params else "past_key_values"
        self.positions = "position_ids" in params
        self.keep = "logits_to_keep" in params

    def _forward(
        self, ids, mask, positions, cache, keep, stats: ScoreStats, past: int, rows: list[tuple[int, int, int]]
    ):
        """One forward call; ``rows``: each row's (real new tokens, real keys, logits it needs), for
        the useful-work FLOPs."""
        kwargs: dict[str, Any] = {"input_ids": ids, "attention_mask": mask, "use_cache": True}
        if cache is not None:
            kwargs[self.cache_arg] = cache
        if self.positions:
            kwargs["position_ids"] = positions
        if self.keep and keep is not None:
            kwargs["logits_to_keep"] = keep
        out = self.model(**kwargs)
        n, q = ids.shape
        n_logits = int(keep.numel()) if (self.keep and keep is not None) else q
        stats.calls += 1
        stats.flops += decoder_forward_flops(self.dims, n, q, past + q, n_logits)
        stats.flops_nonpad += sum(decoder_forward_flops(self.dims, 1, t, k, lg) for t, k, lg in rows)
        stats.tokens_padded += n * q
        stats.tokens_nonpad += sum(t for t, _, _ in rows)
        new_cache = getattr(out, "cache", None)
        if new_cache is None:
            new_cache = getattr(out, "past_key_values", None)
        return out.logits, new_cache

    @staticmethod
    def shared_prefix(queries: Sequence[TokQuery]) -> int:
        """Tokens every context starts with, at most all but the last of the shortest (its last
        position must be computed per query: it predicts the continuation)."""
        if len(queries) < 2:
            return 0
        first = queries[0].context
        n = min(len(q.context) for q in queries) - 1
        for q in queries[1:]:
            ctx = q.context
            i = 0
            while i < n and ctx[i] == first[i]:
                i += 1
            n = i
            if n == 0:
                break
        return max(n, 0)

    @staticmethod
    def order(queries: Sequence[TokQuery]) -> list[int]:
        """The order queries are scored in: longest first (a batch that does not fit fails at once);
        by context, then continuation length, so a batch's rows pad little in both passes."""
        return sorted(
            range(len(queries)),
            key=lambda i: (
                len(queries[i].context) + max(map(len, queries[i].continuations)),
                max(map(len, queries[i].continuations)),
            ),
            reverse=True,
        )

    @torch.inference_mode()
    def score(
        self,
        queries: Sequence[TokQuery],
        batch_size: int,
        *,
        share_prefix: bool = True,
        stats: ScoreStats | None = None,
        check_cancel: Callable[[], None] | None = None,
        on_batch: Callable[[int, int, int], None] | None = None,
        batches: int | None = None,
    ) -> list[list[float]]:
        """The log-likelihood of each choice of each query, in the order given. ``on_batch(batch,
        batches, queries done)`` hears after every batch (progress events). ``batches``: stop after
        that many batches (the untimed pass before a phase: the prefix and the first batch, exactly
        as the phase runs them); the queries not scored are None."""
        stats = stats if stats is not None else ScoreStats()
        self.model.eval()
        n_prefix = self.shared_prefix(queries) if share_prefix else 0
        prefix_cache = None
        if n_prefix:
            ids = torch.tensor([queries[0].context[:n_prefix]], device=self.device)
            mask = torch.ones_like(ids)
            positions = torch.arange(n_prefix, device=self.device)[None]
            _, prefix_cache = self._forward(
                ids,
                mask,
                positions,
                None,
                torch.tensor([n_prefix - 1], device=self.device),
                stats,
                0,
                [(n_prefix, n_prefix, 1)],
            )
            stats.prefix_tokens += n_prefix
        order = self.order(queries)
        out: list[list[float] | None] = [None] * len(queries)
        for b, start in enumerate(range(0, len(order), batch_size), 1):
            if batches is not None and b > batches:
                break
            if check_cancel is not None:
                check_cancel()
            idxs = order[start : start + batch_size]
            batch = [queries[i] for i in idxs]
            lls = self._score_batch(batch, n_prefix, prefix_cache, stats)
            stats.batches += 1
            for i, row in zip(idxs, lls):
                out[i] = row
            if on_batch is not None:
                on_batch(b, math.ceil(len(order) / batch_size), start + len(idxs))
        return out  # type: ignore[return-value]

    def _score_batch(self, batch: list[TokQuery], n_prefix: int, prefix_cache, stats: ScoreStats) -> list[list[float]]:
        dev = self.device
        B = len(batch)
        suffixes = [q.context[n_prefix:] for q in batch]
        L = max(len(s) for s in suffixes)
        ids = torch.full((B, L), self.pad_id, dtype=torch.long)
        smask = torch.zeros((B, L), dtype=torch.long)
        for r, s in enumerate(suffixes):
            ids[r, : len(s)] = torch.tensor(s)
            smask[r, : len(s)] = 1
        mask = torch.cat([torch.ones((B, n_prefix), dtype=torch.long), smask], dim=1).to(dev)
        positions = (n_prefix + torch.arange(L))[None].expand(B, L).to(dev)
        cache = None
        if prefix_cache is not None:
            cache = copy.deepcopy(prefix_cache)
            cache.batch_repeat_interleave(B)
        lasts = [len(s) - 1 for s in suffixes]
        keep = sorted(set(lasts))
        logits, cache = self._forward(
            ids.to(dev),
            mask,
            positions,
            cache,
            torch.tensor(keep, device=dev),
            stats,
            n_prefix,
            [(len(s), n_prefix + len(s), 1) for s in suffixes],  # a row's useful logits: its last position's
        )
        if self.keep:
            at = {p: j for j, p in enumerate(keep)}
            first = torch.stack([logits[r, at[lasts[r]]] for r in range(B)])
        else:
            first = torch.stack([logits[r, lasts[r]] for r in range(B)])
        first_lp = torch.log_softmax(first.float(), dim=-1)  # (B, vocab): each query's next-token distribution
        lls = [[float(first_lp[r, cont[0]]) for cont in q.continuations] for r, q in enumerate(batch)]
        rows = [(r, j) for r, q in enumerate(batch) for j, cont in enumerate(q.continuations)]
        M = max(len(batch[r].continuations[j]) for r, j in rows)
        if M > 1:
            ids2 = torch.full((len(rows), M - 1), self.pad_id, dtype=torch.long)
            cmask = torch.zeros((len(rows), M - 1), dtype=torch.long)
            real: list[tuple[int, int, int]] = []
            for n, (r, j) in enumerate(rows):
                tail = batch[r].continuations[j][:-1]
                if tail:
                    ids2[n, : len(tail)] = torch.tensor(tail)
                    cmask[n, : len(tail)] = 1
                real.append((len(tail), n_prefix + len(suffixes[r]) + len(tail), len(tail)))
            sel = torch.tensor([r for r, _ in rows], device=dev)
            cache.batch_select_indices(sel)
            mask2 = torch.cat([mask[sel], cmask.to(dev)], dim=1)
            ctx_len = torch.tensor([n_prefix + len(suffixes[r]) for r, _ in rows])
            positions2 = (ctx_len[:, None] + torch.arange(M - 1)[None]).to(dev)
            logits2, _ = self._forward(ids2.to(dev), mask2, positions2, cache, None, stats, n_prefix + L, real)
            lp2 = torch.log_softmax(logits2.float(), dim=-1)
            for n, (r, j) in enumerate(rows):
                cont = batch[r].continuations[j]
                if len(cont) > 1:
                    targets = torch.tensor(cont[1:], device=dev)
                    lls[r][j] += float(lp2[n, torch.arange(len(cont) - 1, device=dev), targets].sum())
        return lls


def standalone_query_flops(dims: DecoderDims, q: TokQuery) -> int:
    """The FLOPs of scoring one query on its own, as the batch-1 latency does: its whole context in
    one pass (the LM head at its last position), then its choices' remaining tokens, one row each,
    padded to the longest, over the context's cache."""
    c = len(q.context)
    flops = decoder_forward_flops(dims, 1, c, c, 1)
    m = max(len(x) for x in q.continuations)
    if m > 1:
        flops += decoder_forward_flops(dims, len(q.continuations), m - 1, c + m - 1, m - 1)
    return flops


# ---- the phases -------------------------------------------------------------------------------


def summary(values: Sequence[int]) -> dict[str, float | int | None]:
    """mean, p50, p95, max of token counts (the context-length distribution)."""
    if not values:
        return {"mean": None, "p50": None, "p95": None, "max": None}
    s = sorted(values)
    return {"mean": sum(s) / len(s), "p50": percentile(s, 50), "p95": percentile(s, 95), "max": s[-1]}


def histogram(values: Sequence[int], bins: int = 10) -> list[list[int]]:
    """[[low, high, count], ...] over ``bins`` equal-width bins of whole tokens."""
    if not values:
        return []
    lo, hi = min(values), max(values)
    width = max(1, math.ceil((hi - lo + 1) / bins))
    counts: dict[int, int] = {}
    for v in values:
        counts[(v - lo) // width] = counts.get((v - lo) // width, 0) + 1
    return [[lo + b * width, lo + (b + 1) * width - 1, counts.get(b, 0)] for b in range((hi - lo) // width + 1)]


class IclRunner:
    """Executes an icl run's phase plan: eval:<lang> per language (and eval:en), then the bench."""

    def __init__(self, phases, spec: RunSpec, model, tokenizer, data, log):
        self.p, self.spec, self.model, self.tokenizer, self.data, self.log = phases, spec, model, tokenizer, data, log
        self.dims = DecoderDims.from_hf_config(model.config)
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        device = next(model.parameters()).device
        self.scorer = CausalScorer(model, self.dims, int(pad or 0), device)
        self.limit = max_positions(model.config)
        self.samples = JsonlWriter(phases.job.files.loglikelihoods)  # beside predictions.jsonl
        self.last: list[TokQuery] = []

    @classmethod
    def start(cls, job: RunHandle, spec: RunSpec, device: Device, data: RunData) -> None:
        """An icl run after its data is loaded: the causal LM, then the phases (main.Job._run calls
        it: methods.py names it)."""

        def texts() -> list[str]:
            return [t for _, exs in data.tokenizer_lists(spec) for t in all_texts(exs)]

        tokenizer, model, loaded = load_causal_lm(spec, device, texts, _log)
        job.events.emit(loaded)
        _log(
            f"model: {spec.model} ({loaded.source}{', revision ' + loaded.revision if loaded.revision else ''}), "
            f"{device.precision}"
        )
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        # device_map = "auto" may spread the model over GPUs: every one counts (device-hours, energy, memory)
        device = spread_device(device, model_cuda_indices(model))
        if device.count > 1:
            _log(f"model: on {device.count} GPUs (device_map = {spec.device_map!r}); every phase is measured over all")
        ctx = JobContext(
            device=device,
            events=job.events,
            measure=spec.measure,
            dims=None,  # a decoder: nothing in the ICL runner reads the encoder's dims
            pad_id=int(pad or 0),
            cancel=job.cancel,
            log=_log,
            memory_now=lambda: (None, None, None),
        )
        job.cancel_point()
        # the phases are measured as the encoder's are: PhaseRunner's _begin and _end
        cls(PhaseRunner(job, spec, ctx, model, tokenizer), spec, model, tokenizer, data, _log).run_all()

    def shots_of(self, lang: str) -> tuple[list, list]:
        """(the k demonstrations of ``lang``, their idx): ``few_shot_sample``'s nested draw from the
        pool (COPA train for English, XCOPA validation for a target language), in pool order."""
        k = self.spec.few_shot_k or 0
        if not k:
            return [], []
        pool = self.data.few_shot_pool[lang]
        if k > len(pool):
            raise SpecError(f"few_shot_k={k} but the pool of {lang!r} demonstrations has only {len(pool)} examples")
        shots = [pool[j] for j in few_shot_sample(pool, k, self.spec.shot_seed or 0, lang)]
        return shots, [s.idx for s in shots]

    def prompt_info(self, lang: str, examples: list) -> dict:
        """The eval phase's facts of its prompt: the variant, the harness task and version it is,
        and how many of its queries the other variant would write differently (issue 19: only
        Thai and Tamil premises lack a final period)."""
        shots, _ = self.shots_of(lang)
        return {
            "icl_prompt": self.spec.icl_prompt,
            "prompt_template": prompt_template(lang, self.spec.icl_prompt),
            "premises": len(examples),
            "premises_cut": premises_cut(examples),
            "prompts_differing": prompts_differing(examples, lang, shots),
        }

    def queries_of(self, lang: str, examples: list) -> tuple[list[TokQuery], list]:
        shots, shot_idx = self.shots_of(lang)
        prompts = [build_prompt(ex, lang, shots, self.spec.icl_prompt) for ex in examples]
        queries = encode_prompts(self.tokenizer, prompts, lang)
        longest = max((q.context_tokens + max(len(c) for c in q.continuations) for q in queries), default=0)
        if self.limit is not None and longest > self.limit:
            raise SpecError(
                f"the {self.spec.few_shot_k}-shot prompts of {lang} reach {longest} tokens, more than the "
                f"{self.limit} positions of {self.spec.model!r}; use a smaller few_shot_k"
            )
        return queries, shot_idx

    def run_all(self) -> None:
        spec = self.spec
        for phase in spec.phase_plan():
            if phase.kind == PhaseKind.EVAL:
                assert phase.lang is not None
                if phase.lang == "en":
                    self.eval_phase(phase, spec.target, "validation", self.data.english_eval)
                else:
                    split = "validation" if spec.eval_split == "val" else spec.eval_split
                    self.eval_phase(
                        phase,
                        "xcopa",
                        spec.eval_split,
                        self.data.target_eval[phase.lang],
                        self.data.questions_info(spec, split, phase.lang, self.data.target_eval[phase.lang]),
                    )
            elif phase.kind == PhaseKind.INFERENCE_BENCH:
                self.bench_phase(phase)
        self.samples.close()

    def eval_phase(self, phase: PlannedPhase, task: str, split: str, examples: list, extra: dict | None = None) -> None:
        spec, ctx = self.spec, self.p.ctx
        lang = phase.lang or "en"
        queries, shot_idx = self.queries_of(lang, examples)
        bs = spec.eval_batch_size
        check = self.warm(phase.name, queries, bs)  # untimed, before the meter
        meter = self.p._begin(phase, math.ceil(len(queries) / bs))
        stats = ScoreStats()
        t0 = last = time.monotonic()

        def progress(b: int, total: int, done: int) -> None:
            nonlocal last
            now = time.monotonic()
            if spec.measure.enabled and (now - last >= spec.measure.progress_every_s or b == total):
                mem, peak, source = ctx.memory_now()
                ctx.events.emit(
                    Progress(
                        phase.name,
                        b,
                        total,
                        examples_per_s=done / max(now - t0, 1e-9),
                        tokens_per_s=stats.tokens_nonpad / max(now - t0, 1e-9),
                        mem_bytes=mem,
                        peak_mem_bytes=peak,
                        mem_source=source,
                    )
                )
                last = now

        with meter:
            lls = self.scorer.score(queries, bs, stats=stats, check_cancel=ctx.check_cancel, on_batch=progress)
            ctx.device.synchronize()
        rows = []
        correct = correct_norm = 0
        for q, ll in zip(queries, lls):
            p = q.prompt
            pred, tie = pick_choice(ll, p.idx)
            norm = [v / len(c) for v, c in zip(ll, p.choices)]
            pred_norm, _ = pick_choice(norm, p.idx)
            correct += pred == p.label
            correct_norm += pred_norm == p.label
            rows.append((q, ll, pred, pred_norm, tie))
            self.p.job.predictions.write(
                Prediction(phase.name, task, lang, split, p.idx, pred, p.label, ll, bool(pred == p.label)).to_dict()
            )
            self.samples.write(
                {
                    "phase": phase.name,
                    "task": task,
                    "lang": lang,
                    "split": split,
                    "idx": p.idx,
                    "label": p.label,
                    "context": p.context,
                    "continuations": list(p.continuations),
                    "loglikelihoods": ll,
                    "choice_chars": [len(c) for c in p.choices],
                    "pred": pred,
                    "pred_norm": pred_norm,
                    "context_tokens": q.context_tokens,
                    "continuation_tokens": [len(c) for c in q.continuations],
                }
            )
        n = len(queries)
        ctx_tokens = [q.context_tokens for q in queries]
        dist = summary(ctx_tokens)  # read only when n > 0: then present() holds
        tally = Tally(
            examples=n,
            steps=stats.batches,
            tokens_nonpad=stats.tokens_nonpad,
            tokens_padded=stats.tokens_padded,
            flops_analytic=stats.flops,
            flops_nonpad=stats.flops_nonpad,
            check=check,
        )
        per_query = [standalone_query_flops(self.dims, q) for q in queries]
        costs = {
            "queries": Cost.measured(n, "count", "counted"),
            "prompt_tokens": Cost.measured(sum(ctx_tokens), "count", "counted"),
            "continuation_tokens": Cost.measured(
                sum(sum(len(c) for c in q.continuations) for q in queries), "count", "counted"
            ),
            "context_tokens_mean": Cost.measured(present(dist["mean"]), "count", "counted")
            if n
            else Cost.missing("count", "no queries"),
            "context_tokens_p50": Cost.measured(present(dist["p50"]), "count", "counted")
            if n
            else Cost.missing("count", "no queries"),
            "context_tokens_p95": Cost.measured(present(dist["p95"]), "count", "counted")
            if n
            else Cost.missing("count", "no queries"),
            "context_tokens_max": Cost.measured(present(dist["max"]), "count", "counted")
            if n
            else Cost.missing("count", "no queries"),
            "query_flops": (
                Cost.measured(sum(per_query) / n, "FLOP", "analytic", per="query, scored alone")
                if n
                else Cost.missing("FLOP", "no queries")
            ),
        }
        acc = correct / n if n else None
        info = {
            "split": split,
            "batch_size": bs,
            "k": spec.few_shot_k or 0,
            "shot_seed": spec.shot_seed,
            "few_shot_indices": shot_idx,
            "acc": acc,
            "acc_norm": correct_norm / n if n else None,
            "correct_norm": correct_norm,
            "ties": sum(1 for r in rows if r[4]),
            "shared_prefix_tokens": stats.prefix_tokens,
            "forward_calls": stats.calls,
            "context_length_histogram": histogram(ctx_tokens),
            "precision": ctx.device.precision,
            "gpus": getattr(ctx.device, "cuda_indices", None),
            "scoring": "lm-evaluation-harness prompt and acc; KV cache: demonstrations once, each context once",
            **self.prompt_info(lang, examples),
            **(extra or {}),
        }
        self.p._end(phase, meter, tally, tasks=[task], info=info, extra_costs=costs)
        ctx.events.emit(EvalResult(phase.name, task, lang, split, acc, n, correct))
        self.log(
            f"{phase.name}: acc {acc if acc is None else round(acc, 4)}, acc_norm "
            f"{round(correct_norm / n, 4) if n else None} on {n} queries ({spec.few_shot_k or 0}-shot, "
            f"context {dist['mean'] and round(dist['mean'], 1)} tokens on average)"
        )
        if lang != "en" or not self.last:
            self.last = queries or self.last

    def warm(self, name: str, queries: list[TokQuery], batch_size: int) -> FlopCheck:
        """Untimed, before the phase's meter: the demonstrations' prefix and the first batch scored as
        the phase will score them, once plain (the warm-up) and once under FlopCounterMode (the FLOP
        check), at a shape (rows, sequence bucket, precision) not warmed before; a shape warmed
        before reuses its check. A ``warmup`` event records the seconds (the run's ``warmup_s``)."""
        spec, ctx = self.spec, self.p.ctx
        t0 = time.perf_counter()
        enabled = spec.measure.warmup
        check, count = phase_check(spec.measure)
        new: list[Shape] = []
        if enabled and queries:
            first = [queries[i] for i in self.scorer.order(queries)[:batch_size]]
            longest = max(q.context_tokens + max(len(c) for c in q.continuations) for q in first)
            shape = Shape("score", "lm", len(first), seq_bucket(longest), ctx.device.precision)
            if shape not in self.p.warmer.checks:
                shape_check = FlopCheck(reason=check.reason)

                def run() -> int:
                    st = ScoreStats()
                    self.scorer.score(queries, batch_size, stats=st, batches=1)
                    return st.flops

                plain_then_counted(run, shape_check, count)
                self.p.warmer.checks[shape] = shape_check
                new.append(shape)
            check.merge(self.p.warmer.checks[shape])
        record_warmup(ctx, name, t0, new, check, {"batch_size": batch_size, "enabled": enabled})
        return check

    def bench_phase(self, phase: PlannedPhase) -> None:
        """Batch-1 latency of a query (its context, then both choices), throughput at the evaluation
        batch size, on the last evaluated language's queries (cycled when there are fewer)."""
        spec, ctx = self.spec, self.p.ctx
        data = self.last
        meter = self.p._begin(phase, None)
        if not data:
            with meter:
                pass
            reason = "no evaluation queries to benchmark on"
            self.p._end(
                phase,
                meter,
                None,
                tasks=[],
                extra_costs={
                    k: Cost.missing("s", reason) for k in ("latency_p50_s", "latency_p95_s", "latency_mean_s")
                },
            )
            return
        n, warm = spec.measure.inference_bench_examples, spec.measure.inference_warmup
        pick = [data[i % len(data)] for i in range(warm + n)]
        latencies = []
        latency_flops = []
        timed_tokens = (0, 0)  # (non-pad, padded) of the timed calls
        throughput = ScoreStats()
        with meter:
            for i, q in enumerate(pick):
                ctx.check_cancel()
                call = ScoreStats()
                ctx.device.synchronize()
                t0 = time.perf_counter()
                self.scorer.score([q], 1, share_prefix=False, stats=call)
                ctx.device.synchronize()
                if i >= warm:
                    latencies.append(time.perf_counter() - t0)
                    latency_flops.append((call.flops, call.flops_nonpad))
                    timed_tokens = (timed_tokens[0] + call.tokens_nonpad, timed_tokens[1] + call.tokens_padded)
            bs = spec.eval_batch_size
            pool = [data[i % len(data)] for i in range(min(4 * bs, max(len(data), bs)))]
            self.scorer.score(pool[:bs], bs)  # warm-up
            ctx.device.synchronize()
            t0 = time.perf_counter()
            self.scorer.score(pool, bs, stats=throughput, check_cancel=ctx.check_cancel)
            ctx.device.synchronize()
            elapsed = time.perf_counter() - t0
        s = latency_summary(latencies)  # of n >= 1 timed calls (inference_bench_examples' range): present()
        per_query = [standalone_query_flops(self.dims, q) for q in pick[warm:]]
        costs = {
            "latency_p50_s": Cost.measured(present(s["p50"]), "s", "wall_clock", per="query, both choices, batch 1"),
            "latency_p95_s": Cost.measured(present(s["p95"]), "s", "wall_clock"),
            "latency_mean_s": Cost.measured(present(s["mean"]), "s", "wall_clock"),
            "latency_n": Cost.measured(present(s["n"]), "count", "counted"),
            "throughput_examples_per_s": Cost.measured(len(pool) / elapsed, "examples/s", "wall_clock", batch_size=bs),
            **bench_flop_costs(
                ctx.device,
                latency_flops,
                (throughput.flops, throughput.flops_nonpad),
                elapsed,
                "query, both choices, batch 1",
                (timed_tokens[0] + throughput.tokens_nonpad, timed_tokens[1] + throughput.tokens_padded),
            ),
            # a batch-1 call's FLOPs are the query's scored alone (its context, then its choices)
            "query_flops": Cost.measured(
                sum(per_query) / len(per_query), "FLOP", "analytic", per="query, scored alone"
            ),
        }
        info = {
            "warmup": warm,
            "latency_batch_size": 1,
            "throughput_batch_size": bs,
            "throughput_examples": len(pool),
            "latency_p90_s": s["p90"],
            "latency_p99_s": s["p99"],
            "latency_stdev_s": s["stdev"],
            "lang": data[0].lang,
        }
        self.p._end(phase, meter, None, tasks=[], extra_costs=costs, info=info)
