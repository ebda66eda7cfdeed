"""The encoder with task heads, the built-in tiny-xlmr (and its English-only twin tiny-roberta-en), and an encoder run's model loading.

Runs inside the job process only (torch and transformers are imported here).
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..errors import ModelError, SpecError
from ..measure.heads import SPAN_HEAD, head_outputs
from ..rundir.events import ModelLoaded
from ..spec import TINY_ENCODERS, TINY_ENGLISH_MODEL, TINY_MODEL, RunSpec
from ..tasks import all_texts
from .cache import CACHE, texts_digest

MULTIPLE_CHOICE = "multiple_choice"
CLASSIFICATION = "classification"
SPAN = "span_extraction"  # tasks.registry.SPAN

# Small enough to train in seconds on a CPU; the XLM-R architecture, so every code path
# (tokenizer pair template, padding offsets, position ids) is the one xlm-roberta-* uses.
TINY_DIMS = {
    "hidden_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "intermediate_size": 128,
    "vocab_size": 4000,
}


def head_key(kind: str, num_labels: int | None) -> str:
    """Heads with equal keys carry over between tasks; a different key means a fresh head.

    A multiple-choice head scores each (context, choice) pair with one unit, so it does not
    depend on the number of choices and carries over between multiple-choice tasks. The span head
    (start and end logits per token) carries over between SQuAD v1.1 and v2.0.
    """
    if kind == SPAN:
        return SPAN_HEAD
    return "mc" if kind == MULTIPLE_CHOICE else f"cls{num_labels}"


class ClassificationHead(nn.Module):
    """RoBERTa's head on the first token (<s>): dense, tanh, dropout, projection."""

    def __init__(self, hidden: int, n_out: int, dropout: float):
        super().__init__()
        self.dense = nn.Linear(hidden, hidden)
        self.dropout = nn.Dropout(dropout)
        self.out_proj = nn.Linear(hidden, n_out)

    def forward(self, first_token: torch.Tensor) -> torch.Tensor:
        x = self.dropout(first_token)
        x = torch.tanh(self.dense(x))
        x = self.dropout(x)
        return self.out_proj(x)


class SpanHead(nn.Module):
    """transformers' ``XLMRobertaForQuestionAnswering`` head: one Linear hidden -> 2 on every
    token (its ``qa_outputs``, no dropout), the start and end logits."""

    def __init__(self, hidden: int):
        super().__init__()
        self.qa_outputs = nn.Linear(hidden, 2)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.qa_outputs(hidden_states)  # (n, seq_len, 2)


class EncoderWithHeads(nn.Module):
    def __init__(self, encoder: nn.Module):
        super().__init__()
        self.encoder = encoder
        cfg = encoder.config
        self.hidden = cfg.hidden_size
        self.dropout = getattr(cfg, "hidden_dropout_prob", 0.1)
        self.heads = nn.ModuleDict()

    def ensure_head(self, key: str) -> bool:
        """Creates the head when missing; returns True when it was (re-)initialised."""
        if key in self.heads:
            return False
        head: nn.Module
        if key == SPAN_HEAD:
            head = SpanHead(self.hidden)
        else:
            head = ClassificationHead(self.hidden, head_outputs(key), self.dropout)
        head.to(next(self.encoder.parameters()).device)
        self.heads[key] = head
        return True

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, head: str) -> torch.Tensor:
        """The head's scores, in fp32 whatever the autocast around it: the encoder runs in the
        run's precision, the head (a few thousand multiply-adds per sequence) in fp32, so choices
        are compared on fp32 logits (in bf16, with 8 bits of mantissa, close scores tie and
        ``max`` gave every tie to choice 0). The span head scores every token: (n, seq_len, 2)."""
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        if head == SPAN_HEAD:
            dtype = torch.promote_types(hidden.dtype, torch.float32)
            with torch.autocast(device_type=hidden.device.type, enabled=False):
                return self.heads[head](hidden.to(dtype))
        first = hidden[:, 0]
        dtype = torch.promote_types(first.dtype, torch.float32)  # fp32 (fp64 for a model in fp64)
        with torch.autocast(device_type=hidden.device.type, enabled=False):
            return self.heads[head](first.to(dtype))


# ---- tokenizer for tiny-xlmr -----------------------------------------------------------------


def train_tiny_tokenizer(texts: Iterable[str], vocab_size: int):
    """A BPE tokenizer trained in-process on the run's texts, with XLM-R's special tokens and templates."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    specials = ["<s>", "<pad>", "</s>", "<unk>"]  # XLM-R's ids 0..3
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.normalizer = normalizers.NFKC()
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials + ["<mask>"], show_progress=False)
    tok.train_from_iterator(sorted(set(texts)), trainer=trainer)  # sorted: same vocabulary for the same texts
    bos, eos = tok.token_to_id("<s>"), tok.token_to_id("</s>")
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>",
        pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", bos), ("</s>", eos)],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        pad_token="<pad>",
        cls_token="<s>",
        sep_token="</s>",
        mask_token="<mask>",
        model_max_length=512,
    )


def build_tiny_encoder(tokenizer, dims: dict[str, int], seed: int) -> nn.Module:
    from transformers import XLMRobertaConfig, XLMRobertaModel

    d = {**TINY_DIMS, **dims}
    config = XLMRobertaConfig(
        vocab_size=len(tokenizer),
        hidden_size=d["hidden_size"],
        num_hidden_layers=d["num_hidden_layers"],
        num_attention_heads=d["num_attention_heads"],
        intermediate_size=d["intermediate_size"],
        max_position_embeddings=d.get("max_position_embeddings", 514),
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    torch.manual_seed(seed)
    return XLMRobertaModel(config, add_pooling_layer=False)


# ---- loading ------------------------------------------------------------------------------


def load_pretrained(model: str):
    """(tokenizer, encoder) for a hub id or a local path, with a clear error when it cannot be loaded.

    ``resolved_revision(encoder)`` is the hub commit the model was loaded from (the job records it)."""
    from transformers import AutoModel, AutoTokenizer

    looks_local = model.startswith((".", "/", "~")) or os.sep in model and Path(model).expanduser().exists()
    if looks_local and not (Path(model).expanduser() / "config.json").exists():
        raise ModelError(
            f"model {model!r}: no config.json in that directory. Give a Hugging Face model id "
            f"(e.g. FacebookAI/xlm-roberta-base; needs internet), a directory saved with save_pretrained, or {TINY_MODEL!r}."
        )
    try:
        tokenizer = AutoTokenizer.from_pretrained(model)
        try:
            encoder = AutoModel.from_pretrained(model, add_pooling_layer=False)
        except TypeError:  # architectures without a pooler flag
            encoder = AutoModel.from_pretrained(model)
    except (OSError, ValueError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(
            f"model {model!r} could not be loaded: {reason}. Give a Hugging Face model id (needs internet), "
            f"a local directory with config.json, or {TINY_MODEL!r} (built in, offline)."
        ) from exc
    return tokenizer, encoder


def resolved_revision(encoder) -> str | None:
    """The hub commit ``from_pretrained`` resolved the model's revision to (transformers keeps it as
    ``config._commit_hash``); None for a model that did not come from the hub."""
    value = getattr(getattr(encoder, "config", None), "_commit_hash", None)
    return value if isinstance(value, str) and value else None


def save_checkpoint(path: Path, model: EncoderWithHeads, tokenizer, meta: dict) -> None:
    path.mkdir(parents=True, exist_ok=True)
    model.encoder.save_pretrained(path / "encoder")
    tokenizer.save_pretrained(path / "tokenizer")
    torch.save({k: v.state_dict() for k, v in model.heads.items()}, path / "heads.pt")
    (path / "phase.json").write_text(json.dumps(meta, indent=1, default=str), encoding="utf-8")


def load_checkpoint(path: Path, field: str = "init_from"):
    """(tokenizer, EncoderWithHeads, meta) from a directory written by save_checkpoint; ``field``:
    the spec field that named it (init_from, init_target_from), for the error."""
    from transformers import AutoModel, AutoTokenizer

    meta_file = path / "phase.json"
    if not meta_file.exists():
        where, flag = ("target", "save_target") if field == "init_target_from" else ("intermediate", "save_encoder")
        raise ModelError(
            f"{field} {str(path)!r}: not a saved checkpoint (no phase.json). "
            f"Point it at RUN_DIR/checkpoints/{where} of a run that used {flag}."
        )
    meta = json.loads(meta_file.read_text(encoding="utf-8"))
    tokenizer = AutoTokenizer.from_pretrained(path / "tokenizer")
    # Without a pooler, as load_pretrained and the tiny encoder build it: the saved encoder has none,
    # and AutoModel would add a randomly initialised one (a different model, and a warning).
    try:
        encoder = AutoModel.from_pretrained(path / "encoder", add_pooling_layer=False)
    except TypeError:  # architectures without a pooler flag
        encoder = AutoModel.from_pretrained(path / "encoder")
    model = EncoderWithHeads(encoder)
    # weights_only: a crafted heads.pt in a reused encoder directory must not run code on load.
    heads = torch.load(path / "heads.pt", map_location="cpu", weights_only=True)
    for key, state in heads.items():
        model.ensure_head(key)
        model.heads[key].load_state_dict(state)
    return tokenizer, model, meta


def model_identity(model: str) -> tuple[str, ...]:
    """A pretrained model's cache key: the hub id (its revision is the hub's newest, which a worker
    resolves once), or a local directory with the time its config.json last changed."""
    path = Path(model).expanduser()
    config = path / "config.json"
    if config.is_file():
        return (str(path.resolve()), str(config.stat().st_mtime_ns))
    return (model,)


def load_encoder(
    spec: RunSpec, training_lists: Callable[[], list[tuple[str, list]]]
) -> tuple[Any, EncoderWithHeads, ModelLoaded, dict | None]:
    """(tokenizer, model, the model_loaded event, the saved checkpoint's meta or None) of an encoder
    run: from a saved model after the target phase (``init_target_from``) or a saved encoder
    (``init_from``), the hub or a path, or built in. ``training_lists``
    gives the run's training splits (``RunData.tokenizer_lists``): tiny-xlmr's tokenizer is trained
    on them only, never on evaluation text (a tokenizer that saw it would leak it, docs/tasks.md)."""
    reused_meta = None
    t0 = time.perf_counter()
    cached = False
    # a saved model after the target phase (init_target_from) replaces the intermediate phases too
    field, saved, key, what = (
        ("init_target_from", spec.init_target_from, spec.target_key(), "target phase")
        if spec.init_target_from
        else ("init_from", spec.init_from, spec.intermediate_key(), "intermediate phase")
    )
    if saved:
        tokenizer, model, reused_meta = load_checkpoint(Path(saved), field)
        if reused_meta.get("key") != key:
            raise SpecError(
                f"{field} {saved!r} was trained with other settings ({reused_meta.get('key')}) than this "
                f"run's {what} ({key}); point it at a checkpoint of a run with the same settings, or drop it"
            )
        loaded = ModelLoaded(spec.model, "checkpoint", None, str(saved), "checkpoint")
    elif spec.model in TINY_ENCODERS:
        lists = training_lists()
        if spec.model == TINY_ENGLISH_MODEL:  # English-only: its tokenizer never sees another language
            lists = [(name, [e for e in exs if e.lang == "en"]) for name, exs in lists]
        texts = [t for _, exs in lists for t in all_texts(exs)]
        dims = {**TINY_DIMS, **spec.tiny_model_dims}
        vocab = dims["vocab_size"]
        # the tokenizer and the initial weights are a function of these alone (job/cache.py)
        cache_key = ("encoder", spec.model, spec.seed, tuple(sorted(dims.items())), texts_digest(texts))

        def build() -> tuple[Any, nn.Module]:
            tok = train_tiny_tokenizer(texts, vocab)
            return tok, build_tiny_encoder(tok, spec.tiny_model_dims, spec.seed)

        (tokenizer, encoder), cached = CACHE.restore(cache_key, build)
        model = EncoderWithHeads(encoder)
        loaded = ModelLoaded(
            spec.model,
            "built-in",
            None,
            None,
            "trained-in-process",
            len(texts),
            [name for name, _ in lists],
        )
    else:
        (tokenizer, encoder), cached = CACHE.restore(
            ("encoder", *model_identity(spec.model)), lambda: load_pretrained(spec.model)
        )
        model = EncoderWithHeads(encoder)
        local = Path(spec.model).expanduser().is_dir()
        loaded = ModelLoaded(
            spec.model,
            "local" if local else "hub",
            resolved_revision(encoder),
            str(Path(spec.model).expanduser().resolve()) if local else None,
            "pretrained",
        )
    loaded = dataclasses.replace(loaded, load_s=time.perf_counter() - t0, cached=cached)
    return tokenizer, model, loaded, reused_meta
