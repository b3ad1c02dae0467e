"""Synthetic sync examples: the project's audio-visual generator (`curation.sources.synthetic`)
rendered in memory as `DecodedMedia`, the value every example is cut from.

Each example is one `events` scene (1–2 objects that bounce, blink or get struck at irregular
times, each event sounding at that instant, sometimes a silent distractor), rendered square at
the model's crop size and at the decode rate, so it takes the same preprocessing path as a
decoded video file.
"""

from __future__ import annotations

import numpy as np

from curation.media import DecodedMedia
from curation.sources.synthetic import random_scenes, render_clip
from sync_classifier.config import DataConfig, ModelConfig


def synthetic_media(rng: np.random.Generator, duration_s: float, model: ModelConfig, data: DataConfig) -> DecodedMedia:
    """A random synthetic clip of `duration_s` seconds: frames (N, S, S, 3) uint8 at
    `data.decode_fps` with S = the model's image size, mono audio at the model's rate."""
    scenes = random_scenes(rng, duration_s=duration_s)
    frames, audio, _ = render_clip(scenes, fps=data.decode_fps, size=(model.image_size, model.image_size),
                                   sample_rate=model.sample_rate, seed=int(rng.integers(1 << 31)))
    return DecodedMedia(frames=frames, fps=data.decode_fps, audio=audio, sample_rate=model.sample_rate)
