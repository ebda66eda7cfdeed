"""The store of the 80x24 tests (issue 21): what a new user's first runs look like — ids that end
in a hash, device-hours far below 0.01 (written with an exponent), one run measured under
contention (its figures carry the '*' mark), and every run evaluated on 3 of the 11 XCOPA
languages (the Languages grid must not draw 8 empty columns). No tests here."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.store_fixtures import make_run_dir
from support.tui import private_copy

from xcost_tui.store.ingest import ingest

LANGS = ["it", "qu", "zh"]  # what the demo plan evaluates
TARGET_HOURS = 2.28e-4  # 0.82 s of one device: a tiny model's target phase
# name: (method, intermediate, base accuracy, device-hours by phase)
CONFIGS = {
    "direct": ("direct", [], 0.56, {"target:copa": TARGET_HOURS}),
    "siqa-copa": ("intermediate", ["siqa"], 0.62, {"intermediate:siqa": 0.0031, "target:copa": TARGET_HOURS}),
}
CONTENDED_RUN = "direct-tiny-xlmr-s0-3f2a9c1d"  # its target phase shared the CPUs with other work


def run_id(name: str, seed: int) -> str:
    return f"{name}-tiny-xlmr-s{seed}-{'3f2a9c1d' if seed == 0 else '7be04d55'}"


def build_narrow_store(root: Path) -> Path:
    for name, (method, inter, base, hours) in CONFIGS.items():
        for seed in range(2):
            rid = run_id(name, seed)
            acc = {lang: base + 0.02 * seed + 0.01 * i for i, lang in enumerate(LANGS)}
            acc["en"] = base + 0.15
            make_run_dir(
                root,
                run_id=rid,
                name=name,
                method=method,
                intermediate=inter,
                seed=seed,
                langs=LANGS,
                accuracies=acc,
                device_hours=hours,
                n_eval=100,
                contended={"target:copa": True} if rid == CONTENDED_RUN else None,
            )
    ingest(root)
    return root


@pytest.fixture(scope="session")
def narrow_store_master(tmp_path_factory) -> Path:
    return build_narrow_store(tmp_path_factory.mktemp("tui-narrow") / "store")


@pytest.fixture
def narrow_store(narrow_store_master: Path, tmp_path: Path, monkeypatch) -> Path:
    """A private copy at ``<tmp>/store`` (the cwd is ``<tmp>``: the app shows it as ``store``)."""
    return private_copy(narrow_store_master, tmp_path, monkeypatch)
