"""Model configurations: the shapes a forecast counts with, from the ``config.json`` files shipped in
``xcost_tui/model_configs/`` (their sources: ``model_configs/SOURCES.md``), a local model directory,
or a config the estimate worker fetched from the hub.

Torch-free: plain JSON. Both naming schemes are read: encoders (``hidden_size``,
``num_hidden_layers``, ``num_attention_heads``, ``intermediate_size``) and XGLM-style decoders
(``d_model``, ``num_layers``, ``attention_heads``, ``ffn_dim``).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from ..errors import ModelError
from ..measure.heads import head_params
from ..spec import TINY_ENCODERS, TINY_ENGLISH_MODEL, TINY_MODEL

# model id -> shipped file; ids without their namespace are the hub's old aliases of the same repositories.
SHIPPED: dict[str, str] = {
    "FacebookAI/xlm-roberta-base": "FacebookAI--xlm-roberta-base.json",
    "xlm-roberta-base": "FacebookAI--xlm-roberta-base.json",
    "FacebookAI/xlm-roberta-large": "FacebookAI--xlm-roberta-large.json",
    "xlm-roberta-large": "FacebookAI--xlm-roberta-large.json",
    "FacebookAI/roberta-large": "FacebookAI--roberta-large.json",  # English-only (spec.py ENGLISH_ONLY_MODELS)
    "roberta-large": "FacebookAI--roberta-large.json",
    "facebook/xglm-564M": "facebook--xglm-564M.json",
    "facebook/xglm-7.5B": "facebook--xglm-7.5B.json",
    TINY_MODEL: "tiny-xlmr.json",
    TINY_ENGLISH_MODEL: "tiny-xlmr.json",  # the same architecture, an English-only tokenizer
}

_KEYS = {  # our name -> the config keys that may hold it, encoder naming first
    "hidden": ("hidden_size", "d_model"),
    "layers": ("num_hidden_layers", "num_layers"),
    "heads": ("num_attention_heads", "attention_heads"),
    "intermediate": ("intermediate_size", "ffn_dim"),
    "vocab": ("vocab_size",),
}


@dataclass(frozen=True)
class ModelShape:
    """What the FLOP and memory arithmetic needs of a model."""

    model: str
    model_type: str
    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab: int
    max_positions: int
    type_vocab: int
    source: str  # "shipped", "local", "hub", "built-in"
    config: dict  # the config.json as read (the probe builds the model from it)

    @property
    def decoder(self) -> bool:
        return self.model_type in ("xglm",)

    def params(self, heads: dict[str, int] | None = None) -> int:
        """Parameters of the encoder (no pooler: the job loads none) and the given task heads
        (``{"mc": 1, "cls3": 3, "span": 2}``: head key -> outputs; RoBERTa's dense + projection,
        the span head's Linear h×2, measure/flops.py ``head_params``)."""
        h, i = self.hidden, self.intermediate
        per_layer = 4 * (h * h + h) + 2 * h * i + i + h + 4 * h  # attention, FFN, two LayerNorms
        if self.decoder:  # learned token embedding (tied), sinusoidal positions, final LayerNorm
            embed = self.vocab * h + 2 * h
        else:
            embed = (self.vocab + self.max_positions + self.type_vocab) * h + 2 * h
        heads_total = sum(head_params(h, key) for key in (heads or {}))
        return embed + self.layers * per_layer + heads_total

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _value(config: dict, name: str, where: str) -> int:
    for key in _KEYS[name]:
        if isinstance(config.get(key), int) and not isinstance(config.get(key), bool):
            return int(config[key])
    raise ModelError(
        f"{where}: the model config has no {' or '.join(_KEYS[name])}; "
        f"a forecast needs the model's hidden size, layers, heads, FFN size and vocabulary"
    )


def shape_from_config(model: str, config: dict, source: str, where: str | None = None) -> ModelShape:
    where = where or f"model {model!r}"
    return ModelShape(
        model=model,
        model_type=str(config.get("model_type") or ""),
        hidden=_value(config, "hidden", where),
        layers=_value(config, "layers", where),
        heads=_value(config, "heads", where),
        intermediate=_value(config, "intermediate", where),
        vocab=_value(config, "vocab", where),
        max_positions=int(config.get("max_position_embeddings") or 512),
        type_vocab=int(config.get("type_vocab_size") or 0) if config.get("model_type") != "xglm" else 0,
        source=source,
        config=dict(config),
    )


def shipped_config(model: str) -> dict | None:
    name = SHIPPED.get(model)
    if name is None:
        return None
    return json.loads((resources.files("xcost_tui") / "model_configs" / name).read_text(encoding="utf-8"))


def tiny_config(dims: dict[str, int] | None = None, vocab: int | None = None) -> dict:
    """tiny-xlmr's config with the run's ``tiny_model_dims`` applied (and the trained tokenizer's
    vocabulary size when known), as ``job.model.build_tiny_encoder`` builds it."""
    config = dict(shipped_config(TINY_MODEL) or {})
    for key, value in (dims or {}).items():
        config[key] = int(value)
    if vocab is not None:
        config["vocab_size"] = int(vocab)
    return config


def model_shape(
    model: str, dims: dict[str, int] | None = None, *, vocab: int | None = None, fetched: dict | None = None
) -> ModelShape:
    """The shape of ``model``: tiny-xlmr (with ``dims``), a shipped config, a local directory's
    config.json, or ``fetched`` (a config the worker got from the hub). ModelError says what to
    do when none is available."""
    if model in TINY_ENCODERS:
        return shape_from_config(model, tiny_config(dims, vocab), "built-in")
    path = Path(model).expanduser()
    if path.is_dir():
        cfg_file = path / "config.json"
        try:
            config = json.loads(cfg_file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ModelError(f"model {model!r}: cannot read {cfg_file} ({exc})") from None
        return shape_from_config(model, config, "local", str(cfg_file))
    config = shipped_config(model)
    if config is not None:
        return shape_from_config(model, config, "shipped")
    if fetched is not None:
        return shape_from_config(model, fetched, "hub")
    raise ModelError(
        f"model {model!r}: no config shipped with xcost-tui (shipped: "
        f"{', '.join(sorted(set(SHIPPED) - set(TINY_ENCODERS)))}, {', '.join(TINY_ENCODERS)}) and the hub could not be "
        f"asked for it; run `xcost-tui plan estimate` where the hub can be reached, or give a local "
        f"directory holding its config.json"
    )
