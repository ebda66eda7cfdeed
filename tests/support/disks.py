"""Real small file systems for fault tests: a tmpfs of a given size, full or read-only.

Mounting needs root (CI runs as root); elsewhere the fixture skips and says why, so a developer's
machine runs the rest of the suite."""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest


class Disks:
    """Mounts tmpfs folders under one test's tmp_path and unmounts them all afterwards."""

    def __init__(self, root: Path) -> None:
        self._root = root
        self._mounted: list[Path] = []

    def mount(self, size: str = "4m") -> Path:
        """A fresh empty tmpfs of ``size`` (mount's syntax: "64k", "4m")."""
        where = self._root / f"disk{len(self._mounted)}"
        where.mkdir()
        proc = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True, text=True
        )
        if proc.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here ({proc.stderr.strip() or proc.returncode}; needs root)")
        self._mounted.append(where)
        return where

    def read_only(self, prepare: Callable[[Path], None] | None = None, size: str = "4m") -> Path:
        """A tmpfs that ``prepare`` may fill first, then remounted read-only."""
        where = self.mount(size)
        if prepare is not None:
            prepare(where)
        proc = subprocess.run(["mount", "-o", "remount,ro", str(where)], capture_output=True, text=True)
        if proc.returncode != 0:
            pytest.skip(f"cannot remount read-only ({proc.stderr.strip()})")
        return where

    def full(self, size: str = "1m", prepare: Callable[[Path], None] | None = None) -> Path:
        """A tmpfs that ``prepare`` may write to first, then filled until it refuses another byte."""
        where = self.mount(size)
        if prepare is not None:
            prepare(where)
        fill(where)
        return where

    def unmount_all(self) -> None:
        for where in reversed(self._mounted):
            subprocess.run(["umount", "-l", str(where)], capture_output=True)
        self._mounted.clear()


def fill(disk: Path) -> Path:
    """Writes ``disk/filler`` until the file system refuses another byte; returns the filler
    (delete it to free the space)."""
    path = disk / "filler"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        for size in (65536, 4096, 512, 1):
            while True:
                try:
                    os.write(fd, b"\0" * size)
                except OSError as exc:
                    assert exc.errno == errno.ENOSPC, exc
                    break
    finally:
        os.close(fd)
    return path


@pytest.fixture
def disks(tmp_path: Path) -> Iterator[Disks]:
    """Small real file systems (tmpfs; root only, else the test is skipped with the reason)."""
    d = Disks(tmp_path)
    yield d
    d.unmount_all()
