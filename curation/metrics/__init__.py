"""Per-window scores, one module per metric, looked up by name.

A metric scores the windows of a batch of decoded videos. Its function receives a list of
`VideoWindows` (one decoded video with its windows) plus the metric's options from the config
(`metric_options: {name: {...}}`), and returns, per video, `{column: values}` with one value per
window for each column it declares. Getting the whole batch lets a metric share work across
overlapping windows (pixel differences) or batch windows across videos (neural models, which
keep their loaded weights in a per-process cache).

The metric named `x` lives in `curation/metrics/x.py` and registers itself with `@register`
(function of one video) or `@register_batched` (function of the list); `get_metric("x")`
imports that module on first use, so adding a metric is one new file plus its name in the
config's `metrics:` list.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from curation.media import DecodedMedia
from curation.windows import Window

Scores = dict[str, np.ndarray]


@dataclass(frozen=True)
class VideoWindows:
    """A decoded video, its windows and its label (text-aware metrics need the label)."""

    media: DecodedMedia
    windows: Sequence[Window]
    label: str = ""


BatchedMetricFn = Callable[..., list[Scores]]


@dataclass(frozen=True)
class Metric:
    name: str
    columns: tuple[str, ...]
    fn: BatchedMetricFn  # (videos: Sequence[VideoWindows], **options) -> one Scores per video
    options: tuple[str, ...] | None = None  # keyword options it accepts; None: any (**kwargs)


_REGISTRY: dict[str, Metric] = {}


def _option_names(fn: Callable[..., Any], n_data_args: int) -> tuple[str, ...] | None:
    """Names of `fn`'s keyword options after its `n_data_args` data arguments; None for **kwargs."""
    params = list(inspect.signature(fn).parameters.values())[n_data_args:]
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return None
    return tuple(p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))


def register_batched(name: str, columns: Sequence[str]) -> Callable[[BatchedMetricFn], BatchedMetricFn]:
    """Decorator: make `fn(videos, **options) -> list[Scores]` the metric `name`."""

    def decorate(fn: BatchedMetricFn) -> BatchedMetricFn:
        _REGISTRY[name] = Metric(name, tuple(columns), fn, _option_names(fn, 1))
        return fn

    return decorate


def register(name: str, columns: Sequence[str]) -> Callable[[Callable[..., Scores]], Callable[..., Scores]]:
    """Decorator: make `fn(media, windows, **options) -> Scores` (one video) the metric `name`."""

    def decorate(fn: Callable[..., Scores]) -> Callable[..., Scores]:
        def over_batch(videos: Sequence[VideoWindows], **options: Any) -> list[Scores]:
            return [fn(video.media, video.windows, **options) for video in videos]

        _REGISTRY[name] = Metric(name, tuple(columns), over_batch, _option_names(fn, 2))
        return fn

    return decorate


def metric_names() -> list[str]:
    """Every metric defined under curation/metrics/ (imports each module once)."""
    for module in pkgutil.iter_modules(__path__):
        if module.name not in _REGISTRY:
            importlib.import_module(f"{__name__}.{module.name}")
    return sorted(_REGISTRY)


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


def compute_metrics(
    names: Sequence[str],
    videos: Sequence[VideoWindows],
    options: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[Scores]:
    """All columns of the named metrics for each video: arrays with one value per window."""
    options = options or {}
    results: list[Scores] = [{} for _ in videos]
    if not videos:
        return results
    for name in names:
        metric = get_metric(name)
        per_video = metric.fn(videos, **dict(options.get(name, {})))
        if len(per_video) != len(videos):
            raise ValueError(f"metric {name!r} returned {len(per_video)} results for {len(videos)} videos")
        for video, scores, out in zip(videos, per_video, results):
            for column in metric.columns:
                array = np.asarray(scores[column], dtype=np.float64)
                if array.shape != (len(video.windows),):
                    raise ValueError(f"metric {name!r} column {column!r}: shape {array.shape}, "
                                     f"expected ({len(video.windows)},)")
                out[column] = array
    return results
