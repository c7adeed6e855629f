"""Median and spread of a handful of launches (``--repeat N``)."""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Stats:
    n: int
    median: float
    low: float
    high: float

    @property
    def spread(self) -> float:
        return self.high - self.low

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["spread"] = self.spread
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Stats:
        """The inverse of ``to_dict`` (``spread`` is derived, so it is not read)."""
        return cls(int(data["n"]), float(data["median"]), float(data["low"]),
                   float(data["high"]))


def summarize(values: list[float | None]) -> Stats | None:
    """Stats of the values that exist; None when there are none."""
    present = [float(v) for v in values if v is not None]
    if not present:
        return None
    return Stats(len(present), statistics.median(present), min(present), max(present))
