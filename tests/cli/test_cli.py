from __future__ import annotations

import subprocess
import sys

import pytest

from xcost_tui import cli


@pytest.mark.parametrize(
    "argv,plan",
    [
        (["--headless", "demo", "--store", "S"], "demo"),
        (["--store", "S", "--headless", "demo"], "demo"),
        (["--store", "S"], None),
        (["--data-dir", "D", "plan.toml", "--max-parallel", "2"], "plan.toml"),
        (["sql", "SELECT 1", "--store", "S"], None),
    ],
)
def test_plan_argument_is_found_past_option_values(argv, plan):
    pos = cli._first_positional(argv)
    found = argv[pos] if pos is not None and argv[pos] not in cli.SUBCOMMANDS else None
    assert found == plan


def test_help_teaches_and_is_light():
    code = (
        "import sys, contextlib, io\n"
        "from xcost_tui.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
        "    try: main(['--help'])\n"
        "    except SystemExit: pass\n"
        "heavy = [m for m in ('torch', 'transformers', 'datasets', 'duckdb', 'textual') if m in sys.modules]\n"
        "print(heavy); print(out.getvalue())"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.stdout.splitlines()[0] == "[]"
    for word in ("--headless", "--data-dir", "examples:", "xcost-tui run", "plan check"):
        assert word in proc.stdout


def test_headless_without_a_plan_is_a_clear_error(capsys):
    assert cli.main(["--headless"]) == 2
    assert "needs a plan" in capsys.readouterr().err


@pytest.mark.parametrize(
    "value, message",
    [
        ("0", "must be at least 1, got 0"),
        ("-2", "must be at least 1, got -2"),
        ("two", "expected a whole number, at least 1, got 'two'"),
    ],
)
def test_max_parallel_below_one_is_a_usage_error(value, message, capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["--headless", "demo", "--max-parallel", value])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert f"argument --max-parallel: {message}" in err and "Traceback" not in err


def test_max_parallel_accepts_a_count():
    assert cli.build_parser().parse_args(["--max-parallel", "3"]).max_parallel == 3


@pytest.mark.parametrize(
    "command", [["sql", "SELECT 1"], ["ingest"], ["--headless", "demo"], ["run", "--method", "direct"]]
)
def test_a_store_that_is_a_file_is_a_clear_error(tmp_path, capsys, command):
    db = tmp_path / "xcost.duckdb"
    db.write_bytes(b"not a folder")
    assert cli.main([*command, "--store", str(db)]) == 2
    err = capsys.readouterr().err
    assert f"--store {db} is a file: give the folder that holds xcost.duckdb and runs/" in err
    assert f"(did you mean --store {tmp_path}?)" in err
    assert "Traceback" not in err


def test_a_store_inside_a_file_is_a_clear_error(tmp_path, capsys):
    blocker = tmp_path / "notes.txt"
    blocker.write_text("x")
    assert cli.main(["ingest", "--store", str(blocker / "store")]) == 2
    assert f"{blocker} is a file, so it cannot hold a store" in capsys.readouterr().err


def test_sql_timeout_is_parsed():
    parser = cli.build_parser()
    assert parser.parse_args(["sql", "SELECT 1", "--timeout", "2.5"]).timeout == 2.5
    assert parser.parse_args(["sql", "SELECT 1"]).timeout is None


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf", "soon"])
def test_sql_timeout_must_be_positive_seconds(value, capsys):
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["sql", "SELECT 1", "--timeout", value])
    assert "argument --timeout:" in capsys.readouterr().err


def test_sql_passes_the_timeout_on(tmp_path, monkeypatch):
    from xcost_tui.commands import sql as commands

    seen = {}

    def fake_sql_command(store, query, **kwargs):
        seen.update(kwargs, store=store, query=query)
        return 0

    monkeypatch.setattr(commands, "sql_command", fake_sql_command)
    assert cli.main(["sql", "SELECT 1", "--timeout", "3", "--store", str(tmp_path)]) == 0
    assert seen["timeout_s"] == 3.0 and seen["query"] == "SELECT 1"


# ---- xcost-tui run: the flags of the spec keys -------------------------------------------------


def _run_args(*flags: str):
    return cli.build_parser().parse_args(["run", "--method", "few-shot", "--shots", "4", *flags])


def test_run_help_says_the_batch_is_the_effective_batch(capsys):
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["run", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "effective batch of every training phase: examples per optimiser step (default 32; few-shot 4)" in text
    assert "(default 8)" not in text and "default 4: effective batch 32" not in text  # the old, wrong help
    for flag in ("--micro-batch-size", "--recipe", "--shot-seed", "--collapse-retries"):
        assert flag in text


def test_run_flags_reach_the_spec():
    from xcost_tui.commands.run import spec_from_args
    from xcost_tui.spec import RunSpec

    args = _run_args(
        "--batch-size",
        "16",
        "--micro-batch-size",
        "4",
        "--shot-seed",
        "2",
        "--collapse-retries",
        "1",
        "--recipe",
        "xtreme-xcopa",
        "--recipe",
        "few-shot=xcost-few-shot",
    )
    spec = spec_from_args(args)
    assert spec["shot_seed"] == 2 and spec["collapse_retries"] == 1
    assert spec["hparams"]["micro_batch_size"] == 4 and spec["few_shot_hparams"]["micro_batch_size"] == 4
    assert spec["hparams"]["recipe"] == "xtreme-xcopa" and spec["few_shot_hparams"]["recipe"] == "xcost-few-shot"
    assert "recipe" not in spec["intermediate_hparams"]
    run = RunSpec.from_dict(spec)
    assert (run.shot_seed, run.collapse_retries) == (2, 1)
    # given flags win over the recipe's values; the recipe fills the rest
    assert (run.hparams.batch_size, run.hparams.micro_batch_size, run.hparams.recipe) == (16, 4, "xtreme-xcopa")
    assert run.hparams.learning_rate == 2e-5 and run.hparams.warmup_ratio == 0.0
    assert run.few_shot_hparams.recipe == "xcost-few-shot" and run.few_shot_hparams.min_steps == 50


def test_a_recipe_alone_and_a_bad_phase():
    from xcost_tui.commands.run import spec_from_args
    from xcost_tui.errors import SpecError

    spec = spec_from_args(_run_args("--recipe", "intermediate=phang2020"))
    assert spec["intermediate_hparams"] == {"recipe": "phang2020"} and "hparams" not in spec
    with pytest.raises(SpecError, match=r"unknown phase 'intermedate' \(did you mean 'intermediate'\?\)"):
        spec_from_args(_run_args("--recipe", "intermedate=phang2020"))
    with pytest.raises(SpecError, match="no recipe name"):
        spec_from_args(_run_args("--recipe", "target="))


def test_run_reports_a_bad_recipe_flag_without_a_traceback(tmp_path, capsys):
    code = cli.main(
        [
            "run",
            "--method",
            "direct",
            "--recipe",
            "fewshot=xcost-few-shot",
            "--out",
            str(tmp_path / "r"),
            "--store",
            str(tmp_path / "s"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and "did you mean 'few-shot'" in err and "Traceback" not in err
