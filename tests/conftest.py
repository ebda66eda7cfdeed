import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


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
