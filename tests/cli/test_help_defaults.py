"""Every verb's ``--help`` says an option's default once: never "(default 5) (default: None)"."""

from __future__ import annotations

import argparse
import re

import pytest

from xcost_tui import cli


def _verbs(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """The command line of every parser: () for the top level, ("plan", "check"), ... (found in the
    parser, so a verb added later is checked too)."""
    out = [path]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                out += _verbs(sub, (*path, name))
    return out


VERBS = _verbs(cli.build_parser())


def option_blocks(help_text: str) -> dict[str, str]:
    """{option: its help} from a --help: a block starts at a line indented two spaces, and goes on
    over the lines indented further."""
    blocks: dict[str, str] = {}
    current = None
    for line in help_text.splitlines():
        if re.match(r"^  \S", line):
            current = line.split()[0]
            blocks[current] = line
        elif current is not None and re.match(r"^   +\S", line):
            blocks[current] += " " + line.strip()
        else:
            current = None
    return blocks


@pytest.mark.parametrize("verb", VERBS, ids=lambda v: " ".join(v) or "xcost-tui")
def test_each_default_is_said_once(verb, capsys):
    with pytest.raises(SystemExit) as done:
        cli.main([*verb, "--help"])
    assert done.value.code == 0
    blocks = option_blocks(capsys.readouterr().out)
    assert "-h," in blocks or "--help" in " ".join(blocks), blocks  # the options were read
    twice = {opt: text for opt, text in blocks.items() if text.lower().count("default") > 1}
    assert not twice, twice


def test_a_default_no_help_text_says_is_added():
    """The formatter still tells what it is not told: run's --device and --seed have no default in
    their words."""
    blocks = option_blocks(cli.build_parser()._subparsers._group_actions[0].choices["run"].format_help())
    assert "(default: auto)" in blocks["--device"]
    assert "(default: 0)" in blocks["--seed"]
    assert "(default" not in blocks["--max-steps"], "None is no default worth printing"
    assert blocks["--epochs"].count("default") == 1 and "(default 5; few-shot 10)" in blocks["--epochs"]
