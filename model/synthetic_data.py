"""Synthetic audio-visual sync clips as a training manifest, for tests, benchmarks and the demo.

Uses the project's generator (`curation.sources.synthetic`): one shot per video in which 1–2
objects bounce, blink or get struck at irregular times, each event sounding at that instant.
Videos are written as real H.264 + AAC mp4 files and listed in a Parquet manifest with the
columns of curation's `clips.parquet` (video_id, path, label, split, start_s, end_s, ...), so
training reads them through the same decode path as curated data.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from curation.sources.synthetic import DEMO_CLASSES, SceneSpec, random_scene, write_synthetic_video


def synthetic_scene(rng: np.random.Generator, label: str, duration_s: float) -> list[SceneSpec]:
    """One `events` shot of class `label` (a key of DEMO_CLASSES: its event style, sound and
    shape), without silent distractors: every motion in it is tied to a sound."""
    style, sound, shape = DEMO_CLASSES[label]
    return [random_scene(rng, "events", duration_s, style=style, sound=sound, shape=shape, distractor_probability=0.0)]


def write_synthetic_manifest(root: str | Path, train_videos: int = 12, test_videos: int = 3,
                             duration_s: float = 3.0, size: int = 96, fps: float = 12.0, seed: int = 0) -> Path:
    """Write `root/videos/<label>/<label>_<i>.mp4` and `root/clips.parquet`; returns the manifest.

    Classes cycle through DEMO_CLASSES; the last `test_videos` are split "test"."""
    root = Path(root)
    rng = np.random.default_rng(seed)
    labels = list(DEMO_CLASSES)
    rows = []
    for i in range(train_videos + test_videos):
        label = labels[i % len(labels)]
        relative = Path("videos") / label / f"{label}_{i:03d}.mp4"
        write_synthetic_video(root / relative, synthetic_scene(rng, label, duration_s), fps=fps, size=(size, size),
                              seed=int(rng.integers(1 << 31)))
        rows.append({"video_id": f"{label}_{i:03d}", "clip_index": 0, "label": label,
                     "split": "train" if i < train_videos else "test", "path": str(relative), "scene_index": 0,
                     "start_s": 0.0, "end_s": duration_s, "duration_s": duration_s, "n_windows": 1})
    manifest = root / "clips.parquet"
    pd.DataFrame(rows).to_parquet(manifest, index=False)
    return manifest
