"""scripts/setup.sh keeps a torch that is already installed and in the project's range (issue 21):
a GPU workstation's CUDA build installed before setup stays. The whole install takes minutes and
the project's wheels, so setup.sh runs here as a dry run (``XCOST_SETUP_DRY_RUN=1``: it makes the
venv when missing, makes the torch decision with scripts/torch_requirement.py and prints the
install commands of its uv or pip path instead of running them), in a throw-away copy of the
files it reads (a fresh clone) whose ``.venv`` holds a stand-in ``torch``: metadata only, with a
version in or out of the range. The decision itself is also checked in-process."""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

# one worker runs this module, so each module-scoped venv is made once (pytest-xdist, pyproject)
pytestmark = pytest.mark.xdist_group("setup_torch")
REPO = Path(__file__).resolve().parents[2]
SETUP_FILES = ("scripts/setup.sh", "scripts/torch_requirement.py", "pyproject.toml")
SITE = Path("lib") / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
CUDA_TORCH = "torch==2.7.1+cu126 --index-url https://download.pytorch.org/whl/cu126"


def _load():
    spec = importlib.util.spec_from_file_location("torch_requirement", REPO / "scripts" / "torch_requirement.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["torch_requirement"] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


tr = _load()


def _stand_in_torch(site: Path, version: str) -> None:
    """A distribution named torch as pip installs one (metadata, record), without torch's code."""
    info = site / f"torch-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: torch\nVersion: {version}\n", encoding="utf-8")
    (info / "INSTALLER").write_text("pip\n", encoding="utf-8")
    (info / "RECORD").write_text(f"torch-{version}.dist-info/METADATA,,\n", encoding="utf-8")


def _clone(root: Path) -> Path:
    """The files setup.sh reads before it installs anything, as a fresh clone has them."""
    for rel in SETUP_FILES:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / rel, root / rel)
    return root


def _venv(root: Path, torch_version: str | None, *, pip: bool = True) -> Path:
    """``.venv`` as a user leaves it after ``python -m venv .venv && .venv/bin/pip install torch``."""
    args = [] if pip else ["--without-pip"]
    subprocess.run([sys.executable, "-m", "venv", *args, str(root / ".venv")], check=True, timeout=300)
    if torch_version:
        _stand_in_torch(root / ".venv" / SITE, torch_version)
    return root


@pytest.fixture(scope="module")
def in_range(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # a dry run changes nothing in .venv, so the tests of one venv share it (a venv takes seconds)
    return _venv(_clone(tmp_path_factory.mktemp("in-range")), "2.7.0+cu126")


@pytest.fixture(scope="module")
def out_of_range(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _venv(_clone(tmp_path_factory.mktemp("out-of-range")), "1.13.1")


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    return _clone(tmp_path / "clone")


def _setup(root: Path, *, pip: bool = False, **env: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("XCOST_", "PYTHON", "VIRTUAL_ENV"))}
    base.update(PYTHON=sys.executable, XCOST_SETUP_DRY_RUN="1", **env)
    if pip:
        base["XCOST_SETUP_PIP"] = "1"
    return subprocess.run(
        ["bash", str(root / "scripts" / "setup.sh")], capture_output=True, text=True, env=base, timeout=300
    )


def _commands(proc: subprocess.CompletedProcess) -> list[list[str]]:
    prefix = "setup: would run: "
    return [shlex.split(line[len(prefix) :]) for line in proc.stdout.splitlines() if line.startswith(prefix)]


def _installs(proc: subprocess.CompletedProcess) -> list[list[str]]:
    """The arguments after `pip install` of each install command (pip's or uv's), options included."""
    out = []
    for cmd in _commands(proc):
        i = cmd.index("install")
        out.append(cmd[i + 1 :])
    return out


def _torch_requirements(args: list[str]) -> list[str]:
    return [a for a in args if a.split("==")[0] == "torch" or a.startswith("torch==")]


@pytest.mark.parametrize("pip", [False, True], ids=["uv", "pip"])
def test_a_torch_in_range_is_kept(in_range: Path, pip: bool) -> None:
    clone = in_range
    proc = _setup(clone, pip=pip)
    assert proc.returncode == 0, proc.stderr
    assert "keeping torch 2.7.0+cu126" in proc.stderr
    installs = _installs(proc)
    project = [a for a in installs if "-e" in a]
    assert len(project) == 1, installs
    # no step installs another torch; the project's install pins the kept one, so no resolver swaps it
    assert [r for args in installs for r in _torch_requirements(args)] == ["torch==2.7.0+cu126"]
    assert "torch==2.7.0+cu126" in project[0]
    if not pip:
        assert any(cmd[:4] == ["python", "-m", "uv", "pip"] for cmd in _commands(proc)), proc.stdout
    # and the stand-in is still there: a dry run installs nothing
    assert (clone / ".venv" / SITE / "torch-2.7.0+cu126.dist-info").is_dir()


def test_a_torch_out_of_range_is_refused(out_of_range: Path) -> None:
    proc = _setup(out_of_range)
    assert proc.returncode == 1
    assert "torch 1.13.1" in proc.stderr and "outside the project's range torch>=2.6,<3" in proc.stderr, proc.stderr
    assert "XCOST_TORCH='torch==2.13.0' scripts/setup.sh" in proc.stderr
    assert _commands(proc) == []


@pytest.mark.parametrize("pip", [False, True], ids=["uv", "pip"])
def test_xcost_torch_replaces_it(out_of_range: Path, pip: bool) -> None:
    # a pip index configured in the environment: uv takes one --index-url, so XCOST_TORCH's wins for torch
    proc = _setup(out_of_range, pip=pip, XCOST_TORCH=CUDA_TORCH, PIP_INDEX_URL="https://mirror.example/simple")
    assert proc.returncode == 0, proc.stderr
    assert f"installing torch as XCOST_TORCH says: {CUDA_TORCH}" in proc.stderr
    installs = _installs(proc)
    if not pip:
        assert installs[0] == ["-q", "--disable-pip-version-check", "uv"]  # uv itself, with pip
        installs = installs[1:]
    torch_step, project_step = installs
    want = shlex.split(CUDA_TORCH)
    assert torch_step[-len(want) :] == want
    assert "https://mirror.example/simple" not in torch_step
    assert "-e" in project_step and "torch==<the version installed above>" in project_step
    if not pip:
        assert project_step[project_step.index("--index-url") + 1] == "https://mirror.example/simple"


def test_no_torch_installs_the_default(clone: Path) -> None:
    # made without pip (as `uv venv` makes one): setup adds pip, which the decision and the install need
    _venv(clone, None, pip=False)
    proc = _setup(clone)
    assert proc.returncode == 0, proc.stderr
    assert "no torch installed; installing torch==2.13.0" in proc.stderr
    torch_step = _installs(proc)[1]
    assert torch_step[-1] == "torch==2.13.0" and "-e" not in torch_step
    assert (clone / ".venv" / SITE / "pip").is_dir()


def test_xcost_torch_out_of_range_is_refused_before_installing(in_range: Path) -> None:
    proc = _setup(in_range, XCOST_TORCH="torch==2.5.1+cu124 --index-url https://download.pytorch.org/whl/cu124")
    assert proc.returncode == 1
    assert "XCOST_TORCH asks for torch 2.5.1+cu124, outside the project's range" in proc.stderr
    assert _commands(proc) == []


def test_a_torch_of_the_python_making_the_venv_is_kept_with_system_site_packages(clone: Path, tmp_path: Path) -> None:
    # the torch lies outside the venv, in a site of the Python that makes it (here its user site,
    # which a venv with system site packages sees, as it sees a conda or system torch)
    user_base = tmp_path / "userbase"
    _stand_in_torch(user_base / SITE, "2.98.0+cu128")
    proc = _setup(clone, XCOST_SYSTEM_SITE_PACKAGES="1", PYTHONUSERBASE=str(user_base))
    assert proc.returncode == 0, proc.stderr
    assert "include-system-site-packages = true" in (clone / ".venv" / "pyvenv.cfg").read_text()
    assert "keeping torch 2.98.0+cu128 from" in proc.stderr and "outside the environment" in proc.stderr
    # pip, not uv: uv would not see the kept torch and would install a second one into .venv
    assert not any("uv" in cmd for cmd in _commands(proc)), proc.stdout
    (project,) = _installs(proc)
    assert "torch==2.98.0+cu128" in project and "-e" in project


# ---- the decision, in-process -------------------------------------------------------------------------


def _spec():
    return tr.torch_range(REPO / "pyproject.toml")


def test_the_range_is_pyprojects() -> None:
    rng = _spec()
    assert rng.text == "torch>=2.6,<3" and str(rng.spec) == "<3,>=2.6"


@pytest.mark.parametrize(
    ("version", "kept"),
    [
        ("2.7.0+cu126", True),
        ("2.13.0+cpu", True),
        ("2.99.0", True),
        ("2.8.0.dev20250101+cu128", True),  # a nightly inside the range
        ("2.6.0a0+ecf3bae40a.nv25.01", False),  # an NGC container's pre-release: below 2.6, as pip reads it
        ("1.13.1", False),
        ("3.0.0", False),
    ],
)
def test_which_versions_are_kept(version: str, kept: bool) -> None:
    installed = tr.Installed(version, Path("/venv/lib/site-packages"), True)
    if kept:
        assert tr.decide(installed, _spec(), None, "torch==2.13.0").action == "keep"
        assert tr.check(installed, _spec()) == version
    else:
        with pytest.raises(tr.Refusal, match=re.escape(f"torch {version} (in") + ".* is outside the project's range"):
            tr.decide(installed, _spec(), None, "torch==2.13.0")
        with pytest.raises(tr.Refusal, match="set XCOST_TORCH to a build in the range"):
            tr.check(installed, _spec())


def test_xcost_torch_is_taken_as_pip_arguments() -> None:
    installed = tr.Installed("2.13.0+cpu", Path("/venv/lib/site-packages"), True)
    wheel = "https://download.pytorch.org/whl/cu126/torch-2.7.1%2Bcu126-cp311-cp311-manylinux_2_28_x86_64.whl"
    decision = tr.decide(installed, _spec(), f"'{wheel}'", "torch==2.13.0")
    assert (decision.action, decision.args) == ("install", (wheel,))  # a URL is checked after the install
    with pytest.raises(tr.Refusal, match="asks for torch 1.13.1"):
        tr.decide(None, _spec(), "torch==1.13.1 -i https://download.pytorch.org/whl/cu117", "torch==2.13.0")
    with pytest.raises(tr.Refusal, match="no torch is installed after installing it"):
        tr.check(None, _spec())
