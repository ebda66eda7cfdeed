"""The generative models' loading: a causal LM (in-context learning, job/icl.py) and a seq2seq MT
model (translate-test, job/translate.py).

Their weights are loaded in one precision (no autocast): ``model_precision`` chooses it, and a
model that would not fit fails before any weight is read (``count_parameters`` on the meta device,
``available_memory``, ``check_memory_fit``). The built-in tiny-gpt2 (random weights, a tokenizer
trained in-process) is a CPU pipeline check.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from ..errors import ModelError
from ..rundir.events import ModelLoaded
from ..spec import TINY_CAUSAL_LM, RunSpec
from .cache import CACHE, texts_digest
from .device import choose_precision
from .model import model_identity, resolved_revision

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}

# tiny-gpt2: small enough for a CPU test, the GPT-2 architecture (mGPT's), random weights.
TINY_GPT2_DIMS = {
    "hidden_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "intermediate_size": 256,
    "vocab_size": 2000,
    "max_position_embeddings": 2048,
}


# ---- dtype, memory -----------------------------------------------------------------------------


def model_precision(model_dtype: str, device_type: str, bf16_ok: bool | None = None, cuda=None) -> str:
    """The weights' precision: ``auto`` is bf16 on a GPU with bf16 tensor cores (else fp16) and fp32
    on a CPU. The encoder's rule (device.choose_precision): emulated bf16 does not count — a V100 or
    T4 would run the model's every matmul in software, several times slower than fp16. ``cuda`` is
    ``torch.cuda`` (a stand-in in tests)."""
    if model_dtype != "auto":
        return model_dtype
    if device_type != "cuda":
        return "fp32"
    if bf16_ok is None:
        bf16_ok = choose_precision(torch.cuda if cuda is None else cuda) == "bf16"
    return "bf16" if bf16_ok else "fp16"


def count_parameters(config) -> int:
    """Parameters of the model ``config`` describes, counted on the meta device (no memory, no weights)."""
    from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM

    with torch.device("meta"):
        try:
            model = AutoModelForCausalLM.from_config(config)
        except ValueError:
            model = AutoModelForSeq2SeqLM.from_config(config)
    return sum(p.numel() for p in model.parameters())


def available_memory(device, device_map: str | None) -> tuple[int, str]:
    """(bytes free for the weights, what that is) on the run's device; with ``device_map = "auto"``
    every visible GPU and the CPU's free memory together (accelerate offloads what does not fit)."""
    import psutil

    ram = int(psutil.virtual_memory().available)
    if device.type != "cuda":
        return ram, "free RAM on this machine"
    if device_map == "auto":
        free = sum(torch.cuda.mem_get_info(i)[0] for i in range(torch.cuda.device_count()))
        return free + ram, f'free on {torch.cuda.device_count()} GPU(s) plus free RAM (device_map = "auto")'
    free, total = torch.cuda.mem_get_info(device.torch_device)
    return int(free), f"free on {device.name} ({device.torch_device}; {total / 2**30:.1f} GiB in all)"


def check_memory_fit(model_id: str, n_params: int, precision: str, available: int, where: str) -> int:
    """The bytes the weights need; ModelError before any weight is loaded when they exceed ``available``."""
    need = n_params * torch.empty((), dtype=DTYPES[precision]).element_size()
    if need > available:
        raise ModelError(
            f"model {model_id!r} ({n_params / 1e9:.2f} B parameters) needs {need / 2**30:.1f} GiB for its weights "
            f"in {precision} (activations and the KV cache come on top), but only {available / 2**30:.1f} GiB is "
            f'{where}. Use a smaller model, model_dtype = "bf16" or "fp16" (2 bytes a parameter), '
            f'device_map = "auto" to spread it over several GPUs, or a device with more memory.'
        )
    return need


# ---- the causal LM ----------------------------------------------------------------------------


def train_tiny_gpt2_tokenizer(texts: Sequence[str], vocab_size: int):
    """A byte-level BPE tokenizer (GPT-2's kind: every script is covered by its bytes) trained
    in-process, with ``<|endoftext|>`` as bos, eos, unk and pad."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    eot = "<|endoftext|>"
    tok = Tokenizer(models.BPE(unk_token=eot))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[eot],
        show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(sorted(set(texts)), trainer=trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=eot, eos_token=eot, unk_token=eot, pad_token=eot)


def build_tiny_gpt2(tokenizer, dims: dict[str, int], seed: int):
    from transformers import GPT2Config, GPT2LMHeadModel

    d = {**TINY_GPT2_DIMS, **dims}
    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_embd=d["hidden_size"],
        n_layer=d["num_hidden_layers"],
        n_head=d["num_attention_heads"],
        n_inner=d["intermediate_size"],
        n_positions=d["max_position_embeddings"],
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    return GPT2LMHeadModel(config)


def max_positions(config) -> int | None:
    for key in ("max_position_embeddings", "n_positions", "seq_length", "max_sequence_length"):
        value = getattr(config, key, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


def load_causal_lm(spec: RunSpec, device, texts: Callable[[], list[str]], log) -> tuple[Any, Any, ModelLoaded]:
    """(tokenizer, model, the model_loaded event) for the run; a model that would not fit fails
    here, before its weights are read, naming the memory needed and available. In a warm worker
    the model loaded by an earlier run of the same process is used again (job/cache.py: kept on
    its device, since in-context learning never changes it); ``load_s`` and ``cached`` say so."""
    t0 = time.perf_counter()
    place = (device.precision, str(device.torch_device), spec.device_map)
    if spec.model == TINY_CAUSAL_LM:
        corpus = texts()
        dims = {**TINY_GPT2_DIMS, **spec.tiny_model_dims}
        key = ("causal", TINY_CAUSAL_LM, spec.seed, tuple(sorted(dims.items())), texts_digest(corpus), *place)

        def build_tiny() -> tuple[Any, Any]:
            tok = train_tiny_gpt2_tokenizer(corpus, dims["vocab_size"])
            model = build_tiny_gpt2(tok, spec.tiny_model_dims, spec.seed).to(DTYPES[device.precision])
            return tok, model.to(device.torch_device)

        (tokenizer, model), cached = CACHE.restore(key, build_tiny, copy_out=False)
        loaded = ModelLoaded(
            spec.model, "built-in", None, None, "trained-in-process", len(corpus), [f"{spec.target}:train"]
        )
        return tokenizer, model, dataclasses.replace(loaded, load_s=time.perf_counter() - t0, cached=cached)
    path = Path(spec.model).expanduser()
    local = path.is_dir()
    (tokenizer, model), cached = CACHE.restore(
        ("causal", *model_identity(spec.model), *place), lambda: _load_pretrained_lm(spec, device, log), copy_out=False
    )
    loaded = ModelLoaded(
        spec.model,
        "local" if local else "hub",
        resolved_revision(model),
        str(path.resolve()) if local else None,
        "pretrained",
        load_s=time.perf_counter() - t0,
        cached=cached,
    )
    return tokenizer, model, loaded


def _load_pretrained_lm(spec: RunSpec, device, log) -> tuple[Any, Any]:
    """A hub or local causal LM on the run's device, after checking that its weights fit."""
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    try:
        config = AutoConfig.from_pretrained(spec.model)
    except (OSError, ValueError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(
            f"model {spec.model!r} could not be loaded: {reason}. Give a causal LM's Hugging Face id "
            f"(e.g. facebook/xglm-564M; needs internet), a local directory with config.json, or "
            f"{TINY_CAUSAL_LM!r} (built in, offline)."
        ) from exc
    n_params = count_parameters(config)
    available, what = available_memory(device, spec.device_map)
    need = check_memory_fit(spec.model, n_params, device.precision, available, what)
    log(
        f"model: {spec.model}: {n_params / 1e6:.1f} M parameters, {need / 2**30:.2f} GiB in {device.precision} "
        f"({available / 2**30:.1f} GiB {what})"
    )
    try:
        tokenizer = AutoTokenizer.from_pretrained(spec.model)
        kwargs: dict[str, Any] = {"dtype": DTYPES[device.precision]}
        if spec.device_map:
            kwargs["device_map"] = spec.device_map
        model = AutoModelForCausalLM.from_pretrained(spec.model, **kwargs)
    except (OSError, ValueError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"model {spec.model!r} could not be loaded as a causal LM: {reason}") from exc
    if not spec.device_map:
        model.to(device.torch_device)
    return tokenizer, model
