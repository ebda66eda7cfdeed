import os
import signal
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# Two xdist workers share two cores, and each test's torch (in-process, or a job it starts) sizes its
# OpenMP pool to every core. GNU OpenMP's waiting threads spin for a while before they sleep (its
# default), so two such processes at once starve each other: two demo plans side by side took 152 s
# instead of 24 s. Passive threads sleep instead (a single demo alone: 19 s instead of 16 s). Set here,
# before anything imports torch, so every process of the suite inherits it (docs/runner.md, "CPU share").
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

# A suite started in the background by a non-interactive shell (`cmd &`) inherits SIGINT ignored,
# and so would every command a test starts: the ctrl-c trials (sql, report --where, headless, run)
# could not press ctrl-c. A handled signal is reset to the default in a child, an ignored one is not.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


def shared_data_dir() -> Path:
    env = os.environ.get("XCOST_DATA_DIR")
    return Path(env) if env else REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    path = shared_data_dir()
    # Not a skip: without the offline data the end-to-end tests would prove nothing.
    assert (path / "xcopa").is_dir(), f"offline data not found at {path}; set XCOST_DATA_DIR"
    return path


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A slow (end-to-end) test is allowed its fixture's command and its own (support/timeouts.py);
    a test that names its own timeout keeps it."""
    from support.timeouts import SLOW_TEST_TIMEOUT_S

    for item in items:
        if item.get_closest_marker("slow") is not None and item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(SLOW_TEST_TIMEOUT_S))
