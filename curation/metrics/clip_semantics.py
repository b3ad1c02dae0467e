"""Image semantics difference per window (paper §3.1): distances between CLIP image features of
the window's frames. Complements the raw pixel difference: a zoom or pan changes many pixels but
little meaning (low values), a cut-away or content transition changes meaning (high values).

Config (`metric_options: {clip_semantics: {...}}`):
    model:       open_clip model name (default ViT-L-14: OpenAI's CLIP, the one SD-1.5 uses)
    pretrained:  open_clip weights tag (default openai); sets QuickGELU, normalisation and the
                 hub file looked up when `checkpoint` is not given
    checkpoint:  local weight file, or a folder holding open_clip_model.safetensors /
                 open_clip_pytorch_model.bin (the HF hub cache is used when this is unset)
    device:      auto (default: cuda when present, else cpu) | cpu | cuda | cuda:N
    dtype:       auto (default: float16 on GPU, float32 on CPU) | float32 | float16 | bfloat16
    batch_size:  images per forward (default 64), across windows and videos
    sample_fps:  compare frames at this rate (default: every analysis frame)

Columns, with d(a, b) = 1 − cos(CLIP(a), CLIP(b)) (0 = same meaning, up to 2):
    clip_diff_mean  mean d over consecutive (sampled) frame pairs of the window
    clip_diff_max   largest consecutive d: content transitions
    clip_diff_span  d(first frame, last frame): how far the window drifts overall
NaN for windows with fewer than two frames. Each distinct frame is embedded once.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from curation.metrics import VideoWindows, register_batched
from curation.metrics.neural_scoring import (LoadedModel, ModelWeightsMissing, cached_model, embed_planned_frames,
                                             holding_device, plan_frames, resolve_device, resolve_dtype)

COLUMNS = ("clip_diff_mean", "clip_diff_max", "clip_diff_span")
_PRECISION = {"float32": "fp32", "float16": "fp16", "bfloat16": "bf16"}


def check_options(model: str = "ViT-L-14", pretrained: str | None = "openai", checkpoint: str | None = None,
                  **_: object) -> str:
    """The weight file these options load; raises a clear error when it cannot be found."""
    try:
        return _weights(model, pretrained, None if checkpoint is None else str(checkpoint))
    except FileNotFoundError as exc:
        raise ModelWeightsMissing(f"metric 'clip_semantics': {exc}") from exc


@lru_cache(maxsize=16)
def _weights(model: str, pretrained: str | None, checkpoint: str | None) -> str:
    # Cached: resolving a hub tag asks the hub (or its cache) each time. Failures are not cached.
    from model.encoders.clip import resolve_clip_weights

    return resolve_clip_weights(model, pretrained, checkpoint)


def load_model(model: str = "ViT-L-14", pretrained: str | None = "openai", checkpoint: str | None = None,
               device: str = "auto", dtype: str = "auto") -> LoadedModel:
    """The open_clip image encoder for these options, loaded once per process."""
    from model.encoders.clip import load_clip

    weights = check_options(model, pretrained, checkpoint)
    dev = resolve_device(device)
    dt = resolve_dtype(dtype, dev)
    key = ("clip", model, pretrained, weights, dev, str(dt))
    return cached_model(key, lambda: load_clip(model, pretrained, weights, device=dev,
                                               precision=_PRECISION[str(dt).removeprefix("torch.")]))


def window_distances(embeddings: np.ndarray) -> tuple[float, float, float]:
    """(n, E) unit features of a window's frames → (mean, max, span) of 1 − cosine."""
    if len(embeddings) < 2:
        return np.nan, np.nan, np.nan
    steps = 1.0 - np.sum(embeddings[1:] * embeddings[:-1], axis=1)
    return float(steps.mean()), float(steps.max()), float(1.0 - embeddings[0] @ embeddings[-1])


@register_batched("clip_semantics", columns=COLUMNS)
def clip_semantics(videos: Sequence[VideoWindows], model: str = "ViT-L-14", pretrained: str | None = "openai",
                   checkpoint: str | None = None, device: str = "auto", dtype: str = "auto", batch_size: int = 64,
                   sample_fps: float | None = None) -> list[dict[str, np.ndarray]]:
    """CLIP feature distances inside every window of every video (see the module docstring)."""
    from model.encoders.images import normalise_pixels

    check_options(model, pretrained, checkpoint)
    with holding_device():
        loaded = load_model(model, pretrained, checkpoint, device, dtype)
        encoder = loaded.model
        with loaded.lock:
            plans = [plan_frames(video, sample_fps) for video in videos]
            embed = lambda crops: encoder.embed_pixels(  # noqa: E731
                normalise_pixels(crops, encoder.mean, encoder.std, encoder.device, encoder.dtype))
            frames = embed_planned_frames(videos, plans, embed, batch_size, encoder.size)
    results = []
    for v, video in enumerate(videos):
        rows = np.array([window_distances(frames[v][positions]) for positions in plans[v].windows]).reshape(-1, 3)
        results.append(dict(zip(COLUMNS, rows.T)))
    return results
