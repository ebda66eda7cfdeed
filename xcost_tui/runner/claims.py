"""Claims: which supervisor launches and follows a run, decided atomically.

Two supervisors of one store (two ``--headless`` of the same plan, the app and a headless) must
never both launch a run: a run is launched, archived or written only by the supervisor holding
its claim, an exclusive ``flock`` on ``STORE/locks/<run_id>.lock`` (``StoreLayout.lock_file``).

- ``flock`` is released by the kernel when its holder exits or crashes, so a dead supervisor's
  claim never has to be broken by hand; the jobs do not inherit it (the descriptor is
  close-on-exec), so a job that outlives its supervisor leaves the run claimable.
- The file records the holder (pid, create time, host) for the note a refused supervisor
  prints; the lock itself, not that text, is what excludes.
- The holder unlinks the file before releasing it. A taker checks, after locking, that the
  path still names the file it locked (else it locked a file just unlinked) and retries, so a
  removed lock file can never give two holders.
- A claim may hold a *reserve* (a few KiB allocated in the lock file): on a full disk the
  supervisor frees it to record the end of a run it follows (status.json needs a new page).
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import write_error
from ..rundir import ProcessRef, StoreLayout

RESERVE_BYTES = 64 << 10  # room for several status.json replacements on a full disk


@dataclass
class Claim:
    """This supervisor's hold on one run; ``release`` (or the process's end) gives it up."""

    run_id: str
    path: Path
    fd: int
    holder: ProcessRef
    reserved: int = 0
    _released: bool = field(default=False, repr=False)

    @property
    def held(self) -> bool:
        return not self._released

    def reserve(self, nbytes: int = RESERVE_BYTES) -> None:
        """Allocates ``nbytes`` after the holder line. Raises WriteError (a full disk: the run
        should not start, since its end could not be recorded)."""
        if self.reserved >= nbytes:
            return
        offset = os.fstat(self.fd).st_size
        try:
            try:
                os.posix_fallocate(self.fd, offset, nbytes)
            except OSError as exc:
                if exc.errno not in (errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS):
                    raise
                os.pwrite(self.fd, b"\0" * nbytes, offset)  # a filesystem without fallocate
        except OSError as exc:
            self._truncate_to_holder()
            raise write_error(exc, self.path) from exc
        self.reserved = nbytes

    def free_reserve(self) -> bool:
        """Gives the reserve back to the filesystem; True when there was one to free."""
        if not self.reserved or self._released:
            return False
        self._truncate_to_holder()
        self.reserved = 0
        return True

    def _truncate_to_holder(self) -> None:
        try:
            os.ftruncate(self.fd, len(_holder_line(self.holder)))
        except OSError:
            pass

    def release(self) -> None:
        """Unlinks the lock file (while still holding it, see the module doc) and unlocks."""
        if self._released:
            return
        self._released = True
        try:
            os.unlink(self.path)
        except OSError:  # already gone, or a filesystem turned read-only: the unlock still counts
            pass
        try:
            os.close(self.fd)  # closing the last descriptor releases the flock
        except OSError:
            pass


def _holder_line(ref: ProcessRef) -> bytes:
    return (json.dumps({"pid": ref.pid, "create_time": ref.create_time, "host": ref.host}) + "\n").encode()


class Claims:
    """The claims of one store."""

    def __init__(self, store_root: Path | str):
        self.layout = StoreLayout(Path(store_root))
        self._me: ProcessRef | None = None

    @property
    def me(self) -> ProcessRef:
        if self._me is None or self._me.pid != os.getpid():  # a forked child is another holder
            self._me = ProcessRef.current()
        return self._me

    def try_take(self, run_id: str) -> Claim | None:
        """The claim on ``run_id``, or None when another holder has it (in this process or
        another). Never blocks. Raises WriteError when the lock file cannot be created or
        written (a read-only or full store)."""
        path = self.layout.lock_file(run_id)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise write_error(exc, path.parent) from exc
        while True:
            try:
                fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            except OSError as exc:
                raise write_error(exc, path) from exc
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                return None
            except OSError as exc:
                os.close(fd)
                raise write_error(exc, path) from exc
            try:
                same = os.stat(path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if not same:  # we locked a file its holder had just unlinked: take the new one
                os.close(fd)
                continue
            line = _holder_line(self.me)
            try:
                os.ftruncate(fd, 0)
                os.pwrite(fd, line, 0)
            except OSError as exc:
                _unlink_quietly(path)
                os.close(fd)
                raise write_error(exc, path) from exc
            return Claim(run_id, path, fd, self.me)

    def holder(self, run_id: str) -> ProcessRef | None:
        """Who the lock file says holds ``run_id`` (informational: a claim being taken may not
        have written it yet, and a crashed holder's line stays until the next taker)."""
        try:
            first = self.layout.lock_file(run_id).read_bytes().split(b"\n", 1)[0]
            data = json.loads(first)
        except (OSError, ValueError):
            return None
        pid = data.get("pid") if isinstance(data, dict) else None
        if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
            return None
        created = data.get("create_time")
        host = data.get("host")
        return ProcessRef(
            pid, float(created) if isinstance(created, (int, float)) else None, str(host) if host is not None else None
        )


def _unlink_quietly(path: Path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def describe_holder(ref: ProcessRef | None) -> str:
    if ref is None:
        return "another supervisor"
    where = f" on {ref.host}" if ref.host else ""
    return f"the supervisor pid {ref.pid}{where}"
