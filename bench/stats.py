"""Summaries of latency samples: median and p99 (nearest rank), in milliseconds."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class LatencySummary:
    count: int
    median_ms: float
    p99_ms: float

    def as_dict(self) -> dict[str, Any]:
        return {"count": self.count, "median_ms": round(self.median_ms, 3), "p99_ms": round(self.p99_ms, 3)}


def summarize(seconds: list[float]) -> LatencySummary:
    if not seconds:
        return LatencySummary(0, math.nan, math.nan)
    ordered = sorted(seconds)
    p99 = ordered[max(0, math.ceil(0.99 * len(ordered)) - 1)]
    return LatencySummary(len(ordered), statistics.median(ordered) * 1000, p99 * 1000)
