"""Per-window scores, one module per metric, looked up by name.

A metric is a function `(media, windows) -> {column: values}` that returns one value per window
for each column it declares. It receives the whole decoded video and all its windows at once so
it can share work across overlapping windows (pixel differences) or batch them (neural models).

The metric named `x` lives in `curation/metrics/x.py` and registers itself with `@register`;
`get_metric("x")` imports that module on first use, so adding a metric is one new file plus
its name in the config's `metrics:` list.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from curation.media import DecodedMedia
from curation.windows import Window

MetricFn = Callable[[DecodedMedia, Sequence[Window]], dict[str, np.ndarray]]


@dataclass(frozen=True)
class Metric:
    name: str
    columns: tuple[str, ...]
    fn: MetricFn


_REGISTRY: dict[str, Metric] = {}


def register(name: str, columns: Sequence[str]) -> Callable[[MetricFn], MetricFn]:
    """Decorator: make `fn` the metric `name`, producing `columns`."""

    def decorate(fn: MetricFn) -> MetricFn:
        _REGISTRY[name] = Metric(name, tuple(columns), fn)
        return fn

    return decorate


def get_metric(name: str) -> Metric:
    if name not in _REGISTRY:
        if not name.isidentifier():
            raise KeyError(f"unknown metric {name!r}")
        try:
            importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
            raise KeyError(f"unknown metric {name!r}: no module curation/metrics/{name}.py") from exc
        if name not in _REGISTRY:
            raise KeyError(f"curation/metrics/{name}.py does not register a metric named {name!r}")
    return _REGISTRY[name]


def compute_metrics(names: Sequence[str], media: DecodedMedia, windows: Sequence[Window]) -> dict[str, np.ndarray]:
    """All columns of the named metrics, each an array with one value per window."""
    columns: dict[str, np.ndarray] = {}
    for name in names:
        metric = get_metric(name)
        values = metric.fn(media, windows)
        for column in metric.columns:
            array = np.asarray(values[column], dtype=np.float64)
            if array.shape != (len(windows),):
                raise ValueError(f"metric {name!r} column {column!r}: shape {array.shape}, expected ({len(windows)},)")
            columns[column] = array
    return columns
