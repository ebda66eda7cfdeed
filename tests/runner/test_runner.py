"""The scheduler with tests/support/fake_job.py standing in for the job: process model, failures,
cancel, re-attach, skip/rerun, shared intermediate phases, GPU slots."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from xcost_tui.rundir import ProcessRef, RunDir, RunStatus, read_jsonl, read_status, update_status
from xcost_tui.rundir.layout import EVENTS, LOG, SAMPLES
from xcost_tui.runner import Scheduler
from xcost_tui.runner.outcome import DISAPPEARED
from xcost_tui.spec import RunSpec

REPO = Path(__file__).resolve().parents[2]
FAKE_JOB = REPO / "tests" / "support" / "fake_job.py"


def fake_cmd(run_dir: Path) -> list[str]:
    return [sys.executable, str(FAKE_JOB), str(run_dir)]


def make_sched(store: Path, **kw) -> Scheduler:
    opts = dict(
        job_command=fake_cmd,
        ingest=False,
        grace_s=1.0,
        poll_s=0.05,
        sample_hz=10,
        gpus=0,
        env={"PYTHONPATH": str(REPO)},
    )
    opts.update(kw)
    return Scheduler(store, **opts)


def spec(name: str = "ok", seed: int = 0, **kw) -> RunSpec:
    data = {"method": "direct", "model": "tiny-xlmr", "langs": ["it"], "seed": seed, "name": name}
    data.update(kw)
    return RunSpec.from_dict(data)


def wait_for(pred, timeout: float = 20.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def in_phase(sched: Scheduler, run_id: str, prefix: str = "target:"):
    return lambda: (r := sched.get(run_id)) is not None and (r.phase or "").startswith(prefix)


@pytest.fixture
def store(tmp_path):
    return tmp_path / "store"


def test_a_run_succeeds_in_its_own_session(store):
    sched = make_sched(store)
    s = spec("ok slow")
    rid = s.run_id()
    sched.submit([s])
    sched.start()
    try:
        assert sched.wait(30)
    finally:
        sched.shutdown()
    run = sched.get(rid)
    assert run.status == "succeeded", run.error
    assert run.phases_done == run.phases_planned == len(s.phases_planned)
    assert run.exit_code == 0 and run.ended >= run.started
    assert set(run.accuracy) == {"en", "it"} and run.avg_accuracy == run.accuracy["it"]
    run_dir = store / "runs" / rid
    assert read_status(run_dir).status == "succeeded"
    assert RunDir(run_dir).read_spec()["name"] == "ok slow"
    env = json.loads((run_dir / "fake_env.json").read_text())
    assert env["sid"] == env["pid"] == env["pgid"], "the job leads its own session"
    assert env["PYTHONUNBUFFERED"] == "1" and env["stdin_isatty"] is False
    assert "fake job" in (run_dir / LOG).read_text()
    samples = read_jsonl(run_dir / SAMPLES)
    assert samples, "the sampler wrote samples while the job ran"
    assert all(s["gpus"] == [] and s["rss_bytes"] > 0 for s in samples)
    assert any(s["phase"] for s in samples)
    hist = sched.history(rid)
    assert hist.progress and hist.progress[-1].TYPE == "progress" and hist.progress[-1].step


def test_a_failing_run_does_not_stop_the_queue(store):
    sched = make_sched(store)
    bad, good = spec("raise", seed=1), spec("ok", seed=2)
    sched.submit([bad, good])
    sched.start()
    try:
        assert sched.wait(30)
    finally:
        sched.shutdown()
    b, g = sched.get(bad.run_id()), sched.get(good.run_id())
    assert b.status == "failed" and "fake failure in target:copa" in b.error and b.exit_code == 1
    assert g.status == "succeeded"
    assert read_status(store / "runs" / bad.run_id()).status == "failed"


def test_sigkill_mid_phase_is_recorded_as_failed(store):
    sched = make_sched(store)
    s = spec("hang", seed=3)
    rid = s.run_id()
    sched.submit([s])
    sched.start()
    try:
        wait_for(in_phase(sched, rid), what="the target phase")
        os.kill(sched.get(rid).pid, signal.SIGKILL)
        assert sched.wait(20)
    finally:
        sched.shutdown()
    run = sched.get(rid)
    assert run.status == "failed" and "SIGKILL" in run.error, run.error
    status = read_status(store / "runs" / rid)
    assert status.status == "failed" and "SIGKILL" in status.error and status.exit_code == -9


def test_a_job_that_exits_without_an_end_is_failed_with_its_exit_code(store):
    sched = make_sched(store)
    s = spec("die", seed=4)
    sched.submit([s])
    sched.start()
    try:
        assert sched.wait(20)
    finally:
        sched.shutdown()
    run = sched.get(s.run_id())
    assert run.status == "failed" and "exit code 3" in run.error


def test_cancel_sends_sigterm_and_the_job_records_cancelled(store):
    sched = make_sched(store)
    s, queued = spec("hang", seed=5), spec("ok", seed=6)
    sched.submit([s, queued])
    sched.start()
    try:
        wait_for(in_phase(sched, s.run_id()), what="the target phase")
        assert sched.cancel(queued.run_id())  # queued: never starts
        assert sched.cancel(s.run_id())
        assert sched.wait(20)
    finally:
        sched.shutdown()
    run = sched.get(s.run_id())
    assert run.status == "cancelled" and run.exit_code == 143
    assert read_status(store / "runs" / s.run_id()).status == "cancelled"
    assert sched.get(queued.run_id()).status == "cancelled"
    assert not (store / "runs" / queued.run_id()).exists()
    assert not sched.cancel(s.run_id()), "cancelling a finished run is a no-op"


def test_cancel_escalates_to_sigkill_after_the_grace_period(store):
    sched = make_sched(store, grace_s=0.5)
    s = spec("stubborn", seed=7)
    sched.submit([s])
    sched.start()
    try:
        wait_for(in_phase(sched, s.run_id()), what="the target phase")
        t0 = time.monotonic()
        sched.cancel(s.run_id())
        assert sched.wait(20)
        assert time.monotonic() - t0 >= 0.5
    finally:
        sched.shutdown()
    run = sched.get(s.run_id())
    assert run.status == "cancelled" and "SIGKILL" in run.error
    assert any("sent SIGKILL" in m.text for m in sched.drain_messages())


def test_reattach_after_a_supervisor_restart(store):
    first = make_sched(store)
    s = spec("hang", seed=8)
    rid = s.run_id()
    first.submit([s])
    first.start()
    wait_for(in_phase(first, rid), what="the target phase")
    pid = first.get(rid).pid
    first.shutdown(cancel_running=False)  # the supervisor goes away; the job keeps running
    assert read_status(store / "runs" / rid).status == "running"
    os.kill(pid, 0)

    # a second run directory left "running" by a job that is long gone
    dead_dir = store / "runs" / "direct-tiny-xlmr-s0-deadbeef00"
    dead_dir.mkdir(parents=True)
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    update_status(dead_dir, RunStatus.RUNNING, job=ProcessRef(proc.pid), started=time.time() - 5)

    second = make_sched(store)
    found = {r.run_id: r for r in second.attach_existing(store)}
    second.start()
    try:
        assert found[rid].status == "running" and found[rid].attached and found[rid].pid == pid
        assert found[dead_dir.name].status == "failed"
        assert read_status(dead_dir).error == DISAPPEARED
        wait_for(lambda: second.get(rid).progress is not None or second.get(rid).phase, what="live events")
        wait_for(lambda: (store / "runs" / rid / SAMPLES).exists(), what="samples from the sampler beside the job")
        assert second.cancel(rid)
        assert second.wait(20)
    finally:
        second.shutdown()
    assert second.get(rid).status == "cancelled"
    assert read_status(store / "runs" / rid).status == "cancelled"


def test_a_queued_run_already_running_elsewhere_is_attached_not_started_twice(store):
    first = make_sched(store)
    s = spec("hang", seed=9)
    first.submit([s])
    first.start()
    wait_for(in_phase(first, s.run_id()), what="the target phase")
    first.shutdown(cancel_running=False)
    second = make_sched(store)
    (live,) = second.submit([s])
    second.start()
    try:
        assert live.attached and live.status == "running"
        second.cancel(s.run_id())
        assert second.wait(20)
    finally:
        second.shutdown()
    starts = [e for e in read_jsonl(store / "runs" / s.run_id() / EVENTS) if e["type"] == "run_start"]
    assert len(starts) == 1


def test_skip_succeeded_and_rerun(store):
    s = spec("ok", seed=10)
    rid = s.run_id()
    sched = make_sched(store)
    sched.submit([s])
    sched.start()
    assert sched.wait(30)
    sched.shutdown()
    events_before = (store / "runs" / rid / EVENTS).read_text()

    again = make_sched(store)
    (live,) = again.submit([s])
    again.start()
    try:
        assert again.wait(5)
    finally:
        again.shutdown()
    assert live.skipped and live.status == "succeeded"
    assert again.get(rid).accuracy, "a skipped run still shows its results"
    assert (store / "runs" / rid / EVENTS).read_text() == events_before

    rerun = make_sched(store, rerun=True)
    (live,) = rerun.submit([s])
    assert not live.skipped and live.status == "queued"
    rerun.start()
    try:
        assert rerun.wait(30)
    finally:
        rerun.shutdown()
    assert rerun.get(rid).status == "succeeded"
    archived = list((store / "archive").iterdir())
    assert len(archived) == 1 and archived[0].name.startswith(rid)
    assert (archived[0] / EVENTS).read_text() == events_before
    starts = [e for e in read_jsonl(store / "runs" / rid / EVENTS) if e["type"] == "run_start"]
    assert len(starts) == 1, "the rerun starts from a clean run directory"


def _shared_specs(producer_name: str):
    producer = spec(producer_name, seed=0, method="intermediate", intermediate=["arc_challenge"])
    # another language list: another target key (the target phase's curve reads every language),
    # so the two share their intermediate phase only (shared target phases: test_runner_target.py)
    consumer = spec(
        "consumer", seed=0, method="few-shot", intermediate=["arc_challenge"], few_shot_k=4, langs=["it", "qu"]
    )
    other = spec("other", seed=0, method="intermediate", intermediate=["rte"])
    return producer, consumer, other


def test_shared_intermediate_producer_and_consumer(store):
    producer, consumer, other = _shared_specs("producer slow")
    sched = make_sched(store, max_parallel=2)
    lives = {r.run_id: r for r in sched.submit([producer, consumer, other])}
    assert lives[producer.run_id()].save_encoder
    assert lives[consumer.run_id()].status == "waiting"
    assert lives[consumer.run_id()].waiting_for == producer.run_id()
    assert lives[other.run_id()].status == "queued"
    sched.start()
    try:
        # the consumer waits while the independent run takes the second slot
        wait_for(lambda: sched.get(other.run_id()).status != "queued", what="the independent run to start")
        assert sched.wait(60)
    finally:
        sched.shutdown()
    for s in (producer, consumer, other):
        assert sched.get(s.run_id()).status == "succeeded", sched.get(s.run_id()).error
    pdir, cdir = store / "runs" / producer.run_id(), store / "runs" / consumer.run_id()
    assert RunDir(pdir).read_spec()["save_encoder"] is True
    assert RunDir(cdir).read_spec()["init_from"] == str(pdir / "checkpoints" / "intermediate")
    assert RunDir(store / "runs" / other.run_id()).read_spec()["init_from"] is None
    saved = next(e for e in read_jsonl(pdir / EVENTS) if e["type"] == "checkpoint_saved")
    consumer_env = json.loads((cdir / "fake_env.json").read_text())
    assert consumer_env["started"] >= saved["t"], "the consumer started only after the encoder was saved"
    reused = [e for e in read_jsonl(cdir / EVENTS) if e["type"] == "phase_end" and e.get("reused_from")]
    assert [e["phase"] for e in reused] == ["intermediate:arc_challenge"]

    # a later plan with the same intermediate phase starts from the saved encoder at once
    later = spec("later", seed=0, method="few-shot", intermediate=["arc_challenge"], few_shot_k=8)
    sched2 = make_sched(store)
    (live,) = sched2.submit([later])
    assert live.status == "queued" and live.init_from == str(pdir / "checkpoints" / "intermediate")
    sched2.shutdown()


def test_consumers_train_their_own_phase_when_the_producer_fails(store):
    producer, consumer, _ = _shared_specs("producer raise")
    sched = make_sched(store)
    sched.submit([producer, consumer])
    sched.start()
    try:
        assert sched.wait(60)
    finally:
        sched.shutdown()
    assert sched.get(producer.run_id()).status == "failed"
    c = sched.get(consumer.run_id())
    assert c.status == "succeeded" and c.init_from is None and c.waiting_for is None
    assert RunDir(store / "runs" / consumer.run_id()).read_spec()["init_from"] is None
    assert any("trains its own intermediate phase" in m.text for m in sched.drain_messages())


def test_one_run_per_gpu_with_cuda_visible_devices(store):
    specs = [spec("slow", seed=20 + i) for i in range(3)]
    sched = make_sched(store, gpus=2)
    assert sched.max_parallel == 2
    sched.submit(specs)
    sched.start()
    try:
        wait_for(lambda: sum(r.status == "running" for r in sched.snapshot()) == 2, what="two runs at once")
        running = [r for r in sched.snapshot() if r.status == "running"]
        assert sorted(r.gpu for r in running) == ["0", "1"]
        assert sched.wait(60)
    finally:
        sched.shutdown()
    envs = [json.loads((store / "runs" / s.run_id() / "fake_env.json").read_text()) for s in specs]
    assert sorted(e["CUDA_VISIBLE_DEVICES"] for e in envs[:2]) == ["0", "1"]
    assert envs[2]["CUDA_VISIBLE_DEVICES"] in ("0", "1")
    assert all(e["CUDA_DEVICE_ORDER"] == "PCI_BUS_ID" for e in envs)
    assert read_status(store / "runs" / specs[0].run_id()).gpu in ("0", "1")


def test_no_gpu_means_one_run_at_a_time_and_no_cuda_visible_devices(store, monkeypatch):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    specs = [spec("ok", seed=30 + i) for i in range(2)]
    sched = make_sched(store, gpus=0)
    assert sched.max_parallel == 1
    sched.submit(specs)
    sched.start()
    try:
        seen = set()
        while not sched.idle:
            seen.add(sum(r.status == "running" for r in sched.snapshot()))
            time.sleep(0.01)
    finally:
        sched.shutdown()
    assert max(seen) == 1
    env = json.loads((store / "runs" / specs[0].run_id() / "fake_env.json").read_text())
    assert env["CUDA_VISIBLE_DEVICES"] is None


def test_a_cpu_run_on_a_gpu_machine_sees_no_gpu(store):
    s = spec("ok", seed=40, device="cpu")
    sched = make_sched(store, gpus=1)
    sched.submit([s])
    sched.start()
    try:
        assert sched.wait(30)
    finally:
        sched.shutdown()
    env = json.loads((store / "runs" / s.run_id() / "fake_env.json").read_text())
    assert env["CUDA_VISIBLE_DEVICES"] == ""


def test_a_job_command_that_cannot_start_fails_that_run_only(store):
    calls = []

    def cmd(run_dir: Path) -> list[str]:
        calls.append(run_dir)
        if len(calls) == 1:
            return [str(run_dir / "no-such-program")]
        return fake_cmd(run_dir)

    a, b = spec("ok", seed=50), spec("ok", seed=51)
    sched = make_sched(store, job_command=cmd)
    sched.submit([a, b])
    sched.start()
    try:
        assert sched.wait(30)
    finally:
        sched.shutdown()
    assert sched.get(a.run_id()).status == "failed" and "could not start" in sched.get(a.run_id()).error
    assert sched.get(b.run_id()).status == "succeeded"


def test_finished_runs_are_ingested_into_the_store(store):
    pytest.importorskip("duckdb")
    from xcost_tui.store.query import leaderboard

    s = spec("ok", seed=60)
    sched = make_sched(store, ingest=True, ingest_every_s=0.5)
    sched.submit([s])
    sched.start()
    try:
        assert sched.wait(30)
        wait_for(lambda: _in_store(store, s.run_id()), timeout=30, what="the run in the store")
    finally:
        sched.shutdown()
    table = leaderboard(store).to_pylist()
    (row,) = [r for r in table if r["run_id"] == s.run_id()]
    assert row["status"] == "succeeded"


def _in_store(store: Path, run_id: str) -> bool:
    from xcost_tui.errors import XcostError
    from xcost_tui.store.query import leaderboard

    try:
        return any(r["run_id"] == run_id and r["status"] == "succeeded" for r in leaderboard(store).to_pylist())
    except XcostError:
        return False


def test_store_errors_are_reported_not_raised(store, monkeypatch):
    import xcost_tui.store.ingest as store_ingest

    def broken(*a, **k):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(store_ingest, "ingest", broken)
    s = spec("ok", seed=61)
    sched = make_sched(store, ingest=True, ingest_every_s=0.2)
    sched.submit([s])
    sched.start()
    try:
        assert sched.wait(30)
    finally:
        sched.shutdown()
    assert sched.get(s.run_id()).status == "succeeded"
    assert any("disk on fire" in m.text and m.level == "warning" for m in sched.drain_messages())


# ---- malformed run directories ---------------------------------------------------------------------


def _malformed(store: Path) -> dict[str, Path]:
    """Run directories whose status.json is valid JSON but not an object."""
    out = {}
    for name, text in (("bad-list", "[1,2]"), ("bad-string", '"running"')):
        d = store / "runs" / name
        d.mkdir(parents=True)
        (d / "status.json").write_text(text)
        out[name] = d
    return out


def test_attach_existing_skips_a_malformed_status_and_attaches_the_rest(store):
    first = make_sched(store)
    s = spec("hang", seed=80)
    first.submit([s])
    first.start()
    wait_for(in_phase(first, s.run_id()), what="the target phase")
    first.shutdown(cancel_running=False)
    bad = _malformed(store)

    second = make_sched(store)
    found = {r.run_id: r for r in second.attach_existing(store)}
    second.start()
    try:
        assert set(found) == {s.run_id()} and found[s.run_id()].attached
        notes = second.drain_messages()
        for name in bad:
            (note,) = [n for n in notes if n.text.startswith(f"{name}: skipped: ")]
            assert note.level == "warning" and "expected a JSON object" in note.text
        assert second.cancel(s.run_id())
        assert second.wait(20)
    finally:
        second.shutdown()
    assert read_status(store / "runs" / s.run_id()).status == "cancelled"
    assert (bad["bad-list"] / "status.json").read_text() == "[1,2]", "a skipped directory is left as it is"


def test_submit_reports_a_malformed_status_and_runs_the_rest(store):
    bad_spec, good = spec("ok", seed=81), spec("ok", seed=82)
    bad_dir = store / "runs" / bad_spec.run_id()
    bad_dir.mkdir(parents=True)
    (bad_dir / "status.json").write_text("[1,2]")
    _malformed(store)  # others in the store, not in the plan: no effect
    sched = make_sched(store)
    lives = sched.submit([bad_spec, good])
    assert [r.status for r in lives] == ["queued", "queued"]
    sched.start()
    try:
        assert sched.wait(30)
    finally:
        sched.shutdown()
    assert sched.get(good.run_id()).status == "succeeded"
    assert sched.get(bad_spec.run_id()).status == "succeeded", "its malformed attempt archived, it ran afresh"
    (archived,) = (store / "archive").iterdir()
    assert (archived / "status.json").read_text() == "[1,2]", "the malformed attempt is kept, untouched"
    notes = [n for n in sched.drain_messages() if n.run_id == bad_spec.run_id() and "expected a JSON object" in n.text]
    assert len(notes) == 1 and notes[0].level == "warning"


# ---- launching outside the lock; cancel while starting -----------------------------------------------


def test_a_cancel_while_a_run_is_starting_reaches_its_job(store):
    """The launch runs outside the scheduler's lock: the live API answers while a job is being
    spawned, and a cancel that comes before the pid is known is delivered right after the spawn."""
    import threading

    entered, gate = threading.Event(), threading.Event()

    def slow_cmd(run_dir: Path) -> list[str]:
        entered.set()
        gate.wait(30)
        return fake_cmd(run_dir)

    s = spec("hang", seed=83)
    rid = s.run_id()
    sched = make_sched(store, job_command=slow_cmd)
    sched.submit([s])
    sched.start()
    try:
        assert entered.wait(30)
        answered = []
        t = threading.Thread(target=lambda: answered.append(sched.get(rid)))
        t.start()
        t.join(20)
        assert answered, "snapshot/get answer while a launch is in progress"
        assert answered[0].status == "queued" and answered[0].pid is None, "shown queued until its pid is known"
        assert sched.cancel(rid)
        gate.set()
        assert sched.wait(20)
    finally:
        gate.set()
        sched.shutdown()
    run = sched.get(rid)
    assert run.status == "cancelled" and run.pid is not None, run
    assert read_status(store / "runs" / rid).status == "cancelled"
    import psutil

    assert not psutil.pid_exists(run.pid) or psutil.Process(run.pid).status() == psutil.STATUS_ZOMBIE


def test_a_second_scheduler_follows_then_takes_over_when_the_first_goes(store):
    first, second = make_sched(store), make_sched(store)
    s = spec("hang", seed=84)
    rid = s.run_id()
    first.submit([s])
    first.start()
    wait_for(in_phase(first, rid), what="the target phase")
    (live,) = second.submit([s])
    second.start()
    try:
        assert live.elsewhere and live.status == "running" and live.pid == first.get(rid).pid
        assert any("followed here, not started again" in n.text for n in second.drain_messages())
        wait_for(in_phase(second, rid), what="the follower to read the events")
        first.shutdown(cancel_running=False)  # the claim goes with it; the job runs on
        wait_for(lambda: not second.get(rid).elsewhere, what="the take-over")
        assert any("followed and recorded here now" in n.text for n in second.drain_messages())
        # the sampler runs beside the job, not in a supervisor: its samples go on through the take-over
        size = _size(store / "runs" / rid / SAMPLES)
        wait_for(lambda: _size(store / "runs" / rid / SAMPLES) > size, what="samples after the take-over")
        assert second.cancel(rid)
        assert second.wait(20)
    finally:
        first.shutdown()
        second.shutdown()
    assert second.get(rid).status == "cancelled" and read_status(store / "runs" / rid).status == "cancelled"
    starts = [e for e in read_jsonl(store / "runs" / rid / EVENTS) if e["type"] == "run_start"]
    assert len(starts) == 1


def test_a_follower_reports_the_end_its_holder_recorded(store):
    first, second = make_sched(store), make_sched(store)
    s = spec("slow", seed=85)
    rid = s.run_id()
    first.submit([s])
    first.start()
    wait_for(in_phase(first, rid), what="the target phase")
    second.submit([s])
    second.start()
    try:
        assert first.wait(60) and second.wait(60)
    finally:
        first.shutdown()
        second.shutdown()
    assert first.get(rid).status == second.get(rid).status == "succeeded"
    assert second.get(rid).elsewhere and second.get(rid).accuracy == first.get(rid).accuracy
    assert any("succeeded (run by another supervisor)" in n.text for n in second.drain_messages())
    assert not (store / "locks").exists() or not any((store / "locks").iterdir())


def test_a_bug_while_launching_fails_that_run_and_releases_its_claim(store):
    calls = []

    def buggy(run_dir: Path) -> list[str]:
        calls.append(run_dir)
        if len(calls) == 1:
            raise RuntimeError("a bug in the job command")
        return fake_cmd(run_dir)

    a, b = spec("ok", seed=86), spec("ok", seed=87)
    sched = make_sched(store, job_command=buggy)
    sched.submit([a, b])
    sched.start()
    try:
        assert sched.wait(30)
    finally:
        sched.shutdown()
    run = sched.get(a.run_id())
    assert run.status == "failed" and "RuntimeError: a bug in the job command" in run.error
    status = read_status(store / "runs" / a.run_id())
    assert status.status == "failed" and "a bug in the job command" in status.error, "its end is on disk too"
    assert sched.get(b.run_id()).status == "succeeded"
    assert not any((store / "locks").iterdir()), "no claim is left held"


def test_a_consumer_left_running_by_a_gone_job_waits_for_its_producer_again(store, tmp_path):
    """A supervisor killed right after it launched a consumer of a shared intermediate phase (its
    spec.json names the producer's checkpoint, not written yet) and before the job started: the
    next supervisor queues the consumer again behind the producer, not from the dead launch's
    wiring (on SLURM it started at once, without afterok, and failed: "no phase.json")."""
    from xcost_tui.plan import loads_plan

    plan = loads_plan(
        '[defaults]\nmodel = "tiny-xlmr"\nlangs = ["it"]\n'
        '[[experiment]]\nname = "inter"\nmethod = "intermediate"\nintermediate = ["rte"]\n'
        "learning_rates = [3e-5, 1e-5]\n",
        str(tmp_path / "plan.toml"),
    )
    producer, consumer = plan.runs
    consumer_dir = store / "runs" / consumer.run_id()
    consumer_dir.mkdir(parents=True)
    stale = store / "runs" / producer.run_id() / "checkpoints" / "intermediate"
    (consumer_dir / "spec.json").write_text(json.dumps({**consumer.to_dict(), "init_from": str(stale)}))
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    update_status(consumer_dir, RunStatus.RUNNING, job=ProcessRef(gone.pid), started=time.time() - 5)

    sched = make_sched(store)
    lives = {live.run_id: live for live in sched.submit([producer, consumer])}
    try:
        live = sched.get(consumer.run_id())
        assert live.init_from is None, "not started from a checkpoint that does not exist yet"
        assert live.waiting_for == producer.run_id(), lives
    finally:
        sched.shutdown()
