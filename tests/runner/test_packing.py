"""Packed SLURM jobs (runner/packing.py): which runs share a job, and the worker's command."""

from __future__ import annotations

from xcost_tui.runner.packing import PackMember, pack_command, pack_key, packs
from xcost_tui.spec import RunSpec


def member(rid: str, depends_on: str | None = None, **spec) -> PackMember:
    return PackMember(rid, RunSpec.from_dict({"model": "tiny-xlmr", "langs": ["it"], **spec}), depends_on)


def test_consumers_of_one_producer_share_a_job_and_producers_stand_alone():
    ms = [
        member("producer", method="direct", save_target=True),
        member("a", "7", method="few-shot", few_shot_k=4, init_target_from="/s/runs/p/checkpoints/target"),
        member("plain", method="direct", seed=3),
        member("b", "7", method="few-shot", few_shot_k=4, shot_seed=1, init_target_from="/s/runs/p/checkpoints/target"),
        member("other", "8", method="few-shot", few_shot_k=4, init_target_from="/s/runs/q/checkpoints/target"),
        member("icl0", method="icl", model="tiny-gpt2", few_shot_k=0),
        member("icl4", method="icl", model="tiny-gpt2", few_shot_k=4),
    ]
    got = [[m.run_id for m in p] for p in packs(ms, 16)]
    assert got == [["producer"], ["a", "b"], ["plain"], ["other"], ["icl0", "icl4"]]
    assert pack_key(ms[0]) is None and pack_key(ms[2]) is None


def test_a_pack_holds_at_most_runs_per_job_and_one_means_a_job_per_run():
    ms = [member(f"c{i}", "7", method="few-shot", few_shot_k=4, shot_seed=i, init_from="/enc") for i in range(5)]
    assert [[m.run_id for m in p] for p in packs(ms, 2)] == [["c0", "c1"], ["c2", "c3"], ["c4"]]
    assert [len(p) for p in packs(ms, 1)] == [1] * 5


def test_the_worker_command_replaces_the_jobs_own_commands_only_when_they_are_the_job():
    job = ["/usr/bin/python3", "-m", "xcost_tui.job"]
    assert pack_command([[*job, "/r/a"], [*job, "/r/b"]]) == [*job, "--runs", "/r/a", "/r/b"]
    assert pack_command([["python", "fake_job.py", "/r/a"], ["python", "fake_job.py", "/r/b"]]) is None
    assert pack_command([[*job, "/r/a"], ["other", "-m", "xcost_tui.job", "/r/b"]]) is None
    assert pack_command([]) is None
