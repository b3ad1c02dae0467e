"""Audio loudness per window (paper §3.1: drop clips whose maximum amplitude is low)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from curation.media import DecodedMedia
from curation.metrics import register
from curation.windows import Window


@register("amplitude", columns=("audio_max_amplitude", "audio_rms_db"))
def audio_amplitude(media: DecodedMedia, windows: Sequence[Window]) -> dict[str, np.ndarray]:
    """Per window: peak |sample| on [-1, 1], and RMS level in dBFS (floored at -100 dB)."""
    peaks, rms_db = np.zeros(len(windows)), np.full(len(windows), -100.0)
    for i, window in enumerate(windows):
        samples = media.audio[media.audio_slice(window.start_s, window.end_s)]
        if len(samples):
            peaks[i] = np.abs(samples).max()
            rms = np.sqrt(np.mean(np.square(samples, dtype=np.float64)))
            rms_db[i] = max(20 * np.log10(rms + 1e-12), -100.0)
    return {"audio_max_amplitude": peaks, "audio_rms_db": rms_db}
