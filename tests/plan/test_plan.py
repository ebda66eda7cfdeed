"""Plans: grid expansion, stable ids, duplicates, every error kind, the built-in plans, `plan check`."""

from __future__ import annotations

from pathlib import Path

import pytest

from xcost_tui.commands.plan_check import check_command
from xcost_tui.errors import SpecError
from xcost_tui.plan import DEFAULT_MAX_RUNS, MAX_RUNS_ENV, builtin_plans, load_plan, loads_plan


def write(tmp_path: Path, text: str, name: str = "plan.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def error_of(tmp_path: Path, text: str) -> str:
    path = write(tmp_path, text)
    with pytest.raises(SpecError) as info:
        load_plan(path)
    return str(info.value)


BASE = """
[defaults]
model = "tiny-xlmr"
langs = ["it", "zh"]
"""


# ---- expansion --------------------------------------------------------------------------------


def test_grid_keys_cross_and_singular_keys_do_not(tmp_path):
    plan = load_plan(
        write(
            tmp_path,
            BASE
            + """
[[experiment]]
name = "grid"
models = ["tiny-xlmr", "xlm-roberta-base"]
method = "intermediate"
intermediates = ["arc_challenge", ["arc_challenge", "rte"]]
seeds = [0, 1, 2]
learning_rates = [1e-5, 3e-5]

[[experiment]]
method = "few-shot"
shots = [4, 16]
intermediate = ["arc_challenge", "rte"]   # one sequence, not a grid
""",
        )
    )
    assert len(plan.runs) == 2 * 2 * 3 * 2 + 2
    grid = plan.runs[:24]
    assert {s.model for s in grid} == {"tiny-xlmr", "xlm-roberta-base"}
    assert {tuple(s.intermediate) for s in grid} == {("arc_challenge",), ("arc_challenge", "rte")}
    assert {s.hparams.learning_rate for s in grid} == {1e-5, 3e-5}
    assert [s.seed for s in grid[:8]] == [0] * 8, "seeds vary slowest"
    few = plan.runs[24:]
    assert [s.few_shot_k for s in few] == [4, 16]
    assert all(s.intermediate == ["arc_challenge", "rte"] for s in few)
    assert grid[0].name == "grid-tiny-xlmr-arc_challenge-lr1e-05-s0"
    assert few[0].name == "few-shot-k4"
    assert len(set(plan.run_ids())) == len(plan.runs)
    assert all(s.langs == ["it", "zh"] for s in plan.runs)


def test_the_generic_grid_table_and_defaults_grid(tmp_path):
    plan = load_plan(
        write(
            tmp_path,
            """
[defaults]
model = "tiny-xlmr"
seeds = [0, 1]

[defaults.hparams]
max_steps = 3

[[experiment]]
method = "direct"
grid = { "hparams.epochs" = [3, 5], "hparams.batch_size" = [8] }

[[experiment]]
method = "direct"
seed = 7                 # a single value overrides the defaults' seeds
hparams = { learning_rate = 1e-5 }
""",
        )
    )
    assert len(plan.runs) == 2 * 2 + 1
    assert {(s.seed, s.hparams.epochs) for s in plan.runs[:4]} == {(0, 3.0), (0, 5.0), (1, 3.0), (1, 5.0)}
    assert all(s.hparams.max_steps == 3 for s in plan.runs), "nested defaults merge key by key"
    last = plan.runs[-1]
    assert last.seed == 7 and last.hparams.learning_rate == 1e-5 and last.hparams.max_steps == 3


def test_run_ids_are_stable_and_ignore_labels_and_data_dir(tmp_path):
    text = BASE + '\n[[experiment]]\nname = "a"\nmethod = "direct"\nseeds = [0, 1]\n'
    first = load_plan(write(tmp_path, text)).run_ids()
    again = load_plan(
        write(tmp_path, text.replace('name = "a"', 'name = "b"'), "other.toml"), data_dir=str(tmp_path)
    ).run_ids()
    assert first == again
    assert first == loads_plan(text).run_ids()


def test_duplicate_runs_collapse_with_a_note(tmp_path):
    plan = load_plan(
        write(
            tmp_path,
            BASE
            + """
[[experiment]]
method = "direct"
seeds = [0, 1]

[[experiment]]
name = "again"
method = "direct"
seed = 1
""",
        )
    )
    assert len(plan.runs) == 2
    assert len(plan.notes) == 1
    assert (
        "experiment[1]" in plan.notes[0] and "experiment[0] (seed=1)" in plan.notes[0] and "kept once" in plan.notes[0]
    )


def test_data_dir_override_and_relative_paths(tmp_path):
    text = '[defaults]\nmodel = "tiny-xlmr"\ndata_dir = "data"\n[[experiment]]\nmethod = "direct"\n'
    plan = load_plan(write(tmp_path, text))
    assert plan.runs[0].data_dir == str((tmp_path / "data").resolve()), "relative to the plan file"
    plan = load_plan(write(tmp_path, text), data_dir="/elsewhere")
    assert plan.runs[0].data_dir == "/elsewhere" and plan.data_dir == "/elsewhere"
    plan = load_plan(write(tmp_path, '[[experiment]]\nmethod = "direct"\nmodel = "tiny-xlmr"\n'))
    assert plan.runs[0].data_dir is None, "no data_dir anywhere: the hub"


def test_shared_intermediate_groups(tmp_path):
    plan = load_plan(
        write(
            tmp_path,
            BASE
            + """
[[experiment]]
method = "intermediate"
intermediates = ["arc_challenge", "rte"]

[[experiment]]
method = "few-shot"
intermediate = ["arc_challenge"]
shots = [4, 8]
""",
        )
    )
    (group,) = plan.shared_intermediates()
    assert group.phases == ["intermediate:arc_challenge"]
    assert group.producer == plan.runs[0].run_id()
    assert group.consumers == [plan.runs[2].run_id(), plan.runs[3].run_id()]


# ---- errors: file, key path, reason -------------------------------------------------------------


@pytest.mark.parametrize(
    "body, expected",
    [
        # unknown method (a single value, and inside a grid)
        (
            'method = "fewshot"',
            "plan.toml: experiment[0].method: method 'fewshot' is unknown (did you mean 'few-shot'?)",
        ),
        (
            'methods = ["direct", "fewshot"]',
            "plan.toml: experiment[0].methods[1]: method 'fewshot' is unknown (did you mean 'few-shot'?)",
        ),
        # unknown task
        (
            'method = "intermediate"\nintermediates = ["arc_challenge", "hellaswg"]',
            "plan.toml: experiment[0].intermediates[1]: unknown task 'hellaswg' (did you mean 'hellaswag'?)",
        ),
        (
            'method = "intermediate"\nintermediate = ["rte", "sst"]',
            "plan.toml: experiment[0].intermediate[1]: unknown task 'sst'",
        ),
        (
            'method = "intermediate"\nintermediates = [["rte", "mnly"]]',
            "plan.toml: experiment[0].intermediates[0][1]: unknown task 'mnly' (did you mean 'mnli'?)",
        ),
        # a list where a scalar belongs
        (
            'method = ["direct", "intermediate"]',
            "plan.toml: experiment[0].method: expected a single value, got a list ['direct', 'intermediate']; for one run per value write methods = ",
        ),
        (
            'method = "direct"\nseed = [0, 1]',
            "plan.toml: experiment[0].seed: expected a single value, got a list [0, 1]; for one run per value write seeds = [0, 1]",
        ),
        ('method = "few-shot"\nfew_shot_k = [4, 16]', "write shots = [4, 16]"),
        (
            'method = "direct"\nhparams = { learning_rate = [1e-5, 3e-5] }',
            "plan.toml: experiment[0].hparams.learning_rate: expected a single value, got a list",
        ),
        ('method = "intermediate"\nintermediate = [["rte"], ["mnli"]]', "for one run per list write intermediates = "),
        # a scalar where the grid wants a list
        (
            'method = "direct"\nseeds = 3',
            "plan.toml: experiment[0].seeds: expected a list of values (one run per value), got 3; for a single value write seed = 3",
        ),
        ('method = "direct"\nseeds = []', "plan.toml: experiment[0].seeds: empty list"),
        # typo'd keys with the closest valid name
        (
            'method = "direct"\nlearning_rate = 1e-5',
            "plan.toml: experiment[0]: unknown key 'learning_rate' (did you mean 'learning_rates'?)",
        ),
        ('method = "direct"\nsedd = 1', "plan.toml: experiment[0]: unknown key 'sedd' (did you mean 'seed'?)"),
        ('method = "direct"\nhparams = { lr = 1e-5 }', "plan.toml: experiment[0].hparams: unknown key 'lr'"),
        (
            'method = "direct"\ngrid = { "hparams.epoch" = [1, 2] }',
            "plan.toml: experiment[0].grid.hparams.epoch: unknown key 'hparams.epoch' (did you mean 'epochs'?)",
        ),
        # wrong types and values
        (
            'method = "direct"\nseeds = [0, "one"]',
            "plan.toml: experiment[0].seeds[1]: expected a whole number, got 'one'",
        ),
        (
            'method = "few-shot"\nshots = [4, 0]',
            "plan.toml: experiment[0].shots[1]: few_shot_k must be at least 1, got 0",
        ),
        (
            'method = "direct"\nlangs = ["it", "zz"]',
            "plan.toml: experiment[0].langs[1]: language 'zz' is not an XCOPA language",
        ),
        (
            'method = "direct"\nlearning_rates = [0.0]',
            "plan.toml: experiment[0].learning_rates[0]: hparams.learning_rate must be > 0, got 0.0",
        ),
        # both forms of one key
        ('method = "direct"\nseed = 0\nseeds = [1, 2]', "plan.toml: experiment[0]: both 'seed' and 'seeds' are set"),
        (
            'method = "direct"\nhparams = { learning_rate = 1e-5 }\nlearning_rates = [1e-5]',
            "plan.toml: experiment[0].learning_rates: hparams.learning_rate is also set as a single value",
        ),
        # combinations the spec rejects name the grid values
        (
            'methods = ["direct", "intermediate"]\nintermediate = ["rte"]',
            "plan.toml: experiment[0] (method='direct'): method 'direct' takes no intermediate tasks",
        ),
        ('method = "few-shot"', "plan.toml: experiment[0]: method 'few-shot' needs few_shot_k"),
    ],
)
def test_experiment_errors_name_file_key_and_reason(tmp_path, body, expected):
    message = error_of(tmp_path, BASE + "\n[[experiment]]\n" + body + "\n")
    assert expected in message, message


@pytest.mark.parametrize(
    "body, expected",
    [
        # a single value, in a nested table
        (
            'method = "direct"\nhparams = { max_grad_norm = -1.0 }',
            "plan.toml: experiment[1].hparams.max_grad_norm: must be > 0, got -1.0",
        ),
        (
            'method = "direct"\n[experiment.intermediate_hparams]\nweight_decay = -0.1',
            "plan.toml: experiment[1].intermediate_hparams.weight_decay: must be at least 0, got -0.1",
        ),
        (
            'method = "direct"\nhparams = { max_steps = 0 }',
            "plan.toml: experiment[1].hparams.max_steps: must be at least 1, got 0",
        ),
        (
            'method = "direct"\nhparams = { learning_rate = nan }',
            "plan.toml: experiment[1].hparams.learning_rate: must be a finite number, got nan",
        ),
        ('method = "direct"\nseed = -1', "plan.toml: experiment[1].seed: must be in [0, 4294967295], got -1"),
        (
            'method = "direct"\nmax_eval_examples = 0',
            "plan.toml: experiment[1].max_eval_examples: must be at least 1, got 0",
        ),
        (
            'method = "direct"\nmeasure = { inference_bench_examples = 0 }',
            "plan.toml: experiment[1].measure.inference_bench_examples: must be at least 1, got 0",
        ),
        (
            'method = "direct"\ntiny_model_dims = { hidden_size = 0 }',
            "plan.toml: experiment[1].tiny_model_dims.hidden_size: must be at least 1, got 0",
        ),
        # grid values: the grid key's path, and the RunSpec key when the grid key has another name
        (
            'method = "direct"\nseeds = [0, -1]',
            "plan.toml: experiment[1].seeds[1]: seed must be in [0, 4294967295], got -1",
        ),
        (
            'method = "direct"\nlearning_rates = [1e-5, inf]',
            "plan.toml: experiment[1].learning_rates[1]: hparams.learning_rate must be a finite number, got inf",
        ),
        (
            'method = "direct"\ngrid = { "hparams.warmup_ratio" = [0.1, 2.0] }',
            "plan.toml: experiment[1].grid.hparams.warmup_ratio[1]: must be in [0, 1], got 2.0",
        ),
        (
            'method = "direct"\ngrid = { "few_shot_hparams.max_grad_norm" = [-1.0] }',
            "plan.toml: experiment[1].grid.few_shot_hparams.max_grad_norm[0]: must be > 0, got -1.0",
        ),
        (
            'method = "direct"\ngrid = { "tiny_model_dims.num_hidden_layers" = [1, 0] }',
            "plan.toml: experiment[1].grid.tiny_model_dims.num_hidden_layers[1]: must be at least 1, got 0",
        ),
        (
            'method = "direct"\ngrid = { "measure.flop_sample_steps" = [-3] }',
            "plan.toml: experiment[1].grid.measure.flop_sample_steps[0]: must be at least 0, got -3",
        ),
        # device syntax
        (
            'method = "direct"\ndevice = "cuda:x"',
            "plan.toml: experiment[1].device: 'cuda:x' is not a device (did you mean 'cuda'?); "
            "write auto, cpu, cuda or cuda:N",
        ),
        ('method = "direct"\ndevice = "gpu"', "plan.toml: experiment[1].device: 'gpu' is not a device"),
        (
            'method = "direct"\ngrid = { device = ["cpu", "cuda:one"] }',
            "plan.toml: experiment[1].grid.device[1]: 'cuda:one' is not a device",
        ),
    ],
)
def test_out_of_range_values_and_devices_name_the_key_path(tmp_path, body, expected):
    message = error_of(tmp_path, BASE + '\n[[experiment]]\nmethod = "direct"\n\n[[experiment]]\n' + body + "\n")
    assert expected in message, message


def test_out_of_range_values_in_defaults_name_them(tmp_path):
    msg = error_of(tmp_path, BASE + '[defaults.hparams]\nwarmup_ratio = 1.5\n[[experiment]]\nmethod = "direct"\n')
    assert "plan.toml: defaults.hparams.warmup_ratio: must be in [0, 1], got 1.5" in msg


def test_errors_in_defaults_and_later_experiments_name_them(tmp_path):
    msg = error_of(tmp_path, '[defaults]\nmodel = "tiny-xlmr"\nmetod = "direct"\n[[experiment]]\nmethod = "direct"\n')
    assert "plan.toml: defaults: unknown key 'metod' (did you mean 'method'?)" in msg
    msg = error_of(
        tmp_path,
        BASE + '[[experiment]]\nmethod = "direct"\n[[experiment]]\nmethod = "direct"\n'
        '[[experiment]]\nmethods = ["direct", "intermdiate"]\n',
    )
    assert "plan.toml: experiment[2].methods[1]: method 'intermdiate' is unknown (did you mean 'intermediate'?)" in msg


def test_bad_toml_names_line_and_column(tmp_path):
    msg = error_of(tmp_path, '[defaults]\nmodel = "tiny-xlmr"\nseed = \n')
    assert "plan.toml: not valid TOML:" in msg and "line 3" in msg and "column" in msg


@pytest.mark.parametrize(
    "text, expected",
    [
        ('[defaults]\nmodel = "tiny-xlmr"\n', "plan.toml: no experiments"),
        ('[[experiments]]\nmethod = "direct"\n', "plan.toml: unknown table 'experiments' (did you mean 'experiment'?)"),
        ('[plan]\ntitle = "x"\n[[experiment]]\nmethod = "direct"\nmodel = "m"\n', "plan.toml: plan.title: unknown key"),
        ("experiment = 3\n", "plan.toml: experiment must be an array of tables"),
    ],
)
def test_plan_structure_errors(tmp_path, text, expected):
    assert expected in error_of(tmp_path, text)


def test_unknown_plan_names_suggest_a_builtin(tmp_path):
    with pytest.raises(
        SpecError,
        match=r"demoo: no such plan file, and no built-in plan of that name \(did you mean the built-in plan 'demo'\?\)",
    ):
        load_plan("demoo")


# ---- the run limit ----------------------------------------------------------------------------------


def test_a_huge_grid_is_refused_before_it_is_expanded(tmp_path, monkeypatch):
    seeds = ", ".join(str(i) for i in range(1000))
    rates = ", ".join(f"{(i + 1) * 1e-7:.7g}" for i in range(1000))
    path = write(
        tmp_path,
        BASE + f'[[experiment]]\nmethod = "direct"\n\n[[experiment]]\nmethod = "direct"\n'
        f"seeds = [{seeds}]\nlearning_rates = [{rates}]\n",
    )
    # refused before expanding: not one run spec is built (checked on the work done, not on a wall
    # clock that a busy machine bends)
    import xcost_tui.plan as plan_mod

    built = []
    real = plan_mod._expand
    monkeypatch.setattr(plan_mod, "_expand", lambda *a, **k: built.append(a) or real(*a, **k))
    with pytest.raises(SpecError) as info:
        load_plan(path)
    assert not built, "the grid was expanded before it was refused"
    msg = str(info.value)
    assert "plan.toml: the plan expands into 1,000,001 runs, more than the limit of 10,000" in msg, msg
    assert "(experiment[0]: 1; experiment[1]: 1,000,000 = 1000 seeds x 1000 learning_rates)" in msg, msg
    assert f"{MAX_RUNS_ENV}=1000001" in msg


def test_the_run_limit_is_set_by_env_or_argument(tmp_path, monkeypatch):
    text = BASE + '[[experiment]]\nmethod = "direct"\nseeds = [0, 1, 2, 3]\n'
    assert DEFAULT_MAX_RUNS == 10_000
    assert len(loads_plan(text).runs) == 4
    monkeypatch.setenv(MAX_RUNS_ENV, "3")
    with pytest.raises(SpecError, match=r"4 runs, more than the limit of 3 \(experiment\[0\]: 4 = 4 seeds\)"):
        loads_plan(text)
    assert len(loads_plan(text, max_runs=4).runs) == 4, "the argument wins over the environment"
    monkeypatch.setenv(MAX_RUNS_ENV, "many")
    with pytest.raises(SpecError, match=rf"{MAX_RUNS_ENV}='many': expected a whole number of runs, at least 1"):
        loads_plan(text)


def test_check_command_reports_a_huge_grid(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv(MAX_RUNS_ENV, "2")
    path = write(tmp_path, BASE + '[[experiment]]\nmethod = "direct"\nseeds = [0, 1, 2]\n')
    assert check_command(str(path), None) == 2
    assert "3 runs, more than the limit of 2" in capsys.readouterr().err


# ---- built-in plans and `plan check` ------------------------------------------------------------


def test_builtin_plans_load():
    assert {"demo", "xcopa-stilts"} <= set(builtin_plans())
    demo = load_plan("demo")
    assert demo.builtin and demo.label == "demo.toml"
    assert {s.method for s in demo.runs} == {"direct", "intermediate", "few-shot"}
    assert all(s.model == "tiny-xlmr" and s.data_dir is None for s in demo.runs)
    assert {tuple(s.intermediate) for s in demo.runs} == {(), ("arc_challenge",), ("rte",)}
    assert [(s.few_shot_k, s.shot_seed) for s in demo.runs if s.method == "few-shot"] == [(4, d) for d in range(5)]
    assert all(len(s.langs) <= 3 and s.eval_english for s in demo.runs)
    assert load_plan("demo", data_dir="/data").runs[0].data_dir == "/data"

    stilts = load_plan("xcopa-stilts.toml")
    assert all(s.model == "FacebookAI/xlm-roberta-large" for s in stilts.runs)
    assert {s.seed for s in stilts.runs} == {0, 1, 2}
    tasks = {s.intermediate[0] for s in stilts.runs if s.method == "intermediate"}
    assert tasks == {"siqa", "hellaswag", "commonsenseqa", "cosmosqa", "mnli", "anli", "qqp", "sst2"}
    assert {s.few_shot_k for s in stilts.runs if s.method == "few-shot"} == {4, 16, 64, 100}
    assert len(stilts.runs) == 3 + 8 * 3 + 4 * 3 * 5 * 2  # 5 draws of the shots per k and seed
    assert len(stilts.shared_intermediates()) == 3, "SIQA is trained once per seed and reused"


@pytest.mark.parametrize("name", builtin_plans())
def test_every_built_in_plan_draws_the_shots_at_least_five_times(name):
    """Issue 19: the draw of the k shots moves few-shot and in-context accuracy by more than 10
    points (Zhao et al. 2021), so every built-in plan's configuration that draws k > 0 shots has at
    least five draws (k = 0 draws none: one run)."""
    from xcost_tui.methods import SHOT_METHODS

    draws: dict[str, set] = {}
    for s in load_plan(name).runs:
        if s.method in SHOT_METHODS and s.few_shot_k:
            draws.setdefault(s.configuration_id(), set()).add(s.shot_seed)
    if name in ("demo", "demo-grid", "demo-methods", "xcopa-methods", "xcopa-stilts"):
        assert draws, f"{name} has few-shot or icl experiments"
    assert all(len(d) >= 5 for d in draws.values()), {c: sorted(d) for c, d in draws.items()}


@pytest.mark.parametrize("name", ["demo", "xcopa-stilts"])
def test_check_command_prints_the_runs(name, capsys):
    assert check_command(name, data_dir="/some/data") == 0
    out = capsys.readouterr().out
    plan = load_plan(name)
    for rid in plan.run_ids():
        assert rid in out
    assert f"{len(plan.runs)} runs" in out
    assert "data: /some/data (from --data-dir)" in out
    assert "shared intermediate phases" in out


def test_check_command_reports_errors_with_exit_2(tmp_path, capsys):
    path = write(tmp_path, BASE + '[[experiment]]\nmethods = ["direct", "fewshot"]\n')
    assert check_command(str(path), None) == 2
    err = capsys.readouterr().err
    assert "experiment[0].methods[1]" in err and "did you mean 'few-shot'" in err


def test_plan_check_cli(tmp_path):
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "xcost_tui", "plan", "check", "demo"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert proc.returncode == 0, proc.stderr
    assert "8 runs" in proc.stdout  # direct, two intermediate tasks, few-shot k = 4 x five shot draws


def test_check_command_prints_user_text_as_written(tmp_path, capsys):
    """Rich markup in a name, a model path or the plan's name is text, not markup (it used to crash)."""
    path = write(
        tmp_path,
        '[plan]\nname = "p[/]q"\n'
        + BASE.replace('"tiny-xlmr"', '"models/[red]m"')
        + '[[experiment]]\nname = "mark[/]up[bold]"\nmethod = "direct"\n',
    )
    assert check_command(str(path), None) == 0
    out = capsys.readouterr().out
    assert "mark[/]up[bold]" in out and "models/[red]m" in out and "plan p[/]q" in out


def test_runs_with_their_own_encoder_do_not_share_one(tmp_path):
    plan = load_plan(
        write(
            tmp_path,
            BASE
            + """
[[experiment]]
method = "intermediate"
intermediate = ["rte"]
seeds = [0, 0]

[[experiment]]
name = "from-ckpt"
method = "intermediate"
intermediate = ["rte"]
init_from = "/ckpt"
hparams = { learning_rate = 1e-5 }
""",
        )
    )
    assert [s.trains_intermediate for s in plan.runs] == [True, False]
    assert plan.shared_intermediates() == []
