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
