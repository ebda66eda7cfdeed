"""Which configurations a report covers: a plan's, those of the runs a ``--where`` condition
picks, or every one in the store; and which configuration ``--baseline`` names."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..configuration import label
from ..errors import XcostError
from ..plan import load_plan
from ..store.db import connect_ro
from ..store.query import Cancel, QueryCancelled, SqlError, runs_where
from ..suggest import did_you_mean


class ReportError(XcostError):
    """A report that cannot be made: an empty selection, a bad ``--where``, an unwritable ``--out``."""


@dataclass
class Selection:
    how: str  # said in the report: "plan demo (demo.toml)", "runs where method = 'direct'", ...
    config_ids: set[str] | None  # None: every configuration in the store
    labels: dict[str, str] = field(default_factory=dict)  # config id -> label, for those the plan names
    plan_name: str | None = None
    # how a command line names the plan: a built-in plan's name, else the plan file's path as given
    # (a plan file's [plan] name is no built-in plan: `xcost-tui --headless <name>` would not find it)
    plan_arg: str | None = None
    where: str | None = None


def from_plan(plan_arg: str) -> Selection:
    plan = load_plan(plan_arg)
    ids = {s.configuration_id(): label(s.to_dict()) for s in plan.runs}
    return Selection(
        f"plan {plan.name} ({plan.label}): {len(plan.runs)} runs, {len(ids)} configurations",
        set(ids),
        ids,
        plan_name=plan.name,
        plan_arg=plan.name if plan.builtin else plan_arg,
    )


def from_where(store: Path, where: str, *, cancel: Cancel | None = None) -> Selection:
    """The configurations of the runs (table ``runs``, any status) that satisfy ``where``
    (``store.query.runs_where``: a person's SQL, interrupted by ``cancel`` with QueryCancelled)."""
    try:
        config_ids = runs_where(store, where, "config_id", cancel=cancel)
    except QueryCancelled:
        raise
    except SqlError as exc:
        raise ReportError(str(exc)) from None
    return Selection(f"the runs where {where}", set(config_ids), where=where)


def everything() -> Selection:
    return Selection("every configuration in the store", None)


def resolve_baseline(store: Path, given: str) -> str:
    """A configuration id from an id, a unique prefix of one, a configuration's exact label, or a
    unique start of a label."""
    with connect_ro(store) as con:
        rows = [
            (str(a), str(b or "")) for a, b in con.execute("SELECT config_id, label FROM configurations").fetchall()
        ]
    ids = [cid for cid, _ in rows]
    if given in ids:
        return given
    by_label = [cid for cid, lab in rows if lab == given]
    prefixed = [cid for cid in ids if cid.startswith(given)]
    label_prefixed = [cid for cid, lab in rows if lab.startswith(given)]
    for found in (by_label, prefixed, label_prefixed):
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            raise ReportError(
                f"--baseline {given!r} names {len(found)} configurations ({', '.join(sorted(found)[:5])}"
                f"{', ...' if len(found) > 5 else ''}): give the whole configuration id"
            )
    hint = did_you_mean(given, [*ids, *(lab for _, lab in rows)])
    raise ReportError(
        f"--baseline {given!r}: no configuration with a succeeded run has that id or label{hint}; "
        f'`xcost-tui sql "SELECT config_id, label FROM configurations"` lists them'
    )
