"""Trial 13: the suite could not pass on a loaded machine — the demo fixture allowed its plan 900 s
while pytest's global limit killed the test (fixture included) at 600 s."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from support.timeouts import DEFAULT_TEST_TIMEOUT_S, E2E_COMMAND_TIMEOUT_S, SLOW_TEST_TIMEOUT_S

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

REPO = Path(__file__).resolve().parents[2]


def _limit(item: pytest.Item) -> float:
    marker = item.get_closest_marker("timeout")
    return float(marker.args[0]) if marker is not None else DEFAULT_TEST_TIMEOUT_S


def test_the_global_limit_is_the_one_the_timeouts_are_set_against():
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    assert config["timeout"] == DEFAULT_TEST_TIMEOUT_S


def test_trial13_an_end_to_end_test_outlives_its_fixtures_command(request):
    # Every slow test — a module fixture that runs a plan, then the test's own commands — may run
    # longer than one end-to-end command, so the command's own timeout (with its output) fires first.
    assert SLOW_TEST_TIMEOUT_S > E2E_COMMAND_TIMEOUT_S > DEFAULT_TEST_TIMEOUT_S
    slow = [item for item in request.session.items if item.get_closest_marker("slow") is not None]
    if not slow:
        pytest.skip("no slow test collected in this session (-m 'not slow' or a single file)")
    short = [item.nodeid for item in slow if _limit(item) < SLOW_TEST_TIMEOUT_S]
    assert not short, f"slow tests limited below {SLOW_TEST_TIMEOUT_S} s: {short}"
