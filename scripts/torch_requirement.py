"""The torch decision of scripts/setup.sh: keep a torch that is already installed and in the
project's range, or say which torch to install. setup.sh runs it with the Python of the virtual
environment it set up, so "installed" means what that Python would import (the environment's own
packages, and with --system-site-packages those of the Python that made it).

    python scripts/torch_requirement.py decide --default 'torch==2.13.0'
    python scripts/torch_requirement.py check

``decide`` prints one line, ``keep`` (a torch in range inside the environment), ``keep-outside`` (a
torch in range from outside it: pip sees it, uv does not) or ``install``, then the pip arguments
that install torch, one per line (none for keep). ``$XCOST_TORCH`` (pip arguments, e.g. ``torch==2.7.1
--index-url https://download.pytorch.org/whl/cu126``) is always installed when set; unset, a torch in
range is kept, a missing one is ``--default``, and one out of range is refused (exit 1): replacing it
might swap a user's CUDA build for a CPU one. ``check`` prints the installed torch's version when
it is in range, else says why not (exit 1). The reasons go to stderr, prefixed ``setup:``.

The range is torch's entry in pyproject.toml's [project] dependencies, compared as pip compares
(PEP 440: ``2.7.0+cu126`` is in ``>=2.6,<3``; ``2.6.0a0+…``, a pre-release, is below 2.6). It runs
before anything is installed, so it uses the standard library and, where the stand-alone
``packaging`` and ``tomli`` are absent, pip's vendored copies (every venv made by ``python -m venv``
has pip).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

try:
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.specifiers import SpecifierSet
    from packaging.version import InvalidVersion, Version
except ImportError:  # a fresh venv: only pip's vendored copy
    from pip._vendor.packaging.requirements import InvalidRequirement, Requirement  # type: ignore[no-redef]
    from pip._vendor.packaging.specifiers import SpecifierSet  # type: ignore[no-redef]
    from pip._vendor.packaging.version import InvalidVersion, Version  # type: ignore[no-redef]

try:
    import tomllib
except ImportError:  # Python 3.10
    try:
        import tomli as tomllib  # type: ignore[no-redef]
    except ImportError:
        from pip._vendor import tomli as tomllib  # type: ignore[no-redef]

REPO = Path(__file__).resolve().parents[1]
ENV_VAR = "XCOST_TORCH"


class Refusal(Exception):
    """What setup cannot do, and what to do instead (one message, exit 1)."""


@dataclass(frozen=True)
class Installed:
    version: str
    location: Path  # the site-packages folder holding its metadata
    inside: bool  # inside the environment running this script (not a system or user site)


@dataclass(frozen=True)
class TorchRange:
    spec: SpecifierSet
    text: str  # as pyproject.toml writes it: torch>=2.6,<3


@dataclass(frozen=True)
class Decision:
    action: str  # "keep", "keep-outside" or "install"
    args: tuple[str, ...]  # pip arguments that install torch (empty for keep)
    message: str


def torch_range(pyproject: Path) -> TorchRange:
    """torch's version range in pyproject.toml's [project] dependencies."""
    try:
        deps = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["dependencies"]
    except (OSError, KeyError, tomllib.TOMLDecodeError) as e:
        raise Refusal(f"cannot read [project] dependencies from {pyproject}: {e}") from e
    for dep in deps:
        req = Requirement(dep)
        if req.name.lower() == "torch":
            return TorchRange(req.specifier, dep.split(";")[0].strip())
    raise Refusal(f"{pyproject} names no torch in [project] dependencies")


def installed_torch() -> Installed | None:
    """The torch this Python would import, from its metadata (torch itself is not imported: slow
    for a CUDA build, and the metadata is what pip reads)."""
    try:
        dist = importlib.metadata.distribution("torch")
    except importlib.metadata.PackageNotFoundError:
        return None
    location = Path(str(dist.locate_file(""))).resolve()
    prefix = Path(sys.prefix).resolve()
    return Installed(dist.version, location, location == prefix or prefix in location.parents)


def in_range(version: str, rng: TorchRange) -> bool:
    try:
        # an installed pre-release (a nightly) counts when its version lies in the range
        return rng.spec.contains(Version(version), prereleases=True)
    except InvalidVersion:
        return False


def _pinned_out_of_range(args: list[str], rng: TorchRange) -> str | None:
    """The version of an exact `torch==V` among the arguments when V is out of range, so that
    setup refuses before it installs (and so replaces) anything."""
    for arg in args:
        if arg.startswith("-"):
            continue
        try:
            req = Requirement(arg)
        except InvalidRequirement:
            continue  # a URL, a wheel's path or an option's value: checked after the install
        pins = [s.version for s in req.specifier if s.operator in ("==", "===") and "*" not in s.version]
        if req.name.lower() == "torch" and len(pins) == 1 and not in_range(pins[0], rng):
            return pins[0]
    return None


def decide(installed: Installed | None, rng: TorchRange, requested: str | None, default: str) -> Decision:
    want = rng.text
    if requested:
        args = shlex.split(requested)
        pinned = _pinned_out_of_range(args, rng)
        if pinned:
            raise Refusal(
                f"{ENV_VAR} asks for torch {pinned}, outside the project's range {want} (pyproject.toml): "
                f"choose a build in the range"
            )
        return Decision("install", tuple(args), f"installing torch as {ENV_VAR} says: {requested}")
    if installed is None:
        return Decision(
            "install",
            tuple(shlex.split(default)),
            f"no torch installed; installing {default} ({ENV_VAR}='...' installs another, e.g. a CUDA build)",
        )
    if not in_range(installed.version, rng):
        raise Refusal(
            f"torch {installed.version} (in {installed.location}) is outside the project's range {want} "
            f"(pyproject.toml). Install a torch in the range first (for a CUDA build, the command "
            f"pytorch.org gives for your CUDA version), or let setup install one in its place: "
            f"{ENV_VAR}='{default}' scripts/setup.sh (or your CUDA build's pip arguments)"
        )
    if installed.inside:
        return Decision("keep", (), f"keeping torch {installed.version} (installed; the project asks for {want})")
    return Decision(
        "keep-outside",
        (),
        f"keeping torch {installed.version} from {installed.location}, outside the environment "
        f"(--system-site-packages; the project asks for {want}); pip installs the rest, since uv "
        f"does not see packages outside the environment",
    )


def check(installed: Installed | None, rng: TorchRange) -> str:
    if installed is None:
        raise Refusal("no torch is installed after installing it: see the installer's output above")
    if not in_range(installed.version, rng):
        raise Refusal(
            f"the torch installed is {installed.version} (in {installed.location}), outside the project's range "
            f"{rng.text} (pyproject.toml); set {ENV_VAR} to a build in the range and run scripts/setup.sh again"
        )
    return installed.version


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["decide", "check"])
    parser.add_argument("--default", default="torch", help="pip arguments installing torch when none is installed")
    parser.add_argument("--pyproject", type=Path, default=REPO / "pyproject.toml")
    args = parser.parse_args(argv)
    try:
        rng = torch_range(args.pyproject)
        if args.command == "check":
            print(check(installed_torch(), rng))
            return 0
        decision = decide(installed_torch(), rng, os.environ.get(ENV_VAR, "").strip() or None, args.default)
    except Refusal as e:
        print(f"setup: error: {e}", file=sys.stderr)
        return 1
    print(f"setup: {decision.message}", file=sys.stderr)
    print("\n".join([decision.action, *decision.args]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
