"""A warm worker's caches (job/worker.py): what one run loaded, the next run of the same process
restores instead of loading again. Off in a job that runs one run (nothing would read it again).

- the data splits a run reads (keyed by the ``load_split`` request; a run gets copies of the lists);
- an encoder's tokenizer and initial weights (keyed by everything that determines them: the hub id
  or path, or for the built-in tiny model its seed, dimensions and the texts its tokenizer learned
  from): a run gets a fresh deep copy, never a tensor another run trains in place;
- the causal LM of in-context learning (keyed by model, precision, device; kept on its device,
  since no run trains it);
- the warm-up's shapes already run (job/warmup.py), keyed by the model's architecture, precision
  and device (two models of one shape differ).

Results stay those of a run in its own process: a loader that draws from torch's RNG (the tiny
models seed it and initialise their weights from it) leaves it in a state the cache records, and a
restore sets the same state; a cached entry is used only when the RNG stands where it stood before
that load (the run seeded it the same way). Each restore says it was one (``ModelLoaded.cached``)
and how long it took (``load_s``).
"""

from __future__ import annotations

import copy
import dataclasses
import gc
import hashlib
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from typing import Any

import torch


@dataclasses.dataclass
class _Entry:
    value: Any
    rng_before: torch.Tensor | None  # torch's CPU RNG before the load, when the load drew from it
    rng_after: torch.Tensor | None  # ... and after it


# The most entries of a kind a worker keeps (the least recently used goes first): one causal LM on
# the device (a second large model beside it would not fit), two encoders' weights in host RAM.
LIMITS = {"causal": 1, "encoder": 2}


class WorkerCache:
    """Process-wide, host RAM (a cached causal LM stays on its device). ``enabled`` only in a warm worker."""

    def __init__(self) -> None:
        self.enabled = False
        self._entries: OrderedDict[Hashable, _Entry] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

    # ---- data ------------------------------------------------------------------------------------
    def split_loader(self, load_split: Callable[..., Any]) -> Callable[..., Any]:
        """``load_split`` with the splits read before kept: a run gets a LoadedSplit with its own
        lists (the cached ones are never handed out). Errors are not cached (a fixed file is read again)."""
        if not self.enabled:
            return load_split

        def load(task: str, split: str, *, log: Any = None, **kwargs: Any) -> Any:
            key = ("split", task, split, tuple(sorted((k, _hashable(v)) for k, v in kwargs.items())))
            entry = self._entries.get(key)
            if entry is None:
                self.misses += 1
                entry = _Entry(load_split(task, split, log=log, **kwargs), None, None)
                self._entries[key] = entry
            else:
                self.hits += 1
            loaded = entry.value
            return dataclasses.replace(
                loaded, examples=list(loaded.examples), sources=list(loaded.sources), corrected=set(loaded.corrected)
            )

        return load

    # ---- models ----------------------------------------------------------------------------------
    def restore(self, key: Hashable, build: Callable[[], Any], *, copy_out: bool = True) -> tuple[Any, bool]:
        """(value, whether it came from the cache). ``build()`` makes it on a miss; the cache keeps
        a deep copy (``copy_out``: and hands out a deep copy on a hit, for what a run trains) or the
        object itself (a model no run changes: the causal LM)."""
        if not self.enabled:
            return build(), False
        before = torch.get_rng_state()
        entry = self._entries.get(key)
        if entry is not None and (entry.rng_before is None or torch.equal(entry.rng_before, before)):
            self.hits += 1
            self._entries.move_to_end(key)
            if entry.rng_after is not None:
                torch.set_rng_state(entry.rng_after)
            return (copy.deepcopy(entry.value) if copy_out else entry.value), True
        self.misses += 1
        self._make_room(key)
        value = build()
        after = torch.get_rng_state()
        drew = not torch.equal(before, after)
        self._entries[key] = _Entry(
            copy.deepcopy(value) if copy_out else value, before if drew else None, after if drew else None
        )
        return value, False

    def _make_room(self, key: Hashable) -> None:
        """Drops the least recently used entries of ``key``'s kind beyond its limit, before a new one
        is built (a causal LM's memory on the device is given back first)."""
        kind = key[0] if isinstance(key, tuple) and key else None
        limit = LIMITS.get(kind) if isinstance(kind, str) else None
        if limit is None:
            return
        same = [k for k in self._entries if isinstance(k, tuple) and k and k[0] == kind and k != key]
        dropped = same[: max(0, len(same) - (limit - 1))]
        for k in dropped:
            del self._entries[k]
        if dropped:
            # a warm worker froze what survived its earlier runs (job/worker.py): thawed, so that
            # the dropped entries' reference cycles are collected, then frozen again
            gc.unfreeze()
            gc.collect()
            gc.freeze()
            if torch.cuda.is_available():
                torch.cuda.empty_cache()

    # ---- the warm-up's shapes ------------------------------------------------------------------
    def shared(self, key: Hashable, make: Callable[[], Any]) -> Any:
        """A mutable object shared by every run whose ``key`` is equal (the Warmer's shapes)."""
        if not self.enabled:
            return make()
        entry = self._entries.get(key)
        if entry is None:
            entry = self._entries[key] = _Entry(make(), None, None)
        return entry.value


def _hashable(value: Any) -> Hashable:
    if isinstance(value, dict):
        return tuple(sorted((k, _hashable(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple, set)):
        return tuple(_hashable(v) for v in value)
    return value if isinstance(value, Hashable) else repr(value)


def texts_digest(texts: Iterable[str]) -> str:
    """A digest of a tokenizer's training texts (as the built-in tokenizers read them: a sorted set)."""
    h = hashlib.sha256()
    for t in sorted(set(texts)):
        h.update(t.encode("utf-8", "surrogatepass"))
        h.update(b"\0")
    return h.hexdigest()


CACHE = WorkerCache()
