"""Threshold filters over the windows table: pass/fail per window, with every reason recorded.

Quantile bounds are resolved against the values of the whole run (all scored windows), so
they are applied once all videos are scored, not per video.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from curation.config import FilterRule


@dataclass(frozen=True)
class ResolvedBound:
    metric: str
    side: str  # "min" or "max"
    value: float
    source: str  # "absolute" or "quantile q"
    reason: str


def resolve_bounds(rules: Sequence[FilterRule], windows: pd.DataFrame) -> list[ResolvedBound]:
    """Absolute bounds as given; quantile bounds as the quantile of the metric over `windows`."""
    bounds: list[ResolvedBound] = []
    for rule in rules:
        if rule.metric not in windows.columns:
            raise KeyError(
                f"filter on {rule.metric!r}, but no metric produced that column; "
                f"scored columns: {sorted(c for c in windows.columns if windows[c].dtype.kind == 'f')}"
            )
        values = windows[rule.metric].to_numpy(dtype=np.float64)
        values = values[np.isfinite(values)]
        for side, absolute, quantile, reason in (
            ("min", rule.min, rule.min_quantile, rule.low_reason),
            ("max", rule.max, rule.max_quantile, rule.high_reason),
        ):
            if absolute is not None:
                bounds.append(ResolvedBound(rule.metric, side, float(absolute), "absolute", reason))
            elif quantile is not None:
                value = float(np.quantile(values, quantile)) if len(values) else float("nan")
                bounds.append(ResolvedBound(rule.metric, side, value, f"quantile {quantile:g}", reason))
    return bounds


def apply_filters(windows: pd.DataFrame, rules: Sequence[FilterRule]) -> tuple[pd.DataFrame, list[ResolvedBound]]:
    """Return a copy of `windows` with `passed` (bool) and `reasons` (';'-joined, empty if passed).

    A window fails a bound if its value is beyond it, or if the value is missing (NaN), in
    which case the reason is `<metric>_missing`.
    """
    bounds = resolve_bounds(rules, windows)
    reasons = [[] for _ in range(len(windows))]
    for bound in bounds:
        values = windows[bound.metric].to_numpy(dtype=np.float64)
        if bound.side == "min":
            failed = values < bound.value
        else:
            failed = values > bound.value
        missing = ~np.isfinite(values)
        for row in np.flatnonzero(failed | missing):
            reason = f"{bound.metric}_missing" if missing[row] else bound.reason
            if reason not in reasons[row]:
                reasons[row].append(reason)
    out = windows.copy()
    out["passed"] = [not r for r in reasons]
    out["reasons"] = [";".join(r) for r in reasons]
    return out, bounds
