"""A cost figure: a value with its unit and how it was obtained, or null with the reason."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Cost:
    value: float | int | None
    unit: str
    source: str | None
    reason: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def measured(cls, value: float | int, unit: str, source: str, **extra: Any) -> "Cost":
        return cls(value, unit, source, None, extra)

    @classmethod
    def missing(cls, unit: str, reason: str, source: str | None = None, **extra: Any) -> "Cost":
        return cls(None, unit, source, reason, extra)

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "unit": self.unit, "source": self.source, "reason": self.reason, **self.extra}
