"""A cost figure: a value with its unit and how it was obtained, or null with the reason.

The invariant of the run-directory contract (the ``costs`` of a ``PhaseEnd`` event): ``value`` is null exactly
when the figure could not be measured, and then ``reason`` says why. A NaN or infinite value is
not a measurement either; it becomes null with a reason rather than an invalid JSON number.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

_RESERVED = {"value", "unit", "source", "reason"}


@dataclass
class Cost:
    value: float | int | None
    unit: str
    source: str | None
    reason: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        clash = _RESERVED & set(self.extra)
        if clash:
            raise ValueError(f"extra keys {sorted(clash)} would overwrite the figure's own fields")
        if isinstance(self.value, bool):  # a flag is not a number of anything
            self.value = int(self.value)
        if isinstance(self.value, float) and not math.isfinite(self.value):
            self.reason = self.reason or f"not a finite number ({self.value})"
            self.value = None
        if self.value is None and not self.reason:
            self.reason = "not measured (no value was produced)"

    @classmethod
    def measured(cls, value: float | int, unit: str, source: str, **extra: Any) -> Cost:
        return cls(value, unit, source, None, extra)

    @classmethod
    def missing(cls, unit: str, reason: str, source: str | None = None, **extra: Any) -> Cost:
        return cls(None, unit, source, reason, extra)

    @property
    def ok(self) -> bool:
        return self.value is not None

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "unit": self.unit, "source": self.source, "reason": self.reason, **self.extra}

    @classmethod
    def from_dict(cls, data: Any) -> Cost:
        """A figure as read back from events.jsonl; anything that is not a figure's object is
        a missing figure with the reason, never an exception (old or damaged runs)."""
        if not isinstance(data, dict):
            return cls.missing("", f"not a cost figure: {data!r}")
        value = data.get("value")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            value = None
        extra = {k: v for k, v in data.items() if k not in _RESERVED}
        unit = data.get("unit")
        source = data.get("source")
        reason = data.get("reason")
        return cls(
            value,
            str(unit) if unit is not None else "",
            str(source) if source is not None else None,
            str(reason) if reason is not None else None,
            extra,
        )
