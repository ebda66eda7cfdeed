"""The ingest thread defers the verdict refresh while a local job of this machine measures (issue
18: the verdict's CPU work would count as contention against the job's phase), ingests rows all
the while, and always refreshes the verdict when it stops (the end of the queue)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from xcost_tui.rundir import ProcessRef, RunStatus, update_status
from xcost_tui.runner import ingestor as ingestor_mod
from xcost_tui.runner.ingestor import Ingestor, measuring_here
from xcost_tui.store import ingest as store_ingest

HERE = socket.gethostname()


def _run(root: Path, name: str, status=RunStatus.RUNNING, *, phase=None, executor=None, host=HERE) -> Path:
    d = root / "runs" / name
    d.mkdir(parents=True)
    (d / "spec.json").write_text("{}")
    job = ProcessRef(12345, 1.0, host) if host is not None else None
    update_status(d, status, phase=phase, executor=executor, job=job)
    return d


def test_measuring_here_is_a_local_running_job_in_a_phase(tmp_path):
    measuring = _run(tmp_path, "measuring", phase="target:copa", executor="local")
    no_executor = _run(tmp_path, "no-executor", phase="eval:it")
    starting = _run(tmp_path, "starting", phase=None, executor="local")  # loading, before its first phase
    slurm = _run(tmp_path, "slurm", phase="target:copa", executor="slurm", host="node17")
    elsewhere = _run(tmp_path, "elsewhere", phase="target:copa", executor="local", host="other-machine")
    slurm_no_host = _run(tmp_path, "slurm-no-host", phase="target:copa", executor="slurm", host=None)
    local_no_host = _run(tmp_path, "local-no-host", phase="target:copa", executor="local", host=None)
    done = _run(tmp_path, "done", RunStatus.SUCCEEDED, phase=None, executor="local")
    gone = tmp_path / "runs" / "gone"  # no status.json: nothing to defer for
    dirs = [measuring, no_executor, starting, slurm, elsewhere, slurm_no_host, local_no_host, done, gone]
    assert measuring_here(dirs, HERE) == [measuring, no_executor, local_no_host]


@pytest.fixture
def calls(monkeypatch):
    """The store's ingest and verdict refresh, recorded instead of run."""
    seen: list[tuple] = []

    def fake_ingest(root, dirs, **kw):
        seen.append(("ingest", tuple(Path(d).name for d in dirs), kw.get("verdict")))
        return store_ingest.IngestReport(ingested=[object()])  # type: ignore[list-item]

    def fake_refresh(root, **kw):
        seen.append(("verdict",))
        return True

    monkeypatch.setattr(store_ingest, "ingest", fake_ingest)
    monkeypatch.setattr(store_ingest, "refresh_verdict_of", fake_refresh)
    return seen


def test_the_verdict_waits_while_a_local_job_measures(tmp_path, calls):
    finished = _run(tmp_path, "finished", RunStatus.SUCCEEDED, executor="local")
    job = _run(tmp_path, "job", phase="target:copa", executor="local")
    active = [job]
    ing = Ingestor(tmp_path, 5.0, lambda: list(active), lambda note: None)
    ing.request(finished)
    ing.flush(include_active=True)
    assert calls == [("ingest", ("finished", "job"), False)]  # rows go live, the verdict is left out
    assert ing.refresh_verdict() is False and ing.verdict_deferred == 1
    assert ("verdict",) not in calls
    update_status(job, RunStatus.RUNNING, phase="eval:it")  # still measuring
    assert ing.refresh_verdict() is False
    active.clear()  # the job ended: nothing measures
    assert ing.refresh_verdict() is True and calls[-1] == ("verdict",)
    assert ing.refresh_verdict() is False  # nothing new since


def test_a_job_elsewhere_does_not_defer_the_verdict(tmp_path, calls):
    finished = _run(tmp_path, "finished", RunStatus.SUCCEEDED)
    slurm = _run(tmp_path, "slurm", phase="target:copa", executor="slurm", host="node17")
    ing = Ingestor(tmp_path, 5.0, lambda: [slurm], lambda note: None)
    ing.request(finished)
    ing.flush()
    assert ing.refresh_verdict() is True and calls[-1] == ("verdict",)


def test_stop_always_refreshes_the_verdict(tmp_path, calls):
    """The end of the queue: the final verdict is complete even if a job (of another supervisor
    on this machine, say) still measures."""
    finished = _run(tmp_path, "finished", RunStatus.SUCCEEDED)
    job = _run(tmp_path, "job", phase="target:copa", executor="local")
    ing = Ingestor(tmp_path, 5.0, lambda: [job], lambda note: None)
    ing.request(finished)
    ing.flush()
    assert ing.refresh_verdict() is False
    ing.stop()
    assert calls[-1] == ("verdict",)


def test_a_failed_refresh_is_noted_once_and_retried(tmp_path, monkeypatch, calls):
    notes = []
    finished = _run(tmp_path, "finished", RunStatus.SUCCEEDED)
    ing = Ingestor(tmp_path, 5.0, lambda: [], notes.append)
    ing.request(finished)
    ing.flush()

    def broken(root, **kw):
        raise OSError("disk full")

    monkeypatch.setattr(store_ingest, "refresh_verdict_of", broken)
    assert ing.refresh_verdict() is False and ing.refresh_verdict() is False
    assert len(notes) == 1 and "could not refresh the verdict" in notes[0].text and ing.verdict_due
    monkeypatch.setattr(store_ingest, "refresh_verdict_of", lambda root, **kw: True)
    assert ing.refresh_verdict() is True and not ing.verdict_due


def test_the_real_store_gets_its_verdict_after_the_deferral(tmp_path):
    """End to end with the real store: rows at once, the verdict tables once nothing measures."""
    from support.store_fixtures import make_run_dir

    from xcost_tui.store.db import connect_ro

    d = make_run_dir(tmp_path, run_id="r0", langs=["it"])
    job = _run(tmp_path, "job", phase="target:copa", executor="local")
    active = [job]
    ing = Ingestor(tmp_path, 5.0, lambda: list(active), lambda note: None)
    ing.request(d)
    ing.flush()
    with connect_ro(tmp_path) as con:
        assert con.execute("SELECT count(*) FROM runs WHERE run_id = 'r0'").fetchall() == [(1,)]
        assert con.execute("SELECT count(*) FROM verdict_accuracy").fetchall() == [(0,)]
    assert ing.refresh_verdict() is False
    active.clear()
    assert ing.refresh_verdict() is True
    with connect_ro(tmp_path) as con:
        assert con.execute("SELECT count(*) FROM verdict_accuracy").fetchall()[0][0] > 0


def test_the_module_imports_no_store_at_import_time():
    assert "duckdb" not in vars(ingestor_mod)
