"""Video files → clips for the set metrics: each file is one clip, its first frames at its own
rate and size, decoded by the project's one decode path (curation.media)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from curation.config import MediaConfig
from curation.media import MediaError, decode, probe

VIDEO_SUFFIXES = (".mp4", ".mkv", ".webm", ".mov", ".avi")


def read_clip(path: str | os.PathLike, num_frames: int) -> np.ndarray:
    """The first `num_frames` frames of a video at its own frame rate and size: (F, H, W, 3) uint8.

    Raises MediaError for an unreadable file and ValueError when it has fewer frames.
    """
    limits = MediaConfig(require_audio=False)
    info = probe(path, limits)
    if info.fps <= 0:
        raise MediaError("no_frame_rate", f"{path}: the video stream has no frame rate")
    # Decoding at the file's own rate and short side keeps every frame as stored (no resampling).
    native = MediaConfig(fps=info.fps, short_side=min(info.width, info.height), require_audio=False)
    media = decode(path, native, end_s=min(info.duration_s, (num_frames + 0.5) / info.fps), info=info)
    if len(media.frames) < num_frames:
        raise ValueError(f"{path}: {len(media.frames)} frames; the metric needs clips of at least {num_frames} frames")
    return media.frames[:num_frames]


def video_files(folder: str | os.PathLike) -> list[Path]:
    """The video files of a folder, sorted by name; FileNotFoundError / ValueError when there are none."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"video folder not found: {folder}")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES and p.is_file())
    if not files:
        raise ValueError(f"no video files ({', '.join(VIDEO_SUFFIXES)}) in {folder}")
    return files


def read_clips(folder: str | os.PathLike, num_frames: int, progress: bool = False) -> np.ndarray:
    """Every video of `folder` (sorted by name) as one clip: (N, F, H, W, 3) uint8. All clips
    must share one frame size."""
    from tqdm import tqdm

    files = video_files(folder)
    clips = [read_clip(p, num_frames) for p in tqdm(files, desc=f"reading {Path(folder).name}", disable=not progress)]
    sizes = {c.shape[1:3] for c in clips}
    if len(sizes) > 1:
        raise ValueError(f"clips in {folder} have different frame sizes: {sorted(sizes)}")
    return np.stack(clips)
