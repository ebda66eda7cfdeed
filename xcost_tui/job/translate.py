"""Translate-test (``method = "translate-test"``): an English classifier on English translations of
each language's test items.

The classifier is the run's own: its intermediate (if any) and target phases are trained in the
run, exactly as a direct or intermediate run with the same settings trains them (the runner's
shared-phase mechanism covers intermediate and few-shot runs only, docs/methods.md). Then, per
language, ``translate:<lang>`` makes the English items and ``eval:<lang>`` scores them:

- ``translations = "published"``: the machine translations that ship with XCOPA (task
  ``xcopa-translate-test``); their cost is NULL, "translated by the dataset authors; not
  measured"; Quechua has none and is reported missing (no accuracy), not as chance;
- otherwise a seq2seq MT model (``AutoModelForSeq2SeqLM``: NLLB-200, M2M-100, Marian, or the
  built-in random ``tiny-marian``, a pipeline check) translates the premise and both choices, with
  the language codes of its family, and the phase measures the translation's cost.

Every translation is written to ``translations.jsonl`` beside the predictions. After the
``translate:<lang>`` phase's meter stops, the English text is scored (job/mtquality.py: chrF and
BLEU against the original English COPA items of the same idx, and for an MT model also against
XCOPA's published translations) into the phase's ``info.mt_quality`` (rundir/records.py ``MTScore``).

Before a ``translate:<lang>`` phase's meter starts, the language's first batch is translated
untimed, once plain (the warm-up) and once under FlopCounterMode (the FLOP check: counted against
the analytic count of that same pass; the phase's ``flops_measured`` is its analytic FLOPs times
their ratio); a ``warmup`` event records it (issue 17). An MT model that ``device_map = "auto"``
spread over GPUs is measured over all of them (job/device.py ``spread_device``), in the translate
phases and the inference bench, which run it.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import torch

from ..errors import ModelError
from ..measure.flops import FlopCheck, Seq2SeqDims, seq2seq_generate_flops
from ..measure.stats import latency_summary, present
from ..rundir import EvalResult, JsonlWriter
from ..rundir.cost import Cost
from ..rundir.records import Translation
from ..spec import PUBLISHED, TINY_MT, PlannedPhase
from ..tasks.converters import copa_context, copa_parts
from ..tasks.examples import MCExample
from ..tasks.registry import TRANSLATED
from .batching import collate, encode
from .bench import bench_flop_costs
from .causal import (
    DTYPES,
    available_memory,
    check_memory_fit,
    count_parameters,
    model_precision,
    train_tiny_gpt2_tokenizer,
)
from .data import RunData
from .device import model_cuda_indices, spread_device
from .log import _log
from .loops import forward_flops, forward_flops_nonpad
from .model import resolved_revision
from .mtquality import COPA_REFERENCE, PUBLISHED_REFERENCE, score
from .phases import PhaseRunner
from .warmup import Shape, phase_check, plain_then_counted, record_warmup, seq_bucket

NOT_MEASURED = "translated by the dataset authors; not measured"

# Source-language codes per MT family. NLLB-200: FLORES-200 codes (Quechua: Ayacucho, quy_Latn);
# M2M-100: ISO 639-1 (no Quechua); the target is English.
NLLB_CODES = {
    "et": "est_Latn",
    "ht": "hat_Latn",
    "id": "ind_Latn",
    "it": "ita_Latn",
    "qu": "quy_Latn",
    "sw": "swh_Latn",
    "ta": "tam_Taml",
    "th": "tha_Thai",
    "tr": "tur_Latn",
    "vi": "vie_Latn",
    "zh": "zho_Hans",
    "en": "eng_Latn",
}
M2M_CODES = {lang: lang for lang in ("et", "ht", "id", "it", "sw", "ta", "th", "tr", "vi", "zh", "en")}
TINY_MARIAN_DIMS = {"d_model": 32, "encoder_layers": 1, "decoder_layers": 1, "heads": 2, "ffn": 64}


class Unavailable(Exception):
    """A language the translation source has nothing for (published: Quechua; a model without its code)."""


@dataclass
class MTStats:
    batches: int = 0
    texts: int = 0
    source_tokens: int = 0
    source_padded: int = 0
    generated_tokens: int = 0  # decoding steps x rows, as generate runs them
    flops: int = 0  # of the padded shapes, every row decoding until the batch's last step
    flops_nonpad: int = 0  # each text alone: its own source length, decoding until its own end
    lengths: list = field(default_factory=list)  # per text, in the order given: (source tokens, tokens generated)


def mt_family(model, tokenizer) -> str:
    """nllb | m2m100 | marian | other: which language codes the model wants."""
    name = type(tokenizer).__name__.lower()
    if "nllb" in name:
        return "nllb"
    if "m2m100" in name:
        return "m2m100"
    if getattr(model.config, "model_type", "") == "marian":
        return "marian"
    return "other"


class Translator:
    """The run's MT model: loaded once (once per language for a ``{lang}`` Marian pair), with the
    language codes of its family; translates texts in length-sorted batches, counting FLOPs."""

    def __init__(self, spec, device, texts, log=_log):
        self.spec, self.device, self.texts, self.log = spec, device, texts, log
        self.precision = model_precision(spec.model_dtype, device.type)
        self.loaded_id: str | None = None
        # transformers objects (Any), None until load()
        self.model: Any = None
        self.tokenizer: Any = None
        self.facts: dict[str, Any] = {}

    def model_id(self, lang: str) -> str:
        return self.spec.translations.replace("{lang}", lang)

    def load(self, lang: str) -> None:
        mid = self.model_id(lang)
        if mid == self.loaded_id:
            return
        self.model = self.tokenizer = None
        if mid == TINY_MT:
            from transformers import MarianConfig, MarianMTModel

            corpus = self.texts()
            tok = train_tiny_gpt2_tokenizer(corpus, 1000)
            d = TINY_MARIAN_DIMS
            config = MarianConfig(
                vocab_size=len(tok),
                d_model=d["d_model"],
                encoder_layers=d["encoder_layers"],
                decoder_layers=d["decoder_layers"],
                encoder_attention_heads=d["heads"],
                decoder_attention_heads=d["heads"],
                encoder_ffn_dim=d["ffn"],
                decoder_ffn_dim=d["ffn"],
                max_position_embeddings=512,
                pad_token_id=tok.pad_token_id,
                eos_token_id=tok.eos_token_id,
                decoder_start_token_id=tok.pad_token_id,
                forced_eos_token_id=None,
            )
            torch.manual_seed(self.spec.seed)
            model = MarianMTModel(config)
            self.facts = {
                "mt_model": mid,
                "mt_source": "built-in",
                "mt_tokenizer": "trained-in-process",
                "mt_tokenizer_texts": len(corpus),
                "note": "random weights: garbage translations, a pipeline check",
            }
            self.tokenizer = tok
        else:
            from transformers import AutoConfig, AutoModelForSeq2SeqLM, AutoTokenizer

            try:
                config = AutoConfig.from_pretrained(mid)
                n = count_parameters(config)
                available, what = available_memory(self.device, self.spec.device_map)
                check_memory_fit(mid, n, self.precision, available, what)
                self.tokenizer = AutoTokenizer.from_pretrained(mid)
                kwargs: dict[str, Any] = {"dtype": DTYPES[self.precision]}
                if self.spec.device_map:
                    kwargs["device_map"] = self.spec.device_map
                model = AutoModelForSeq2SeqLM.from_pretrained(mid, **kwargs)
            except (OSError, ValueError) as exc:
                reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise ModelError(
                    f"translations {mid!r}: the MT model could not be loaded: {reason}. Give a seq2seq "
                    f"model's hub id (facebook/nllb-200-distilled-600M, facebook/m2m100_418M, "
                    f"Helsinki-NLP/opus-mt-{{lang}}-en), a local directory, {PUBLISHED!r} or {TINY_MT!r}"
                ) from exc
            local = Path(mid).expanduser().is_dir()
            self.facts = {
                "mt_model": mid,
                "mt_source": "local" if local else "hub",
                "mt_revision": resolved_revision(model),
                "mt_parameters": n,
            }
        if not self.spec.device_map:
            model = model.to(self.device.torch_device)
        if self.precision != "fp32" and mid == TINY_MT:
            model = model.to(DTYPES[self.precision])
        self.model = model.eval()
        self.dims = Seq2SeqDims.from_hf_config(model.config)
        self.family = mt_family(model, self.tokenizer)
        self.facts.update(
            mt_family=self.family,
            mt_precision=self.precision,
            mt_beams=self.spec.mt_beams,
            mt_max_new_tokens=self.spec.mt_max_new_tokens,
        )
        self.loaded_id = mid
        self.log(f"translations: {mid} ({self.family}, {self.precision})")

    def generate_kwargs(self, lang: str) -> dict[str, Any]:
        """Source language on the tokenizer, English forced as the first token (NLLB, M2M-100)."""
        kw: dict[str, Any] = {
            "max_new_tokens": self.spec.mt_max_new_tokens,
            "num_beams": self.spec.mt_beams,
            "do_sample": False,
        }
        if self.family == "nllb":
            if lang not in NLLB_CODES:
                raise Unavailable(f"{self.loaded_id} has no FLORES-200 code for {lang}")
            self.tokenizer.src_lang = NLLB_CODES[lang]
            kw["forced_bos_token_id"] = self.tokenizer.convert_tokens_to_ids(NLLB_CODES["en"])
        elif self.family == "m2m100":
            if lang not in M2M_CODES:
                raise Unavailable(f"{self.loaded_id} (M2M-100) has no language code for {lang}")
            self.tokenizer.src_lang = M2M_CODES[lang]
            kw["forced_bos_token_id"] = self.tokenizer.get_lang_id("en")
        return kw

    @torch.inference_mode()
    def translate(
        self,
        texts: list[str],
        lang: str,
        batch_size: int,
        stats: MTStats,
        check_cancel=None,
        batches: int | None = None,
    ) -> list[str]:
        """``texts`` in English, in the order given, translated in batches longest first.
        ``batches``: stop after that many (the untimed pass before a phase: its first batch, as the
        phase translates it); the texts not translated are None."""
        kw = self.generate_kwargs(lang)
        order = self.order(texts)
        out: list[str | None] = [None] * len(texts)
        lengths: list[tuple[int, int] | None] = [None] * len(texts)
        eos = self.model.generation_config.eos_token_id
        eos = set(eos if isinstance(eos, list) else [eos]) if eos is not None else set()
        dev = next(self.model.parameters()).device
        for b, start in enumerate(range(0, len(order), batch_size), 1):
            if batches is not None and b > batches:
                break
            if check_cancel is not None:
                check_cancel()
            idxs = order[start : start + batch_size]
            enc = self.encode([texts[i] for i in idxs])
            enc = {k: v.to(dev) for k, v in enc.items()}
            gen = self.model.generate(**enc, **kw)
            n, src = enc["input_ids"].shape
            steps = int(gen.shape[1]) - 1  # the first token is the decoder start
            flops = seq2seq_generate_flops(self.dims, n, src, steps, self.spec.mt_beams)
            stats.batches += 1
            stats.texts += n
            stats.source_tokens += int(enc["attention_mask"].sum())
            stats.source_padded += n * src
            stats.generated_tokens += n * self.spec.mt_beams * steps
            stats.flops += flops
            for row, (i, text) in enumerate(zip(idxs, self.tokenizer.batch_decode(gen, skip_special_tokens=True))):
                out[i] = text.strip()
                tokens = gen[row, 1:].tolist()
                done = next((j + 1 for j, t in enumerate(tokens) if t in eos), len(tokens))
                source = int(enc["attention_mask"][row].sum())
                lengths[i] = (source, done)
                stats.flops_nonpad += seq2seq_generate_flops(self.dims, 1, source, done, self.spec.mt_beams)
        stats.lengths = lengths
        return out  # type: ignore[return-value]

    @staticmethod
    def order(texts: list[str]) -> list[int]:
        """The order texts are translated in: longest (in characters) first."""
        return sorted(range(len(texts)), key=lambda i: len(texts[i]), reverse=True)

    def encode(self, texts: list[str]) -> dict[str, Any]:
        """A batch of source texts as the model takes them (ids and mask, padded to the longest)."""
        enc = self.tokenizer(texts, return_tensors="pt", padding=True, truncation=True, max_length=512)
        return {k: v for k, v in enc.items() if k in ("input_ids", "attention_mask")}


def add_tokens(tokens: tuple[int, int], mt: MTStats, batch) -> tuple[int, int]:
    """(non-pad, padded) tokens plus a translation's source tokens and a classifier batch's."""
    return (
        tokens[0] + mt.source_tokens + batch.tokens_nonpad,
        tokens[1] + mt.source_padded + batch.tokens_padded,
    )


def _texts(examples: list[MCExample]) -> list[str]:
    """premise, choice1, choice2 of every item, in order."""
    out = []
    for ex in examples:
        premise, _ = copa_parts(ex.context)
        out += [premise, *ex.choices]
    return out


def _rebuild(examples: list[MCExample], translated: list[str]) -> list[MCExample]:
    out = []
    for i, ex in enumerate(examples):
        _, question = copa_parts(ex.context)
        premise, *choices = translated[3 * i : 3 * i + 1 + len(ex.choices)]
        out.append(MCExample(ex.idx, copa_context(premise, question), tuple(choices), ex.label, ex.lang))
    return out


class TranslateRunner(PhaseRunner):
    """PhaseRunner for translate-test: the classifier's phases as PhaseRunner runs them, in its
    loop; the per-language hooks translate a language's items (translate:<lang>), evaluate the
    translations (eval:<lang>) and time a query end to end (inference-bench)."""

    def run_all(self, data: RunData, reused_meta: dict | None) -> None:
        """PhaseRunner's phase loop, with the MT model (when the spec names one) and
        translations.jsonl open around it."""
        spec = self.spec
        self.english: dict[str, list | str] = {}  # lang -> translated examples, or why there are none
        self.translator = (
            Translator(
                spec,
                self.ctx.device,
                lambda: [t for e in data.target_train for t in (copa_parts(e.context)[0], *e.choices)],
            )
            if spec.uses_mt_model
            else None
        )
        self.writer = JsonlWriter(self.job.files.translations)
        self.mt_sources: dict[str, list[MCExample]] = {}
        self.mt_references = data.mt_references  # (task, lang) -> items (tasks/needs.py MT_REFERENCE)
        try:
            super().run_all(data, reused_meta)
        finally:
            self.writer.close()

    @contextlib.contextmanager
    def _mt_devices(self) -> Iterator[None]:
        """Inside: the run's device counts every GPU the MT model is on (``device_map = "auto"``)
        as well as the classifier's own (job/device.py ``spread_device``); the phases that run the
        MT model are measured over all of them."""
        base = self.ctx.device
        if self.translator is not None and self.translator.model is not None:
            self.ctx.device = spread_device(base, model_cuda_indices(self.translator.model))
        try:
            yield
        finally:
            self.ctx.device = base

    records_curves = False  # _curve_probe: none (a shared target phase's curve is not copied either)

    def _curve_probe(self, phase: PlannedPhase, head: str):
        """None: translate-test has recorded no learning curve so far (its runner, before the phase
        loop was shared, never set the ``data`` the probe needs), though tasks/needs.py means its
        classifier's curve to be on COPA validation. Kept as it was: the re-floor (issue 15)
        changes no behaviour."""
        return None

    # ---- translate:<lang> ----------------------------------------------------------------------
    def _language_phase(self, phase: PlannedPhase, data: RunData) -> None:
        """translate:<lang>: the language's test items into English (published, or the MT model)."""
        spec, lang = self.spec, phase.lang
        assert lang is not None
        split = "validation" if spec.eval_split == "val" else spec.eval_split
        source = data.target_eval.get(lang)
        if spec.translations == PUBLISHED:
            meter = self._begin(phase, None)
            with meter:
                pass
            if source is None:
                self.english[lang] = f"no published English translation of XCOPA {lang} (XCOPA ships none for Quechua)"
            else:
                self.english[lang] = source
                for ex in source:
                    premise, _ = copa_parts(ex.context)
                    self.writer.write(
                        Translation(phase.name, lang, split, ex.idx, PUBLISHED, premise, *ex.choices).to_dict()
                    )
            missing = {
                name: Cost.missing(unit, NOT_MEASURED)
                for name, unit in (
                    ("wall_s", "s"),
                    ("cpu_s", "s"),
                    ("device_hours", "h"),
                    ("peak_mem_bytes", "B"),
                    ("energy_j", "J"),
                    ("flops_analytic", "FLOP"),
                    ("query_flops", "FLOP"),
                )
            }
            info: dict[str, Any] = {"translations": PUBLISHED, "split": split}
            english = self.english[lang]
            info["mt_quality"] = self._mt_quality(lang, split, english)
            if isinstance(english, str):
                info["missing"] = english
            else:
                # the translations are the source items themselves (not None: then english[lang] says why)
                missing["examples"] = Cost.measured(len(cast(list, source)), "count", "counted")
            self._end(phase, meter, None, tasks=["xcopa-translate-test"], extra_costs=missing, info=info)
            return
        assert self.translator is not None and source is not None
        try:
            self.translator.load(lang)
            self.translator.generate_kwargs(lang)
        except Unavailable as exc:
            meter = self._begin(phase, None)
            with meter:
                pass
            self.english[lang] = str(exc)
            reason = f"not translated: {exc}"
            self._end(
                phase,
                meter,
                None,
                tasks=["xcopa"],
                info={
                    "translations": spec.translations,
                    "missing": reason,
                    "mt_quality": self._mt_quality(lang, split, reason),
                },
                extra_costs={
                    n: Cost.missing(u, reason) for n, u in (("flops_analytic", "FLOP"), ("query_flops", "FLOP"))
                },
            )
            return
        with self._mt_devices():
            self._translate_phase(phase, lang, split, source)

    def _translate_phase(self, phase: PlannedPhase, lang: str, split: str, source: list[MCExample]) -> None:
        """translate:<lang> with the MT model: the untimed warm-up and FLOP check, then the measured
        translation of every text."""
        spec = self.spec
        assert self.translator is not None
        texts = _texts(source)
        bs = spec.eval_batch_size
        stats = MTStats()
        check = self._warm_translation(phase.name, texts, lang, bs)  # untimed, before the meter
        meter = self._begin(phase, None)
        with meter:
            translated = self.translator.translate(texts, lang, bs, stats, self.ctx.check_cancel)
            self.ctx.device.synchronize()
        english = _rebuild(source, translated)
        self.english[lang] = english
        quality = self._mt_quality(lang, split, english)  # after the meter: scoring is not the method's cost
        for ex, en in zip(source, english):
            src_premise, _ = copa_parts(ex.context)
            en_premise, _ = copa_parts(en.context)
            self.writer.write(
                # an MT model runs only with translations set (the spec's check); COPA items have two choices
                Translation(
                    phase.name,
                    lang,
                    split,
                    cast(int, ex.idx),  # XCOPA's ids are numbers
                    cast(str, spec.translations),
                    en_premise,
                    *cast("tuple[str, str]", en.choices),
                    src_premise,
                    *cast("tuple[str, str]", ex.choices),
                ).to_dict()
            )
        self.mt_sources[lang] = source
        n = len(source)
        per_query = [self._query_mt_flops(stats.lengths[3 * i : 3 * i + 3]) for i in range(n)]
        wall = meter.costs()["wall_s"].value or 0.0
        costs = {
            "examples": Cost.measured(n, "count", "counted"),
            "queries": Cost.measured(n, "count", "counted"),
            "steps": Cost.measured(stats.batches, "count", "counted"),
            "tokens_nonpad": Cost.measured(stats.source_tokens, "count", "counted"),
            "tokens_padded": Cost.measured(stats.source_padded, "count", "counted"),
            "continuation_tokens": Cost.measured(stats.generated_tokens, "count", "counted", note="tokens generated"),
            "flops_analytic": Cost.measured(stats.flops, "FLOP", "analytic"),
            "flops_analytic_nonpad": Cost.measured(
                stats.flops_nonpad, "FLOP", "analytic", note="each text alone, decoding until its own end"
            ),
            "flops_measured": check.cost(stats.flops),
            "examples_per_s": Cost.measured(n / wall, "examples/s", "wall_clock")
            if wall > 0
            else Cost.missing("examples/s", "no elapsed time"),
            "query_flops": (
                Cost.measured(
                    sum(per_query) / len(per_query),
                    "FLOP",
                    "analytic",
                    per="query (premise and choices) translated alone",
                )
                if per_query
                else Cost.missing("FLOP", "no items")
            ),
        }
        self._end(
            phase,
            meter,
            None,
            tasks=["xcopa"],
            extra_costs=costs,
            info={
                "translations": spec.translations,
                "split": split,
                "texts": stats.texts,
                "batch_size": bs,
                "gpus": getattr(self.ctx.device, "cuda_indices", None),
                **self.translator.facts,
                "mt_quality": quality,
            },
        )

    def _mt_quality(self, lang: str, split: str, english: list[MCExample] | str) -> list[dict[str, Any]]:
        """chrF and BLEU of a language's English text (``english``: the items, or why there are none)
        against the original English COPA items and, for an MT model, XCOPA's published translations
        (job/mtquality.py); the phase's ``info.mt_quality``."""
        spec = self.spec
        items, missing = (english, None) if isinstance(english, list) else ([], english)
        translator = spec.translations
        scores = [
            score(
                items,
                self.mt_references.get(("copa", "en")),
                lang=lang,
                split=split,
                kind=COPA_REFERENCE,
                translator=translator,
                missing=missing,
            )
        ]
        if spec.uses_mt_model:
            published = self.mt_references.get((TRANSLATED, lang))
            if published is None and missing is None:
                missing = f"XCOPA ships no published English translation of {lang}"
            scores.append(
                score(
                    items,
                    published,
                    lang=lang,
                    split=split,
                    kind=PUBLISHED_REFERENCE,
                    translator=translator,
                    missing=missing,
                )
            )
        return [s.to_dict() for s in scores]

    def _warm_translation(self, name: str, texts: list[str], lang: str, batch_size: int) -> FlopCheck:
        """Untimed, before translate:<lang>'s meter: its first batch translated as the phase will
        translate it, once plain (the warm-up) and once under FlopCounterMode (the FLOP check), at a
        shape (MT model, rows, source bucket, precision) not warmed before; a ``warmup`` event
        records the seconds (the run's ``warmup_s``)."""
        spec, ctx, translator = self.spec, self.ctx, self.translator
        assert translator is not None
        t0 = time.perf_counter()
        enabled = spec.measure.warmup
        check, count = phase_check(spec.measure)
        new: list[Shape] = []
        if enabled and texts:
            first = [texts[i] for i in translator.order(texts)[:batch_size]]
            src = int(translator.encode(first)["input_ids"].shape[1])
            shape = Shape("generate", translator.family, len(first), seq_bucket(src), translator.precision)
            key = (translator.loaded_id, shape)
            if key not in self.warmer.checks:
                shape_check = FlopCheck(reason=check.reason)

                def run() -> int:
                    st = MTStats()
                    translator.translate(texts, lang, batch_size, st, batches=1)
                    return st.flops

                plain_then_counted(run, shape_check, count)
                self.warmer.checks[key] = shape_check
                new.append(shape)
            check.merge(self.warmer.checks[key])
        record_warmup(
            ctx, name, t0, new, check, {"batch_size": batch_size, "enabled": enabled, "mt_model": translator.loaded_id}
        )
        return check

    def _query_mt_flops(self, lengths: list[tuple[int, int]]) -> int:
        """The FLOPs of translating one item's three texts as one batch (the batch-1 query): padded
        to the longest source, decoding until the longest translation ends."""
        assert self.translator is not None
        src = max(s for s, _ in lengths)
        steps = max(g for _, g in lengths)
        return seq2seq_generate_flops(self.translator.dims, len(lengths), src, steps, self.spec.mt_beams)

    # ---- eval:<lang> ----------------------------------------------------------------------------
    def _language_eval(self, phase: PlannedPhase, data: RunData) -> None:
        """eval:<lang>: the classifier on the English translations; missing (no accuracy, not
        chance) where there are none."""
        spec, lang = self.spec, phase.lang
        assert lang is not None
        english = self.english.get(lang)
        split = "validation" if spec.eval_split == "val" else spec.eval_split
        if isinstance(english, list):
            self._eval_phase(
                phase,
                "xcopa",
                spec.eval_split,
                english,
                self.head,
                extra_info={"translations": spec.translations, **data.questions_info(spec, split, lang, english)},
            )
            return
        reason = english or f"{lang} was not translated"
        meter = self._begin(phase, None)
        with meter:
            pass
        self._end(
            phase,
            meter,
            None,
            tasks=["xcopa"],
            info={"missing": reason, "translations": spec.translations},
            extra_costs={"examples": Cost.missing("count", reason), "query_flops": Cost.missing("FLOP", reason)},
        )
        self.ctx.events.emit(EvalResult(phase.name, "xcopa", lang, spec.eval_split, None, 0, 0))
        _log(f"{phase.name}: missing ({reason}); no accuracy, not chance")

    # ---- inference-bench --------------------------------------------------------------------------
    def _bench(self, phase: PlannedPhase) -> None:
        """inference-bench. Published translations: the classifier alone (the translation was not measured). An MT
        model: batch-1 latency of one query end to end (its three texts translated as one batch, then
        classified), and throughput at the evaluation batch size."""
        if self.translator is None or not self.mt_sources:
            last = next((v for v in reversed(list(self.english.values())) if isinstance(v, list)), [])
            self._inference_bench(phase, last, self.head)
            return
        spec = self.spec
        lang, source = list(self.mt_sources.items())[-1]
        n, warm = spec.measure.inference_bench_examples, spec.measure.inference_warmup
        pick = [source[i % len(source)] for i in range(warm + n)]
        self.model.eval()
        with self._mt_devices():
            self._mt_bench(phase, lang, source, pick, warm)

    def _mt_bench(self, phase: PlannedPhase, lang: str, source: list[MCExample], pick: list, warm: int) -> None:
        spec, ctx = self.spec, self.ctx
        assert self.translator is not None
        meter = self._begin(phase, None)
        total, mt_only = [], []
        latency_flops: list[tuple[int, int]] = []
        timed_tokens = (0, 0)  # (non-pad, padded) of the timed calls: the MT model's sources, the classifier's
        with meter:
            with torch.inference_mode():
                for i, ex in enumerate(pick):
                    ctx.check_cancel()
                    ctx.device.synchronize()
                    mt = MTStats()
                    t0 = time.perf_counter()
                    english = _rebuild([ex], self.translator.translate(_texts([ex]), lang, 3, mt))
                    ctx.device.synchronize()
                    t1 = time.perf_counter()
                    batch = collate(
                        encode(english, self.tokenizer, spec.hparams.max_seq_len), self.head, ctx.pad_id
                    ).to(ctx.device.torch_device)
                    with ctx.device.autocast():
                        self.model(batch.input_ids, batch.attention_mask, batch.head)
                    ctx.device.synchronize()
                    if i >= warm:
                        total.append(time.perf_counter() - t0)
                        mt_only.append(t1 - t0)
                        latency_flops.append(
                            (mt.flops + forward_flops(ctx, batch), mt.flops_nonpad + forward_flops_nonpad(ctx, batch))
                        )
                        timed_tokens = add_tokens(timed_tokens, mt, batch)
                bs = spec.eval_batch_size
                pool = [source[i % len(source)] for i in range(min(bs, len(source)) or 1)]
                mt = MTStats()
                t0 = time.perf_counter()
                english = _rebuild(pool, self.translator.translate(_texts(pool), lang, bs, mt))
                encoded = encode(english, self.tokenizer, spec.hparams.max_seq_len)
                batch = collate(encoded, self.head, ctx.pad_id).to(ctx.device.torch_device)
                with ctx.device.autocast():
                    self.model(batch.input_ids, batch.attention_mask, batch.head)
                ctx.device.synchronize()
                elapsed = time.perf_counter() - t0
        # of n >= 1 timed calls (inference_bench_examples' range): present() holds
        s, m = latency_summary(total), latency_summary(mt_only)
        costs = {
            "latency_p50_s": Cost.measured(
                present(s["p50"]), "s", "wall_clock", per="query end to end: translation and classification"
            ),
            "latency_p95_s": Cost.measured(present(s["p95"]), "s", "wall_clock"),
            "latency_mean_s": Cost.measured(present(s["mean"]), "s", "wall_clock"),
            "latency_n": Cost.measured(present(s["n"]), "count", "counted"),
            "throughput_examples_per_s": Cost.measured(len(pool) / elapsed, "examples/s", "wall_clock", batch_size=bs),
            **bench_flop_costs(
                ctx.device,
                latency_flops,
                (mt.flops + forward_flops(ctx, batch), mt.flops_nonpad + forward_flops_nonpad(ctx, batch)),
                elapsed,
                "query end to end: its three texts translated as one batch, then classified",
                add_tokens(timed_tokens, mt, batch),
            ),
        }
        info = {
            "warmup": warm,
            "latency_batch_size": 1,
            "throughput_batch_size": bs,
            "lang": lang,
            "translate_latency_p50_s": m["p50"],
            "translate_latency_p95_s": m["p95"],
            "latency_p90_s": s["p90"],
            "latency_p99_s": s["p99"],
            "latency_stdev_s": s["stdev"],
        }
        self._end(phase, meter, None, tasks=[], extra_costs=costs, info=info)
