"""The data pre-flight: load every split a plan needs once, before any run starts.

Two halves in one module:

- ``run_preflight(specs, out)`` (the supervisor: ``xcost-tui --headless`` before the first run,
  ``xcost-tui plan check --data``, both through ``data_check``) computes the needs (``needs.py``), starts
  ``python -m xcost_tui.tasks.preflight`` and reads its JSON lines. It imports nothing heavy: the
  supervisor never imports torch, transformers or datasets (.importlinter).
- ``main()`` (that subprocess) probes the hub once, loads each split with ``load_split`` (the
  job's own loader) and reports each result as one line ``XCOST-PREFLIGHT {json}``.

Bounded: when the hub cannot be reached (probed once, ``$XCOST_HUB_TIMEOUT_S``, default 10 s),
every hub load runs in offline mode, so a data set already in the local datasets cache still
loads and every other one fails at once, instead of datasets' ~23 s of retries per data set (measured here). The
whole pre-flight stops after ``$XCOST_PREFLIGHT_TIMEOUT_S`` (default 1800 s: a first download of
MNLI and QQP takes minutes).
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, TextIO

from ..errors import XcostError
from ..worker_pipe import WorkerPipe, WorkerTimeout
from .loading import HUB_MIRROR_ENV, load_split
from .needs import DataNeed, plan_needs, split_problem
from .registry import REGISTRY, get_task

MARK = "XCOST-PREFLIGHT "
HUB_TIMEOUT_ENV = "XCOST_HUB_TIMEOUT_S"
PREFLIGHT_TIMEOUT_ENV = "XCOST_PREFLIGHT_TIMEOUT_S"
DEFAULT_HUB_TIMEOUT_S = 10.0
DEFAULT_PREFLIGHT_TIMEOUT_S = 1800.0


def _seconds(env: str, default: float) -> float:
    try:
        value = float(os.environ.get(env, "") or default)
    except ValueError:
        return default
    return value if value > 0 else default


# ==== the subprocess ===========================================================================


def probe_hub(timeout_s: float) -> tuple[bool, str, str | None]:
    """(reachable, endpoint, why not): one HTTP request to the hub's endpoint, no retries. Any
    HTTP answer, even an error status, means the hub is reachable."""
    import urllib.error
    import urllib.request

    endpoint = (os.environ.get("HF_ENDPOINT") or "https://huggingface.co").rstrip("/")
    try:
        urllib.request.urlopen(
            urllib.request.Request(endpoint + "/api/datasets?limit=1", method="HEAD"), timeout=timeout_s
        ).close()
    except urllib.error.HTTPError:
        return True, endpoint, None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        return False, endpoint, f"{type(exc).__name__}: {reason}"
    return True, endpoint, None


def _emit(obj: dict[str, Any]) -> None:
    sys.stdout.write(MARK + json.dumps(obj) + "\n")
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> int:
    """``python -m xcost_tui.tasks.preflight``: reads {"needs": [...]} on stdin, writes JSON lines."""
    try:
        request = json.loads(sys.stdin.read() or "{}")
        needs = [DataNeed.from_dict(d) for d in request.get("needs", [])]
    except (ValueError, KeyError, TypeError) as exc:
        _emit({"event": "done", "error": f"bad request: {exc}"})
        return 2
    os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    hub: dict[str, Any] = {"event": "hub", "needed": any(n.data_dir is None for n in needs)}
    if hub["needed"]:
        if os.environ.get(HUB_MIRROR_ENV):
            hub.update(reachable=True, mirror=os.environ[HUB_MIRROR_ENV])
        elif (os.environ.get("HF_HUB_OFFLINE") or "").upper() in ("1", "TRUE", "YES", "ON"):
            hub.update(reachable=False, offline=True, error="offline mode (HF_HUB_OFFLINE is set)")
        else:
            t0, limit = time.monotonic(), _seconds(HUB_TIMEOUT_ENV, DEFAULT_HUB_TIMEOUT_S)
            ok, endpoint, error = probe_hub(limit)
            hub.update(
                reachable=ok, endpoint=endpoint, error=error, timeout_s=limit, seconds=round(time.monotonic() - t0, 3)
            )
            if not ok:  # before datasets is imported: it reads these once
                os.environ["HF_HUB_OFFLINE"] = "1"
                os.environ["HF_DATASETS_OFFLINE"] = "1"
    _emit(hub)

    for need in needs:
        _emit({"event": "start", "need": need.to_dict()})
        t0 = time.monotonic()
        notes: list[str] = []
        try:
            loaded = load_split(
                need.task,
                need.split,
                data_dir=need.data_dir,
                lang=need.lang,
                role=need.role,
                xcopa_question=need.xcopa_question or "copa",
                log=notes.append,
            )
        except XcostError as exc:
            _emit({"event": "failed", "need": need.to_dict(), "error": str(exc), "seconds": time.monotonic() - t0})
            continue
        except Exception as exc:  # noqa: BLE001 - one broken data set never hides the others
            _emit(
                {
                    "event": "failed",
                    "need": need.to_dict(),
                    "error": f"{type(exc).__name__}: {exc}",
                    "seconds": time.monotonic() - t0,
                }
            )
            continue
        _emit(
            {
                "event": "loaded",
                "need": need.to_dict(),
                "rows": len(loaded.examples),
                "sources": [s.to_dict() for s in loaded.sources],
                "notes": notes,
                "seconds": round(time.monotonic() - t0, 3),
                # the rule the job keeps before training (tasks/needs.py): an empty split is refused here
                "problem": split_problem(need, loaded.examples, loaded.source),
            }
        )
    _emit({"event": "done"})
    return 0


# ==== the supervisor's side =====================================================================


@dataclass
class Failure:
    need: DataNeed
    error: str


@dataclass
class PreflightResult:
    needs: int = 0
    loaded: list[dict[str, Any]] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    # splits that loaded but that no run can use (``needs.split_problem``: no rows, unlabelled training rows)
    unusable: list[Failure] = field(default_factory=list)
    hub: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    aborted: str | None = None  # why the pre-flight stopped early (timeout, a broken subprocess)

    @property
    def ok(self) -> bool:
        return not self.failures and not self.unusable and self.aborted is None

    @property
    def hub_unreachable(self) -> bool:
        return self.hub.get("reachable") is False

    def missing_datasets(self) -> list[str]:
        """ONE message per data set that could not be loaded (all its splits and configs in it)."""
        groups: dict[tuple[str, str | None], list[Failure]] = {}
        for f in self.failures:
            groups.setdefault((f.need.task, f.need.data_dir), []).append(f)
        out = []
        for (task, data_dir), fails in groups.items():
            t = get_task(task)
            splits = list(dict.fromkeys(f.need.split for f in fails))
            configs = [c for c in dict.fromkeys(t.hub_config(f.need.lang) for f in fails) if c]
            where = data_dir or (
                t.hub_id + (f", config{'s' if len(configs) > 1 else ''} {', '.join(configs)}" if configs else "")
            )
            what = f"{where}; split{'s' if len(splits) > 1 else ''} {', '.join(splits)}"
            out.append(f"{task} ({what}): {_reason(task, fails[0].error, self.hub, data_dir is None)}")
        return out

    def unreachable_hub_reason(self) -> str | None:
        """The one reason every hub data set failed, when the hub could not be reached."""
        if not self.hub_unreachable:
            return None
        if self.hub.get("offline"):
            return "offline mode (HF_HUB_OFFLINE is set), and these data sets are not in the local datasets cache"
        limit = self.hub.get("timeout_s", DEFAULT_HUB_TIMEOUT_S)
        return (
            f"the Hugging Face hub ({self.hub.get('endpoint') or 'https://huggingface.co'}) cannot be reached from "
            f"here (one request, at most {limit:g} s by ${HUB_TIMEOUT_ENV}: {self.hub.get('error') or 'no answer'}), "
            f"and these data sets are not in the local datasets cache"
        )


def _unreachable(error: str) -> bool:
    low = error.lower()
    return "offline" in low or "reach" in low


def _reason(task: str, error: str, hub: dict[str, Any], from_hub: bool) -> str:
    """Why a data set did not load. When the hub could not be reached, that reason is said once in
    the header (``report_failures``); here only what to do about this data set."""
    if not (from_hub and hub.get("reachable") is False and _unreachable(error)):
        return error
    t = get_task(task)
    if t.has_offline_copy:
        return "it has a local copy: pass --data-dir DIR (or set XCOST_DATA_DIR)"
    offline = ", ".join(n for n, d in REGISTRY.items() if d.has_offline_copy)
    return (
        f"no local copy exists (--data-dir reads {offline} only): run where the hub can be reached, "
        f"or load it there once to fill the datasets cache"
    )


def describe_loaded(event: dict[str, Any]) -> str:
    """One line per loaded split: its row count and where it came from."""
    need = DataNeed.from_dict(event["need"])
    src = (event.get("sources") or [{}])[0]
    if src.get("source") == "local":
        where = f"local {src.get('path')}"
    else:
        rev = src.get("resolved_revision") or src.get("revision") or "main"
        where = f"{'hub mirror' if src.get('source') == 'hub-mirror' else 'hub'} {src.get('repo')}"
        where += f" ({src['config']})" if src.get("config") else ""
        where += f" @ {rev[:12] if len(rev) == 40 else rev}"
        if src.get("fallback"):
            where += " - the repository holds only a loading script; read its Parquet export instead"
    extra = ""
    if src.get("questions_corrected"):
        extra = f"; {src['questions_corrected']} cause/effect questions taken from English COPA"
    return f"  {need.label()}: {event.get('rows', 0):,} rows ({where}{extra})"


def run_preflight(
    specs: Iterable[Any], out: TextIO, *, timeout_s: float | None = None, python: str | None = None
) -> PreflightResult:
    """Loads every split ``specs`` need once, in a subprocess; prints a line per split to ``out``
    as it loads, and returns what loaded and what did not (the caller prints the failures)."""
    specs = list(specs)
    needs = plan_needs(specs)
    result = PreflightResult(needs=len(needs))
    timeout_s = timeout_s or _seconds(PREFLIGHT_TIMEOUT_ENV, DEFAULT_PREFLIGHT_TIMEOUT_S)
    print(f"data pre-flight: {len(needs)} splits for {len(specs)} runs, each loaded once", file=out, flush=True)
    if not needs:
        return result
    t0 = time.monotonic()
    pipe = WorkerPipe("xcost_tui.tasks.preflight", [], {"needs": [n.to_dict() for n, _ in needs]}, MARK, python)
    current: DataNeed | None = None
    done: set[tuple] = set()
    finished = False
    try:
        for event in pipe.events(timeout_s, t0):
            kind = event.get("event")
            if kind == "hub":
                result.hub = event
                if event.get("needed"):
                    print(_hub_line(event), file=out, flush=True)
            elif kind == "start":
                current = DataNeed.from_dict(event["need"])
            elif kind == "loaded":
                done.add(DataNeed.from_dict(event["need"]).key)
                result.loaded.append(event)
                for note in event.get("notes") or []:
                    print(f"  note: {note}", file=out, flush=True)
                print(describe_loaded(event), file=out, flush=True)
                if event.get("problem"):
                    result.unusable.append(Failure(DataNeed.from_dict(event["need"]), str(event["problem"])))
            elif kind == "failed":
                need = DataNeed.from_dict(event["need"])
                done.add(need.key)
                result.failures.append(Failure(need, str(event.get("error"))))
                if not result.hub_unreachable:  # else every hub split fails at once: said once at the end
                    print(f"  {need.label()}: could not be loaded", file=out, flush=True)
            elif kind == "done":
                finished = True
                if event.get("error"):
                    result.aborted = str(event["error"])
    except WorkerTimeout:
        result.aborted = (
            f"the data pre-flight ran longer than {timeout_s:g} s"
            + (f" (while loading {current.label()})" if current else "")
            + f"; ${PREFLIGHT_TIMEOUT_ENV} sets another limit"
        )
    except KeyboardInterrupt:
        pipe.kill()
        raise
    if not finished and result.aborted is None:
        result.aborted = pipe.stopped_message("the data pre-flight process", 5)
    pipe.kill()
    if result.aborted is not None:
        for need, _ in needs:
            if need.key not in done:
                result.failures.append(Failure(need, result.aborted))
    result.seconds = time.monotonic() - t0
    return result


def _hub_line(hub: dict[str, Any]) -> str:
    if hub.get("mirror"):
        return f"  hub: the local stand-in $XCOST_HUB_MIRROR={hub['mirror']}"
    if hub.get("reachable"):
        return f"  hub: {hub.get('endpoint')} reachable"
    return (
        f"  hub: {hub.get('endpoint') or 'the Hugging Face hub'} not reachable ({hub.get('error')}); "
        f"only data sets in the local datasets cache can load"
    )


def report_failures(result: PreflightResult, out: TextIO) -> None:
    """The error block: one message per data set that could not be loaded, one per split that
    loaded but cannot be used."""
    if result.aborted:
        print(f"error: {result.aborted}", file=out, flush=True)
    if result.unusable:
        n = len(result.unusable)
        print(f"error: {n} split{'s' if n != 1 else ''} of this plan cannot be used:", file=out, flush=True)
        for failure in result.unusable:
            print(f"  - {failure.error}", file=out, flush=True)
    msgs = result.missing_datasets()
    if not msgs:
        return
    head = f"error: {len(msgs)} data set{'s' if len(msgs) != 1 else ''} of this plan could not be loaded"
    common = result.unreachable_hub_reason()
    print(head + (f": {common}:" if common else ":"), file=out, flush=True)
    for msg in msgs:
        print(f"  - {msg}", file=out, flush=True)


def data_check(specs: Iterable[Any], out: TextIO | None = None) -> int:
    """The data pre-flight over ``specs`` as ``xcost-tui --headless`` and ``plan check --data`` say
    it: row counts on ``out`` (stdout), one message per data set that cannot be loaded (and per
    split that loaded empty) on stderr; 0 when everything loaded, else 2 (the exit code)."""
    out = out if out is not None else sys.stdout
    result = run_preflight(specs, out)
    if result.ok:
        print(f"data: all {result.needs} splits loaded ({result.seconds:.1f} s)", file=out, flush=True)
        return 0
    out.flush()
    report_failures(result, sys.stderr)
    return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
