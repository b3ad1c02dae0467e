"""PSync per window (paper §3.1, Eq. 1): how sure the sync classifier is that the window's audio
belongs with its own video rather than a temporally shifted one. Low = not synchronized.

Config (`metric_options: {psync: {...}}`):
    checkpoint:   folder of a trained sync classifier (config.json + model.safetensors), required
    device:       auto (default: cuda when present, else cpu) | cpu | cuda | cuda:N
    shift_s:      gap between candidate video clips, seconds (default 0.2, as in training)
    max_offset_s: largest candidate shift, seconds (default 2.0 → up to 21 candidates)
    batch_size:   clips per encoder forward pass (default 64), across windows and videos

Columns: `psync` (0..1), `sync_score` (φ of the synchronized pair), `sync_offset_s` (shift of
the best-scoring candidate; 0 = the classifier finds the window synchronized). Windows too
short for a 2 s clip get NaN. Candidates must lie inside the video, so a window within 2 s of
either end competes against fewer of them (PSync reads a little higher there).

Runs on the shared neural-scoring plumbing (docs/gpu_scoring.md): the model is loaded once per
process and (checkpoint, device) into the model cache, used under its lock, and held under the
device guard (the flow's `gpu` concurrency slot) while it loads and runs.
Analysis frames at ≥ 12 fps (`media.fps`) resolve the candidate shifts best.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from curation.metrics import VideoWindows, register_batched
from curation.metrics.neural_scoring import LoadedModel, ModelWeightsMissing, cached_model, holding_device, resolve_device

COLUMNS = ("psync", "sync_score", "sync_offset_s")


def check_options(checkpoint: str | None = None, **_: Any) -> None:
    """Preflight (before any video is decoded): the checkpoint is configured and exists."""
    if not checkpoint:
        raise ModelWeightsMissing("metric 'psync' needs metric_options.psync.checkpoint: the folder of a trained sync "
                                  "classifier (e.g. the `final/` folder written by `python -m sync_classifier.train`)")
    if not Path(checkpoint).is_dir():
        raise ModelWeightsMissing(f"metric 'psync': sync classifier checkpoint {checkpoint} does not exist (train one "
                                  "with `python -m sync_classifier.train --out DIR`, then use DIR/final)")


def load_model(checkpoint: str | None, device: str = "auto") -> LoadedModel:
    """The sync classifier at `checkpoint` on `device`, loaded once per process."""
    check_options(checkpoint)
    from sync_classifier.model import SyncClassifier  # torch only when the metric is used

    dev = resolve_device(device)
    key = ("psync", str(Path(checkpoint).resolve()), dev)
    return cached_model(key, lambda: SyncClassifier.from_pretrained(checkpoint, device=dev))


@register_batched("psync", columns=COLUMNS)
def psync_metric(videos: Sequence[VideoWindows], checkpoint: str | None = None, device: str = "auto",
                 shift_s: float = 0.2, max_offset_s: float = 2.0, batch_size: int = 64) -> list[dict[str, np.ndarray]]:
    """PSync of every window of every video (clips encoded once per video, batches across videos)."""
    from sync_classifier.sync_metrics import windows_psync

    check_options(checkpoint)
    with holding_device():
        loaded = load_model(checkpoint, device)
        with loaded.lock:
            return windows_psync(loaded.model, [(v.media, [(w.start_s, w.end_s) for w in v.windows]) for v in videos],
                                 shift_s=shift_s, max_offset_s=max_offset_s, batch_size=batch_size)
