"""Raw pixel difference between consecutive frames (paper §3.1): low = static, high = chaotic."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from curation.media import DecodedMedia
from curation.metrics import register
from curation.windows import Window


def consecutive_frame_differences(frames: np.ndarray) -> np.ndarray:
    """(N, H, W, 3) uint8 → (N-1,) mean absolute difference of frame k+1 and k, on 0..255."""
    if len(frames) < 2:
        return np.zeros(0)
    flat = frames.reshape(len(frames), -1)
    out = np.empty(len(frames) - 1)
    for k in range(len(out)):  # per pair keeps the int16 temporary small
        out[k] = np.abs(flat[k + 1].astype(np.int16) - flat[k]).mean()
    return out


@register("pixel", columns=("pixel_diff_mean", "pixel_diff_max"))
def pixel_difference(media: DecodedMedia, windows: Sequence[Window]) -> dict[str, np.ndarray]:
    """Per window: mean and maximum over its consecutive frame pairs of the mean |Δpixel|.
    Differences are computed once per video and shared by the overlapping windows."""
    diffs = consecutive_frame_differences(media.frames)
    means, maxima = np.full(len(windows), np.nan), np.full(len(windows), np.nan)
    for i, window in enumerate(windows):
        frames = media.frame_slice(window.start_s, window.end_s)
        pair_diffs = diffs[frames.start : max(frames.stop - 1, frames.start)]
        if len(pair_diffs):
            means[i], maxima[i] = pair_diffs.mean(), pair_diffs.max()
    return {"pixel_diff_mean": means, "pixel_diff_max": maxima}
