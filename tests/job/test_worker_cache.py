"""The warm worker's cache (job/cache.py): fresh copies, the RNG where a load left it, limits."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from xcost_tui.job.cache import WorkerCache, texts_digest


def test_off_builds_every_time() -> None:
    cache = WorkerCache()
    calls = []
    value, cached = cache.restore(("encoder", 1), lambda: calls.append(1) or [1.0])
    assert (value, cached, len(calls), len(cache)) == ([1.0], False, 1, 0)


def build_model(seed: int):
    def build() -> torch.nn.Module:
        torch.manual_seed(seed)
        return torch.nn.Linear(4, 3)

    return build


def test_a_restore_is_a_fresh_copy_and_leaves_the_rng_where_the_load_did() -> None:
    cache = WorkerCache()
    cache.enabled = True
    torch.manual_seed(5)
    first, cached = cache.restore(("encoder", "tiny", 0), build_model(0))
    after_first = torch.rand(3)  # what the run draws next (its heads, its dropout)
    assert not cached
    with torch.no_grad():
        first.weight.add_(1.0)  # the run trains its model in place

    torch.manual_seed(5)
    second, cached = cache.restore(("encoder", "tiny", 0), build_model(0))
    assert cached
    assert second is not first
    torch.testing.assert_close(second.weight, build_model(0)().weight)  # never the trained one
    torch.manual_seed(5)
    cache.restore(("encoder", "tiny", 0), build_model(0))
    assert torch.equal(torch.rand(3), after_first)  # the same draws as after a real load


def test_an_entry_is_used_only_from_the_rng_state_it_was_made_from() -> None:
    cache = WorkerCache()
    cache.enabled = True

    def build() -> list[float]:
        return torch.rand(2).tolist()  # a load that draws from the RNG without seeding it

    torch.manual_seed(1)
    a, _ = cache.restore(("encoder", "x"), build)
    torch.manual_seed(2)
    b, cached = cache.restore(("encoder", "x"), build)
    assert not cached and a != b  # another RNG state: built again, as a process of its own would


def test_the_causal_lm_is_kept_itself_and_one_at_a_time() -> None:
    cache = WorkerCache()
    cache.enabled = True
    lm = object()
    same, _ = cache.restore(("causal", "a"), lambda: lm, copy_out=False)
    again, cached = cache.restore(("causal", "a"), lambda: object(), copy_out=False)
    assert same is lm and again is lm and cached
    cache.restore(("causal", "b"), lambda: object(), copy_out=False)
    _, cached = cache.restore(("causal", "a"), lambda: object(), copy_out=False)
    assert not cached  # "b" took its place on the device


@dataclass
class Loaded:
    examples: list
    sources: list = field(default_factory=list)
    corrected: set = field(default_factory=set)


def test_splits_are_read_once_and_handed_out_as_copies() -> None:
    cache = WorkerCache()
    cache.enabled = True
    reads = []

    def load_split(task, split, *, log=None, **kwargs):
        reads.append((task, split, kwargs))
        return Loaded(["e1", "e2"], ["src"], {1})

    load = cache.split_loader(load_split)
    one = load("copa", "train", log=print, data_dir="d", limit=4)
    one.examples.append("mutated")
    two = load("copa", "train", log=None, data_dir="d", limit=4)
    assert two.examples == ["e1", "e2"] and len(reads) == 1
    load("copa", "train", data_dir="d", limit=5)
    assert len(reads) == 2


def test_texts_digest_is_that_of_the_sorted_set() -> None:
    assert texts_digest(["b", "a", "a"]) == texts_digest(["a", "b"]) != texts_digest(["a", "b", "c"])
