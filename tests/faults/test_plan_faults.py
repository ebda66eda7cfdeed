"""The stress test's trials of plans and their data (issue 20): a bad plan or data set ends in one
clear message before any run starts, never 20 s into a job."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.cli import xcost
from support.synthetic import write_synthetic_data_dir

from xcost_tui.errors import DataError, SpecError
from xcost_tui.job.data import load_run_data
from xcost_tui.plan import load_plan, loads_plan
from xcost_tui.spec import RunSpec
from xcost_tui.tasks.needs import needs_of

PLAN = """
[plan]
name = "faults"

[defaults]
model = "tiny-xlmr"
langs = ["it"]
measure = {{ curve_points = 0 }}

{experiments}
"""
DIRECT = '[[experiment]]\nname = "direct"\nmethod = "direct"\n'


def write_plan(tmp_path: Path, experiments: str = DIRECT) -> Path:
    path = tmp_path / "plan.toml"
    path.write_text(PLAN.format(experiments=experiments), encoding="utf-8")
    return path


@pytest.fixture
def empty_it_test(tmp_path: Path) -> Path:
    """A data folder whose XCOPA Italian test file (an evaluation split) has no rows."""
    data = write_synthetic_data_dir(tmp_path / "data", n_train=16, n_val=8, n_test=8)
    (data / "xcopa" / "it" / "test.jsonl").write_text("", encoding="utf-8")
    return data


# ---- 6: an empty evaluation split ----------------------------------------------------------------


def test_6_plan_check_data_refuses_an_empty_evaluation_split(tmp_path: Path, empty_it_test: Path):
    proc = xcost(["plan", "check", "--data", str(write_plan(tmp_path)), "--data-dir", str(empty_it_test)], 120)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "xcopa test it: 0 rows" in proc.stdout and "all 4 splits loaded" not in proc.stdout
    file = empty_it_test / "xcopa" / "it" / "test.jsonl"
    assert (
        f"error: 1 split of this plan cannot be used:\n  - xcopa test it ({file}): the split has no rows: nothing "
        f"to evaluate it on; restore the split, or leave 'it' out of langs"
    ) in proc.stderr
    assert "Traceback" not in proc.stderr


def test_6_headless_starts_no_run_on_an_empty_evaluation_split(tmp_path: Path, empty_it_test: Path):
    store = tmp_path / "store"
    args = ["--headless", str(write_plan(tmp_path)), "--data-dir", str(empty_it_test), "--store", str(store)]
    proc = xcost(args, 120)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "xcopa test it" in proc.stderr and "the split has no rows" in proc.stderr
    assert "no run was started: the plan's data cannot be loaded or used" in proc.stderr
    assert not (store / "runs").exists() or not any((store / "runs").iterdir()), "a run started"


def test_6_the_job_refuses_the_empty_split_by_the_pre_flights_rule(empty_it_test: Path):
    """One rule (tasks/needs.py split_problem): the job's message is the pre-flight's."""
    from xcost_tui.tasks.needs import split_problem

    spec = RunSpec.from_dict(
        {"method": "direct", "model": "tiny-xlmr", "langs": ["it"], "data_dir": str(empty_it_test)}
    )
    with pytest.raises(DataError) as err:
        load_run_data(spec)
    need = next(n for n in needs_of(spec) if n.task == "xcopa" and n.split == "test")
    assert str(err.value).startswith("xcopa test it (") and "the split has no rows" in str(err.value)
    assert split_problem(need, []) is not None and str(err.value).endswith(split_problem(need, []).split(": ", 1)[1])


def test_6_an_empty_training_split_is_refused_too(tmp_path: Path):
    data = write_synthetic_data_dir(tmp_path / "data", n_train=16, n_val=8, n_test=8)
    (data / "copa" / "train.jsonl").write_text("", encoding="utf-8")
    proc = xcost(["plan", "check", "--data", str(write_plan(tmp_path)), "--data-dir", str(data)], 120)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert f"copa train ({data / 'copa' / 'train.jsonl'}): the split has no rows: nothing to train on" in proc.stderr


# ---- 9: unknown keys in tiny_model_dims ----------------------------------------------------------------


def test_9_an_unknown_tiny_model_dims_key_is_refused(tmp_path: Path):
    path = write_plan(tmp_path, DIRECT + "tiny_model_dims = { hiden_size = 32 }\n")
    with pytest.raises(SpecError) as err:
        load_plan(path)
    assert str(err.value) == (
        f"{path}: experiment[0].tiny_model_dims.hiden_size: unknown key 'hiden_size' (did you mean "
        f"'hidden_size'?); tiny_model_dims takes hidden_size, num_hidden_layers, num_attention_heads, "
        f"intermediate_size, vocab_size, max_position_embeddings"
    )
    grid = write_plan(tmp_path, DIRECT + 'grid = { "tiny_model_dims.num_layers" = [1, 2] }\n')
    with pytest.raises(
        SpecError, match=r"experiment\[0\]\.grid\.tiny_model_dims\.num_layers: unknown key 'num_layers' "
    ):
        load_plan(grid)
    with pytest.raises(SpecError, match=r"spec\.tiny_model_dims\.hidden: unknown key 'hidden'"):
        RunSpec.from_dict({"method": "direct", "model": "tiny-xlmr", "tiny_model_dims": {"hidden": 8}})


def test_9_tiny_model_dims_with_a_model_of_its_own_shape_is_refused(tmp_path: Path):
    path = write_plan(
        tmp_path, DIRECT + 'model = "FacebookAI/xlm-roberta-base"\ntiny_model_dims = { hidden_size = 32 }\n'
    )
    with pytest.raises(SpecError, match=r"tiny_model_dims applies to the built-in models .* only, but model is "):
        load_plan(path)
    assert load_plan(write_plan(tmp_path, DIRECT + "tiny_model_dims = { hidden_size = 32 }\n")).runs


# ---- 10: duplicate experiment names, targets -------------------------------------------------------------


def test_10_two_experiments_of_one_name_are_refused(tmp_path: Path):
    path = write_plan(
        tmp_path, DIRECT + '\n[[experiment]]\nname = "direct"\nmethod = "intermediate"\nintermediate = ["rte"]\n'
    )
    with pytest.raises(SpecError) as err:
        load_plan(path)
    message = str(err.value)
    assert message.startswith(f"{path}: 2 different runs are named 'direct': experiment[0] (direct-tiny-xlmr-s0-")
    assert (
        "; experiment[1] (intermediate-tiny-xlmr-s0-" in message and "give each [[experiment]] its own name" in message
    )


def test_10_one_name_is_fine_where_the_grid_tells_the_runs_apart(tmp_path: Path):
    icl = '[[experiment]]\nname = "icl"\nmethod = "icl"\nmodel = "tiny-gpt2"\nfew_shot_k = {k}\n{more}\n'
    text = icl.format(k=0, more="") + icl.format(k=4, more="shot_seeds = [0, 1]")
    plan = load_plan(write_plan(tmp_path, text))
    assert [s.name for s in plan.runs] == ["icl", "icl-draw0", "icl-draw1"]
    assert load_plan("demo-grid").runs  # the built-in plan of this shape


def test_10_unnamed_experiments_of_one_method_get_a_note():
    text = PLAN.format(experiments='[[experiment]]\nmethod = "direct"\n\n[[experiment]]\nmethod = "direct"\nseed = 1\n')
    plan = loads_plan(text)
    assert [s.name for s in plan.runs] == ["direct", "direct"]
    (note,) = [n for n in plan.notes if "named" in n]
    assert note.startswith("2 different runs are named 'direct' (experiments without a name take their method's)")


@pytest.mark.parametrize(
    ("target", "why"),
    [("squad", "a span head has no score for XCOPA's choices"), ("xcopa", "it has no English training split")],
)
def test_10_a_task_that_cannot_be_a_target_is_refused(tmp_path: Path, target: str, why: str):
    path = write_plan(tmp_path, DIRECT + f'target = "{target}"\n')
    with pytest.raises(SpecError) as err:
        load_plan(path)
    assert str(err.value).startswith(f"{path}: experiment[0].target: task {target!r} cannot be the target ({why}); ")
    assert "copa, siqa" in str(err.value) and "rte" in str(err.value)
    assert load_plan(write_plan(tmp_path, DIRECT + 'target = "rte"\n')).runs[0].target == "rte"


# ---- left from the last round -------------------------------------------------------------------------


def test_a_retried_target_phase_is_recorded_as_planned():
    """target:copa#2 and eval:en#2 (collapse_retries) are phases of the run: the fold adds them to
    the planned phases where they ran, so 6 of 6 phases are done, never 6 of 4."""
    from xcost_tui.rundir.events import PhaseEnd, PhaseStart, RunStart
    from xcost_tui.rundir.fold import RunFold

    planned = ["target:copa", "eval:en", "eval:it", "inference-bench"]
    run = ["target:copa", "eval:en", "target:copa#2", "eval:en#2", "eval:it", "inference-bench"]
    events: list = [RunStart("r", {}, {}, planned)]
    for name in run:
        kind = name.split(":")[0].split("#")[0]
        events += [PhaseStart(name, kind), PhaseEnd(name, kind)]
        if name == "target:copa#2":  # its learning curve: a phase of its own, never one of the plan's
            events += [PhaseStart("curve:target:copa#2", "curve"), PhaseEnd("curve:target:copa#2", "curve")]
    fold = RunFold()
    fold.apply_all(events)
    assert fold.state.phases_planned == run
    assert fold.state.phases_done == len(fold.state.phases_planned) == 6


def test_string_item_ids_reach_the_store_and_the_verdict(tmp_path: Path):
    """A target whose items have string ids (CommonsenseQA, CosmosQA: eval:en) keeps every
    prediction with its id: the store's predictions.idx is text, and the verdict still pairs the
    items of two seeds (before: a BIGINT column read each such id as NULL)."""
    import json

    from support.store_fixtures import make_run_dir

    from xcost_tui.rundir.records import Prediction
    from xcost_tui.store.db import connect_ro
    from xcost_tui.store.ingest import ingest
    from xcost_tui.store.verdict_tables import load_configurations

    for seed in (0, 1):
        run = make_run_dir(tmp_path, seed=seed, langs=["it"], n_eval=20)
        path = run / "predictions.jsonl"
        preds = [json.loads(line) for line in path.read_text().splitlines()]
        for p in preds:
            if p["lang"] == "en":
                p["idx"] = f"075e483d{p['idx']:04d}"  # CommonsenseQA's ids are hex strings
        path.write_text("".join(json.dumps(Prediction(**p).to_dict()) + "\n" for p in preds))
    report = ingest(tmp_path)
    assert not [w for w in report.warnings if "predictions" in w], report.warnings
    with connect_ro(tmp_path) as con:
        ids = [r[0] for r in con.execute("SELECT idx FROM predictions WHERE lang = 'en' ORDER BY idx").fetchall()]
        numeric = con.execute("SELECT count(*) FROM predictions WHERE lang = 'it' AND idx = 3").fetchone()
        configs = load_configurations(con)
    assert len(ids) == 40 and ids[0] == "075e483d0000" and numeric == (2,)
    (cfg,) = configs.values()
    english = cfg.matrix("en")
    assert english is not None and english[0].shape == (2, 20)  # both seeds, every item, paired
