"""The run-directory package: typed events round-trip, the one tolerant reader, status.json,
and one fold shared by the live view and the store."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from support.store_fixtures import make_run_dir, make_standard_store

from xcost_tui.errors import RunDirError
from xcost_tui.rundir import (
    Cost,
    EventWriter,
    JsonlReader,
    PhaseEnd,
    PhaseStart,
    ProcessRef,
    Progress,
    ReusedFrom,
    RunDir,
    RunEnd,
    RunFold,
    RunStatus,
    StatusRecord,
    UnknownEvent,
    final_status,
    parse_event,
    read_status,
    update_status,
)
from xcost_tui.rundir.events import EVENT_TYPES
from xcost_tui.runner.live import LiveRun, RunTracker


def test_tail_consumes_only_complete_lines(tmp_path):
    path = tmp_path / "events.jsonl"
    tail = JsonlReader(path)
    assert tail.read() == []
    with open(path, "w") as fh:
        fh.write('{"a": 1}\n{"b": ')
        fh.flush()
        assert tail.read() == [{"a": 1}]
        assert tail.read() == []
        fh.write('2}\nnot json\n{"c": 3}\n')
        fh.flush()
    assert tail.read() == [{"b": 2}, {"c": 3}]
    assert tail.malformed == [3]


def test_reader_starts_over_when_the_file_is_replaced(tmp_path):
    path = tmp_path / "e.jsonl"
    path.write_text('{"a": 1}\n{"a": 2}\n')
    tail = JsonlReader(path)
    assert len(tail.read()) == 2
    path.unlink()
    path.write_text('{"b": 1}\n')
    assert tail.read() == [{"b": 1}]


def test_a_finished_file_reads_its_last_line_and_names_a_cut_one(tmp_path):
    path = tmp_path / "e.jsonl"
    path.write_text('{"a": 1}\n{"a": 2}')  # a complete last line without its newline
    assert [x.obj for x in JsonlReader(path).read_all_lines(final=True)] == [{"a": 1}, {"a": 2}]
    path.write_text('{"a": 1}\n{"a": ')
    reader = JsonlReader(path)
    assert [x.obj for x in reader.read_all_lines(final=True)] == [{"a": 1}]
    (warning,) = reader.problems(still_running=False)
    assert "skipped 1 malformed line" in warning and "half-written" in warning and "crash" in warning


@pytest.mark.parametrize(
    "event",
    [
        PhaseStart("target:copa", "target", 10, t=1.5),
        Progress(
            "target:copa",
            3,
            10,
            epoch=0.3,
            loss=0.7,
            lr=1e-5,
            examples_per_s=10.0,
            tokens_per_s=100.0,
            mem_bytes=5,
            peak_mem_bytes=6,
            mem_source="procfs",
            t=2.0,
        ),
        PhaseEnd(
            "intermediate:siqa",
            "intermediate",
            ["siqa"],
            None,
            ReusedFrom("a", "/x", "intermediate:siqa"),
            {"wall_s": Cost.measured(1.0, "s", "wall_clock"), "energy_j": Cost.missing("J", "no counter")},
            {"steps": 3},
            t=3.0,
        ),
        RunEnd("failed", "boom", "target:copa", "Traceback ...", t=4.0),
    ],
)
def test_events_round_trip_through_json(event):
    line = json.loads(json.dumps(event.to_dict()))
    assert parse_event(line) == event


def test_every_event_type_is_known_to_the_parser():
    for tag, cls in EVENT_TYPES.items():
        assert cls.TYPE == tag
        fields = {f.name for f in dataclasses.fields(cls)}
        # a line with only the tag parses into the record with empty values, never raises
        assert isinstance(parse_event({"type": tag}), cls), fields


def test_wrong_field_types_become_empty_values_not_errors():
    ev = parse_event(
        {
            "type": "phase_end",
            "phase": "eval:it",
            "kind": "eval",
            "tasks": "xcopa",
            "lang": 3,
            "costs": {"wall_s": "fast", "steps": {"value": True}},
            "info": [1],
        }
    )
    assert isinstance(ev, PhaseEnd)
    assert ev.tasks == ["xcopa"] and ev.lang == "3" and ev.info == {}
    assert ev.costs["wall_s"].value is None and ev.costs["wall_s"].reason
    assert ev.costs["steps"].value is None
    assert isinstance(parse_event({"type": "from_the_future", "x": 1}), UnknownEvent)
    assert parse_event({"no": "type"}) is None


def test_status_record_round_trip_and_bad_files(tmp_path):
    ref = ProcessRef(123, 1.7e9, "node1")
    rec = update_status(tmp_path, RunStatus.RUNNING, job=ref, started=5.0, gpu="0")
    assert read_status(tmp_path) == rec
    assert rec.to_dict()["pid"] == 123 and rec.to_dict()["pid_host"] == "node1"
    (tmp_path / "status.json").write_text("[1, 2]")
    with pytest.raises(RunDirError, match="expected a JSON object"):
        read_status(tmp_path)
    (tmp_path / "status.json").write_text('"running"')
    with pytest.raises(RunDirError):
        read_status(tmp_path)
    (tmp_path / "status.json").write_text('{"status": "exploded"}')
    with pytest.raises(RunDirError, match="unknown status"):
        read_status(tmp_path)
    # a writer replaces a bad file rather than failing on it
    assert update_status(tmp_path, RunStatus.FAILED, error="x").status == RunStatus.FAILED


def test_final_status_rule():
    running = StatusRecord(RunStatus.RUNNING)
    assert final_status(running, "succeeded", True) == RunStatus.SUCCEEDED  # run_end wins
    assert final_status(running, None, True) == RunStatus.RUNNING
    assert final_status(None, None, True) == RunStatus.RUNNING
    assert final_status(None, None, False) == RunStatus.UNKNOWN


def test_event_writer_stamps_time(tmp_path):
    with EventWriter(tmp_path / "e.jsonl") as w:
        ev = w.emit(PhaseStart("p", "eval"))
    assert ev.t > 1.7e9
    (line,) = JsonlReader(tmp_path / "e.jsonl").read()
    assert line["t"] == ev.t and line["type"] == "phase_start"


def _live_fold(run_dir: Path) -> LiveRun:
    """The live path: a tracker reading the events in two halves, as a tail of a growing file would."""
    events = run_dir / "events.jsonl"
    lines = events.read_text().splitlines(keepends=True)
    full = events.read_text()
    events.write_text("".join(lines[: len(lines) // 2]))
    tracker = RunTracker(LiveRun.from_run_dir(run_dir))
    tracker.poll()
    events.write_text(full)
    tracker.poll()
    return tracker.live


@pytest.mark.parametrize("kind", ["direct", "producer", "reuser", "fewshot", "failed", "running"])
def test_live_view_and_ingest_agree(tmp_path, kind):
    """The same event stream through the live tracker and through ingest gives the same meaning."""
    from xcost_tui.store.ingest import stage_run

    runs = make_standard_store(tmp_path)
    run_dir = runs[kind]
    staged = stage_run(run_dir)
    live = _live_fold(run_dir)
    phases = staged.tables["phases"].to_pylist()
    evals = staged.tables["evals"].to_pylist()
    assert live.phases_done == sum(1 for p in phases if p["completed"])
    assert live.accuracy == {e["lang"]: e["accuracy"] for e in evals}
    assert live.avg_accuracy == staged.avg_accuracy
    assert live.phases_started == [
        p["phase"] for p in sorted(phases, key=lambda p: p["ordinal"]) if p["t_start"] is not None
    ]
    run_row = staged.tables["runs"].to_pylist()[0]
    assert live.phases_planned == len(run_row["phases_planned"])
    if staged.status == "running":
        assert live.phase == run_row["current_phase"]
    else:
        assert live.phase is None


def test_fold_gives_an_eta_for_every_running_phase(tmp_path):
    fold = RunFold()
    fold.apply(PhaseStart("target:copa", "target", 100, t=10.0))
    fold.apply(Progress("target:copa", 10, 100, t=20.0))
    fold.apply(Progress("target:copa", 20, 100, t=30.0))
    assert fold.state.eta_s() == pytest.approx(80.0)  # 80 steps at one step per second
    fold.apply(PhaseEnd("target:copa", "target", t=31.0))
    assert fold.state.eta_s() is None and fold.state.current_phase is None


def test_run_dir_paths(tmp_path):
    d = RunDir(tmp_path / "runs" / "abc")
    assert d.run_id == "abc"
    assert d.intermediate_checkpoint == tmp_path / "runs" / "abc" / "checkpoints" / "intermediate"
    assert not d.exists()
    make_run_dir(tmp_path, run_id="abc")
    assert d.exists() and d.read_spec()["method"] == "direct"


def test_a_collapse_check_round_trips_and_the_fold_keeps_the_last_verdict():
    from xcost_tui.rundir.events import CollapseCheck

    first = CollapseCheck(
        "target:copa",
        "eval:en",
        1,
        0,
        True,
        0.5,
        100,
        50,
        1.0,
        0,
        0.6,
        0.05,
        0.9,
        ["accuracy 50/100 is within chance"],
        True,
        t=1.0,
    )
    second = CollapseCheck(
        "target:copa#2", "eval:en#2", 2, 77, False, 0.7, 100, 70, 1e-4, 1, 0.52, 0.05, 0.9, [], False, t=2.0
    )
    for event in (first, second):
        assert parse_event(json.loads(json.dumps(event.to_dict()))) == event
    assert parse_event({"type": "collapse_check", "collapsed": "yes"}).collapsed is None  # tolerant
    fold = RunFold()
    assert fold.state.collapsed is None and fold.state.target_attempts == 0
    fold.apply_all(
        [
            PhaseStart("target:copa", "target"),
            PhaseEnd("target:copa", "target"),
            first,
            PhaseStart("target:copa#2", "target"),
            PhaseEnd("target:copa#2", "target"),
            second,
        ]
    )
    assert fold.state.collapsed is False and fold.state.target_attempts == 2
    assert [c.attempt for c in fold.state.collapse_checks] == [1, 2]
