"""The forecast's parts: model configs, the memory-fit search, token-length sampling, the batching
count against the job's own record, the registry fallback, profiles and the time model."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from support.jobutil import phase_ends

from xcost_tui.errors import XcostError
from xcost_tui.estimate import assumptions, configs, memory
from xcost_tui.estimate.profiles import get_profile, profile_names
from xcost_tui.estimate.run import forward_flops_of, interpolate, probe_points, template_key, train_wall_probe
from xcost_tui.plan import load_plan, loads_plan
from xcost_tui.spec import RunSpec

REPO = Path(__file__).resolve().parents[2]


# ---- model configs ------------------------------------------------------------------------------


def test_tiny_config_is_the_jobs():
    from xcost_tui.job.model import TINY_DIMS

    cfg = configs.tiny_config()
    assert {k: cfg[k] for k in TINY_DIMS} == TINY_DIMS
    shape = configs.model_shape("tiny-xlmr", {"hidden_size": 32}, vocab=3000)
    assert (shape.hidden, shape.vocab, shape.layers) == (32, 3000, TINY_DIMS["num_hidden_layers"])


@pytest.mark.parametrize(
    "model",
    [
        "FacebookAI/xlm-roberta-base",
        "FacebookAI/xlm-roberta-large",
        "facebook/xglm-564M",
        "facebook/xglm-7.5B",
        "tiny-xlmr",
    ],
)
def test_parameter_count_is_that_of_the_model_built_from_its_config(model):
    """A second way to the same number: transformers builds the model (on the meta device: no memory)."""
    import torch
    from transformers import AutoConfig, AutoModel

    shape = configs.model_shape(model)
    cfg = dict(shape.config)
    model_type = cfg.pop("model_type")
    for key in ("architectures", "transformers_version"):
        cfg.pop(key, None)
    with torch.device("meta"):
        hf = AutoConfig.for_model(model_type, **cfg)
        try:
            built = AutoModel.from_config(hf, add_pooling_layer=False)
        except TypeError:
            built = AutoModel.from_config(hf)
    assert shape.params() == sum(p.numel() for p in built.parameters())
    assert shape.params({"mc": 1}) - shape.params() == shape.hidden**2 + shape.hidden + shape.hidden + 1


def test_published_configs_are_shipped_with_their_sources():
    assert configs.model_shape("xlm-roberta-large").config == configs.model_shape("FacebookAI/xlm-roberta-large").config
    large = configs.model_shape("FacebookAI/xlm-roberta-large")
    assert (large.hidden, large.layers, large.heads, large.intermediate, large.vocab) == (1024, 24, 16, 4096, 250002)
    xglm = configs.model_shape("facebook/xglm-7.5B")
    assert (xglm.hidden, xglm.layers, xglm.heads, xglm.intermediate, xglm.decoder) == (4096, 32, 32, 16384, True)
    sources = (REPO / "xcost_tui" / "model_configs" / "SOURCES.md").read_text()
    for name in set(configs.SHIPPED.values()):
        assert name in sources
    with pytest.raises(XcostError, match="no config shipped"):
        configs.model_shape("someone/unknown-model")


def test_a_local_model_directory_is_read_from_its_config(tmp_path):
    (tmp_path / "config.json").write_text(
        json.dumps(
            {
                "model_type": "xlm-roberta",
                "hidden_size": 8,
                "num_hidden_layers": 1,
                "num_attention_heads": 2,
                "intermediate_size": 16,
                "vocab_size": 100,
            }
        )
    )
    shape = configs.model_shape(str(tmp_path))
    assert shape.source == "local" and shape.hidden == 8


# ---- the memory-fit search ---------------------------------------------------------------------


class FakeAllocator:
    """A device of ``capacity`` bytes: allocating more fails like a CUDA out-of-memory error."""

    class OutOfMemory(RuntimeError):
        pass

    def __init__(self, capacity: int, base: int, per_example: int):
        self.capacity, self.base, self.per_example = capacity, base, per_example
        self.calls: list[int] = []
        self.peak = 0

    def step(self, micro: int) -> int:
        self.calls.append(micro)
        need = self.base + micro * self.per_example
        if need > self.capacity:
            raise self.OutOfMemory(f"tried to allocate {need} bytes, {self.capacity} available")
        self.peak = need
        return need

    def fits(self, micro: int) -> bool:
        try:
            self.step(micro)
        except self.OutOfMemory:
            return False
        return True


@pytest.mark.parametrize("batch", [1, 7, 32, 100])
def test_memory_fit_search_finds_the_largest_micro_batch_under_the_allocator(batch):
    for largest in range(0, batch + 3):
        alloc = FakeAllocator(capacity=1000 + largest * 10, base=1000, per_example=10)
        found = memory.largest_fitting_micro(batch, alloc.fits)
        if largest == 0:
            assert found is None  # not even one example fits
        else:
            assert found == min(largest, batch)
        assert len(alloc.calls) == len(set(alloc.calls))  # each size tried once
        assert len(alloc.calls) <= 2 * math.ceil(math.log2(batch)) + 2


def test_the_jobs_choice_is_the_first_halving_that_fits():
    """memory.job_choice is loops.largest_fitting (the job's pick on a GPU), torch-free."""
    from xcost_tui.job.loops import largest_fitting

    for batch in (1, 3, 8, 32, 33):
        for threshold in range(0, batch + 2):
            fits = lambda m, t=threshold: m <= t  # noqa: E731
            assert memory.job_choice(batch, fits) == largest_fitting(batch, fits)
            assert memory.halving(batch)[0] == batch and memory.halving(batch)[-1] == 1


def test_analytic_step_memory_grows_with_the_micro_batch_and_says_when_it_does_not_fit():
    large = configs.model_shape("FacebookAI/xlm-roberta-large")
    m1 = memory.step_memory(large, 2, 128, "bf16")
    m8 = memory.step_memory(large, 16, 128, "bf16")
    assert m1.state_bytes == m8.state_bytes == large.params({"mc": 1}) * 18
    assert m8.activation_bytes == pytest.approx(8 * m1.activation_bytes)
    fits = memory.fits_analytic(large, 2, 128, "bf16", 12 * 2**30)
    best = memory.largest_fitting_micro(32, fits)
    assert best is not None and fits(best) and not fits(best + 1)
    assert memory.largest_fitting_micro(32, memory.fits_analytic(large, 2, 128, "bf16", 4 * 2**30)) is None


# ---- counting the job's batches ------------------------------------------------------------------


def _counter(sample: int = 4000):
    from xcost_tui.estimate.counting import Counter

    return Counter(sample)


def test_token_length_sampling(data_dir):
    """A split larger than the sample: the lengths of a seeded sample of its examples, resampled to its size."""
    from xcost_tui.estimate.counting import SplitData
    from xcost_tui.job.batching import encode
    from xcost_tui.job.model import train_tiny_tokenizer
    from xcost_tui.tasks import all_texts, load_examples

    examples = load_examples("arc_challenge", "train", data_dir=data_dir)
    tok = train_tiny_tokenizer(all_texts(examples), 2000)
    true = [e.length for e in encode(examples, tok, 64)]
    counter = _counter(sample=200)
    sd = SplitData(examples, len(examples), "data")
    enc, how, note = counter.encoded(tok, "t", "arc:train", sd, examples, 64, "arc_challenge")
    assert how == "sampled" and "200 of 1,119" in note
    assert len(enc) == len(examples)
    lengths = [e.length for e in enc]
    assert set(lengths) <= set(true)  # every length is a real example's
    assert len({id(e) for e in enc}) <= 200
    assert abs(sum(lengths) / len(lengths) - sum(true) / len(true)) < 0.1 * sum(true) / len(true)
    again, _, _ = _counter(sample=200).encoded(tok, "t", "arc:train", sd, examples, 64, "arc_challenge")
    assert [e.length for e in again] == lengths  # seeded: the same sample every time
    full, how, _ = _counter(sample=5000).encoded(tok, "t", "arc:train", sd, examples, 64, "arc_challenge")
    assert how == "measured" and [e.length for e in full] == true
    # no tokenizer: the assumed length per task, capped by max_seq_len
    assumed, how, _ = counter.encoded(None, "t", "arc:train", sd, examples, 32, "arc_challenge")
    assert how == "assumed" and {e.length for e in assumed} == {min(assumptions.ASSUMED_TOKENS["arc_challenge"], 32)}
    assert {len(e.seqs) for e in assumed} == {assumptions.ASSUMED_CHOICES["arc_challenge"]}


def test_the_count_reads_what_the_job_reads(data_dir):
    from xcost_tui.job.data import load_run_data

    plan = load_plan("demo", data_dir=str(data_dir))
    for spec in plan.runs:
        ours, got = _counter().run_data(spec)
        job = load_run_data(spec)
        assert ours.target_train == job.target_train
        assert ours.intermediate == job.intermediate
        assert ours.english_eval == job.english_eval
        assert ours.target_eval == job.target_eval
        assert ours.few_shot_pool == job.few_shot_pool
        assert all(sd.source == "data" for sd in got.values())


QUICK_PLAN = """
[defaults]
model = "tiny-xlmr"
langs = ["it"]
max_eval_examples = 24
[defaults.hparams]
max_examples = 48
max_steps = 3
batch_size = 8
max_seq_len = 64
[defaults.intermediate_hparams]
max_examples = 48
max_steps = 3
batch_size = 8
max_seq_len = 64
[defaults.few_shot_hparams]
max_seq_len = 64
[[experiment]]
method = "intermediate"
intermediates = ["rte"]
[[experiment]]
method = "few-shot"
few_shot_k = 4
"""


def test_the_count_is_exactly_what_the_job_counts(data_dir, tmp_path):
    """Examples, steps, tokens and analytic FLOPs of every phase: the count against the job's own record."""
    plan = loads_plan(QUICK_PLAN, data_dir=str(data_dir))
    counter = _counter()
    for spec in plan.runs:
        counted = counter.count_run({"run_id": spec.run_id(), "spec": spec.to_dict(), "device_type": "cpu"})
        run_dir = tmp_path / spec.run_id()
        run_dir.mkdir()
        (run_dir / "spec.json").write_text(json.dumps(spec.to_dict()))
        proc = subprocess.run(
            [sys.executable, "-m", "xcost_tui.job", str(run_dir)], capture_output=True, text=True, timeout=300
        )
        assert proc.returncode == 0, proc.stderr[-2000:]
        ends = phase_ends(run_dir)
        for p in counted["phases"]:
            costs = ends[p["name"]]["costs"]
            if p["kind"] == "inference-bench":
                continue
            figures = p["by_micro"]["8" if p["kind"] != "few-shot" else "4"] if "by_micro" in p else p
            assert p["examples"] == costs["examples"]["value"], p["name"]
            assert p["steps"] == costs["steps"]["value"], p["name"]
            assert p["tokens_nonpad"] == costs["tokens_nonpad"]["value"], p["name"]
            assert figures["tokens_padded"] == costs["tokens_padded"]["value"], p["name"]
            assert figures["flops"] == costs["flops_analytic"]["value"], p["name"]
            if "by_micro" in p:
                assert ends[p["name"]]["info"]["micro_batches"] == figures["micro_batches"]
            assert p["lengths_source"] == "measured" and p["counts_source"] == "data"


def test_arithmetic_count_of_one_shape_is_the_simulation():
    """Examples that all have one shape (assumed lengths) are counted without simulating the epochs."""
    from xcost_tui.estimate.counting import _Proto, simulate_train
    from xcost_tui.measure.flops import EncoderDims
    from xcost_tui.spec import HParams, MeasureOpts

    dims = EncoderDims(16, 1, 2, 32)
    for hp in (
        HParams(batch_size=8, max_steps=26, max_seq_len=64),  # 13 steps per epoch (100 = 12 x 8 + 4)
        HParams(batch_size=8, micro_batch_size=3, epochs=2.0, max_seq_len=64),
    ):
        data = [_Proto(2, 20)] * 100
        fast = simulate_train([("copa", "mc", data)], hp, 0, "target:copa", dims, "cpu", MeasureOpts())
        slow = simulate_train(
            [("copa", "mc", data)], hp, 0, "target:copa", dims, "cpu", MeasureOpts(), arithmetic=False
        )
        assert fast["simulated"] == "arithmetic" and slow["simulated"] == "exact"
        for key in ("examples", "steps", "tokens_nonpad"):
            assert fast[key] == slow[key], key
        for key in ("flops", "micro_batches", "tokens_padded"):
            assert (
                fast["by_micro"][next(iter(fast["by_micro"]))][key]
                == slow["by_micro"][next(iter(slow["by_micro"]))][key]
            )


def test_without_data_or_tokenizer_the_registry_sizes_and_assumed_lengths_stand_in(tmp_path):
    """Offline and without --data-dir: every split falls back to the registry's size, marked."""
    from xcost_tui.estimate.run import _worker

    spec = RunSpec.from_dict(
        {
            "method": "intermediate",
            "model": "tiny-xlmr",
            "intermediate": ["mnli"],
            "langs": ["it"],
            "intermediate_hparams": {"max_steps": 10},
        }
    )
    env = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        events = _worker(
            "count",
            {"runs": [{"run_id": spec.run_id(), "spec": spec.to_dict(), "device_type": "cpu"}]},
            lambda ev: None,
            300,
        )
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    run = next(e for e in events if e["event"] == "run")
    phases = {p["name"]: p for p in run["phases"]}
    mnli = phases["intermediate:mnli"]
    assert mnli["counts_source"] == "registry" and mnli["lengths_source"] == "assumed"
    assert mnli["steps"] == 10 and mnli["examples"] == 10 * 32
    assert phases["eval:it"]["examples"] == assumptions.SPLIT_ROWS["xcopa"]["test"]
    assert any("registry's split size" in n for n in run["notes"])
    assert run["tokenizer"] == "unavailable"


# ---- profiles and the time model ----------------------------------------------------------------


def test_device_profiles():
    h100 = get_profile("H100-SXM")
    assert h100.label == "H100 SXM" and h100.precision == "bf16" and h100.peak == 989e12
    assert h100.memory_bytes == 80 * 2**30 and h100.family == "H100"
    assert get_profile("a100-40gb").memory_bytes == 40 * 2**30
    assert get_profile("NVIDIA A100-SXM4-80GB").label == "A100"
    assert get_profile("V100").precision == "fp16"  # no bf16 tensor cores: the job would run fp16
    assert get_profile("L4", efficiency=0.5).efficiency == 0.5
    with pytest.raises(XcostError, match="did you mean 'A100'"):
        get_profile("A1000")
    with pytest.raises(XcostError, match="efficiency"):
        get_profile("L4", efficiency=1.5)
    assert "H100-SXM" in profile_names()


def test_bench_flops_are_the_measure_formulas():
    from xcost_tui.measure.flops import EncoderDims, encoder_forward_flops, head_forward_flops

    shape = configs.model_shape("FacebookAI/xlm-roberta-base")
    dims = EncoderDims(shape.hidden, shape.layers, shape.heads, shape.intermediate)
    for head, n_out in (("mc", 1), ("cls3", 3)):
        assert forward_flops_of(shape, head, 6, 37) == encoder_forward_flops(dims, 6, 37) + head_forward_flops(
            768, 6, n_out
        )


def test_interpolation_and_probe_points():
    pts = [(10.0, 1.0), (20.0, 2.0)]
    assert interpolate(pts, 15.0) == pytest.approx(1.5)
    assert interpolate(pts, 30.0) == pytest.approx(3.0)  # the end segment's slope
    assert interpolate(pts, 0.0) == pytest.approx(0.2)  # never below a fifth of the smallest
    assert interpolate([(5.0, 4.0)], 100.0) == 4.0
    hist = [["mc", 8, 16, L, 1, 0] for L in range(15, 26)]
    assert probe_points(hist) == [17, 25]
    assert probe_points([["cls2", 8, 8, 64, 30, 0]]) == [64]


def test_training_time_from_the_probe():
    probe = {
        "k": 1,
        "points": [
            {"length": 16, "flops": 100.0, "t_step": 0.010, "fixed": 0.0},
            {"length": 32, "flops": 200.0, "t_step": 0.020, "fixed": 0.05, "warmup": 0.03, "sample_extra": 0.01},
        ],
    }
    hist = [["mc", 8, 16, 16, 10, 100.0], ["mc", 8, 16, 24, 10, 150.0]]
    # fixed 0.05 + 10 x 0.010 + 10 x 0.015; first phase: + warm-up; 3 FLOP samples: 2 extra
    assert train_wall_probe(probe, hist, 20, 1, False) == pytest.approx(0.30)
    assert train_wall_probe(probe, hist, 20, 3, True) == pytest.approx(0.30 + 0.03 + 0.02)


def test_runs_of_one_kind_share_a_probe(data_dir):
    plan = load_plan("xcopa-stilts", data_dir=str(data_dir))
    keys = {template_key(s, []) for s in plan.runs}
    assert len(keys) < len(plan.runs) // 5  # seeds and shots share one; tasks and methods do not
    direct = [s for s in plan.runs if s.method == "direct"]
    assert len({template_key(s, []) for s in direct}) == 1


# ---- the supervisor side stays light -------------------------------------------------------------


def test_the_supervisor_side_of_the_estimate_imports_no_torch():
    code = (
        "import sys; import xcost_tui.commands.estimate, xcost_tui.estimate.run, xcost_tui.estimate.fit, "
        "xcost_tui.store.forecasts, xcost_tui.rundir.forecast, xcost_tui.estimate; "
        "bad = [m for m in ('torch', 'transformers', 'datasets') if m in sys.modules]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_plan_check_warns_when_a_run_will_not_fit(monkeypatch):
    from xcost_tui.estimate import fit

    plan = loads_plan("""
[defaults]
model = "FacebookAI/xlm-roberta-large"
langs = ["it"]
[[experiment]]
name = "big"
method = "direct"
hparams = { batch_size = 32, micro_batch_size = 32, max_seq_len = 256 }
[[experiment]]
name = "small"
method = "direct"
hparams = { batch_size = 32, micro_batch_size = 2, max_seq_len = 64 }
""")
    monkeypatch.setattr(fit, "local_devices", lambda: {"cuda": ("Fake GPU 24GB", 24 * 2**30), "cpu": None})
    lines = fit.memory_warnings(plan.runs)
    assert len(lines) == 1, lines
    assert lines[0].startswith("warning: big target:copa may not fit")
    assert "set hparams.micro_batch_size = " in lines[0] and "Fake GPU" in lines[0]
    monkeypatch.setattr(fit, "local_devices", lambda: {"cuda": ("Tiny GPU", 2 * 2**30), "cpu": None})
    lines = fit.memory_warnings(plan.runs[1:])
    assert "set hparams.max_seq_len lower" in lines[0]


def test_a_run_started_from_a_saved_encoder_counts_its_intermediate_phase_as_reused(data_dir):
    spec = RunSpec.from_dict(
        {
            "method": "intermediate",
            "model": "tiny-xlmr",
            "intermediate": ["rte"],
            "init_from": "/somewhere/checkpoints/intermediate",
            "langs": ["it"],
            "data_dir": str(data_dir),
            "max_eval_examples": 8,
            "hparams": {"max_steps": 2, "max_examples": 16},
        }
    )
    counted = _counter().count_run({"run_id": spec.run_id(), "spec": spec.to_dict(), "device_type": "cpu"})
    phases = {p["name"]: p for p in counted["phases"]}
    assert phases["intermediate:rte"]["reused"] is True and "steps" not in phases["intermediate:rte"]
    assert phases["target:copa"]["steps"] == 2


def test_translate_test_on_the_published_translations_is_counted(data_dir):
    """Its eval:<lang> reads XCOPA's published English (task xcopa-translate-test), none for
    Quechua (the job records that phase as missing: nothing evaluated); an English-only classifier
    (tiny-roberta-en) is counted like tiny-xlmr. (Before, the count looked the items up under
    task xcopa and the run was not forecast.)"""
    spec = RunSpec.from_dict(
        {
            "method": "translate-test",
            "model": "tiny-roberta-en",
            "translations": "published",
            "langs": ["it", "qu"],
            "max_eval_examples": 12,
            "data_dir": str(data_dir),
            "hparams": {"max_examples": 32, "max_steps": 2, "batch_size": 8, "max_seq_len": 64},
        }
    )
    out = _counter().count_run({"run_id": "tt", "spec": spec.to_dict()})
    evals = {p["name"]: p for p in out["phases"] if p["kind"] == "eval"}
    assert evals["eval:it"]["examples"] == 12 and evals["eval:qu"]["examples"] == 0
    assert out["model"]["source"] == "built-in" and out["tokenizer"] != "unavailable"
