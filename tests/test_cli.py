from __future__ import annotations

import subprocess
import sys

import pytest

from xcost_tui import cli


@pytest.mark.parametrize("argv,plan", [
    (["--headless", "demo", "--store", "S"], "demo"),
    (["--store", "S", "--headless", "demo"], "demo"),
    (["--store", "S"], None),
    (["--data-dir", "D", "plan.toml", "--max-parallel", "2"], "plan.toml"),
    (["sql", "SELECT 1", "--store", "S"], None),
])
def test_plan_argument_is_found_past_option_values(argv, plan):
    pos = cli._first_positional(argv)
    found = argv[pos] if pos is not None and argv[pos] not in cli.SUBCOMMANDS else None
    assert found == plan


def test_help_teaches_and_is_light():
    code = ("import sys, contextlib, io\n"
            "from xcost_tui.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
            "    try: main(['--help'])\n"
            "    except SystemExit: pass\n"
            "heavy = [m for m in ('torch', 'transformers', 'datasets', 'duckdb', 'textual') if m in sys.modules]\n"
            "print(heavy); print(out.getvalue())")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.stdout.splitlines()[0] == "[]"
    for word in ("--headless", "--data-dir", "examples:", "xcost-tui run", "plan check"):
        assert word in proc.stdout


def test_headless_without_a_plan_is_a_clear_error(capsys):
    assert cli.main(["--headless"]) == 2
    assert "needs a plan" in capsys.readouterr().err
