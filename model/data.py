"""Training windows for AVSyncD from a curation clip manifest (docs/manifests.md).

Each example is a 2 s window inside a manifest row — 12 frames at 6 fps, height × width (square by
default; TheGreatestHits is 128 × 256), and the matching 16 kHz mono audio — decoded with
`curation.media.decode` (the project's one media path) and its class prompt (the label with spaces, e.g. `dog_barking` → "dog barking").

Which row and which start every example uses is a pure function of (seed, global example index):
epochs are seeded permutations of the rows and the start is uniform in [start_s, end_s − 2 s]. So a
resumed run, or any process of a multi-GPU run, draws exactly its share without loader state.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from curation.config import MediaConfig
from curation.manifest import ClipRow
from curation.media import MediaError, decode, probe
from model.config import DataConfig

log = logging.getLogger(__name__)


def prompt_for(label: str) -> str:
    """Class folder name → prompt: `dog_barking` → "dog barking" (also `playing_violin__fiddle`)."""
    return re.sub(r"[_\s]+", " ", label).strip()


def read_window(path: str | Path, start_s: float, num_frames: int, fps: float, size: tuple[int, int],
                sample_rate: int = 16000, limits: MediaConfig | None = None) -> tuple[np.ndarray, np.ndarray]:
    """One clip through the project's decoder (`curation.media`): (num_frames, H, W, 3) uint8
    frames and (num_frames / fps · sample_rate,) float32 mono audio, `size` = (H, W).

    The frames are resized so they cover H × W (the side that fits decides the scale, aspect ratio
    kept) and centre-cropped; a short clip repeats its last frame, as the authors' loader does;
    the audio is zero-padded / cut to the clip. `limits` (MediaConfig) sets the probe limits and
    whether audio is required (default: the curation defaults). Raises MediaError for a file that
    cannot be read, ValueError for one too small to crop."""
    height, width = size
    limits = limits or MediaConfig()
    info = probe(path, limits)
    scale = max(height / info.height, width / info.width)
    short_side = max(16, math.ceil(min(info.height, info.width) * scale))
    duration = num_frames / fps
    config = limits.model_copy(update={"fps": fps, "short_side": short_side, "sample_rate": sample_rate})
    media = decode(path, config, start_s=start_s, end_s=start_s + duration, info=info)
    frames = media.frames[:num_frames]
    if len(frames) < num_frames:
        frames = np.concatenate([frames, np.repeat(frames[-1:], num_frames - len(frames), axis=0)])
    h, w = frames.shape[1:3]
    top, left = (h - height) // 2, (w - width) // 2
    frames = np.ascontiguousarray(frames[:, top : top + height, left : left + width])
    if frames.shape[1:3] != (height, width):
        raise ValueError(f"{path}: frames of {h}×{w} cannot be cropped to {height}×{width}")
    samples = round(duration * sample_rate)
    audio = np.zeros(samples, np.float32)
    audio[: min(samples, len(media.audio))] = media.audio[:samples]
    return frames, audio


def window_tensors(frames: np.ndarray, audio: np.ndarray, flip: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """`read_window`'s (F, H, W, 3) uint8 frames and audio → frames (3, F, H, W) in [−1, 1]
    (mirrored left-right when `flip`) and audio (S_audio,) float32."""
    if flip:
        frames = frames[:, :, ::-1]
    video = torch.from_numpy(np.ascontiguousarray(frames)).permute(3, 0, 1, 2).float().div(127.5).sub(1)
    return video, torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32))


class TrainingWindows(Dataset):
    """Index = global example number → {"frames": (3, F, H, W), "audio": (S_audio,), "prompt": str}.

    A file that fails to decode is replaced by the next row (as the authors' loader does) and
    counted in `failures`.
    """

    def __init__(self, rows: Sequence[ClipRow], data: DataConfig, seed: int = 0, random_windows: bool = True):
        self.data, self.seed, self.random_windows = data, seed, random_windows
        self.rows = [r for r in rows if r.duration_s + 1e-6 >= data.clip_s]
        if not self.rows:
            raise ValueError(f"no manifest row is at least {data.clip_s:.2f} s long")
        self.limits = MediaConfig()  # curation's limits; audio required
        self.failures = 0

    def __len__(self) -> int:
        return len(self.rows)

    def row_and_start(self, index: int) -> tuple[ClipRow, float, bool]:
        """Row, window start (s) and flip of example `index`: deterministic in (seed, index)."""
        n = len(self.rows)
        epoch, position = divmod(index, n)
        order = np.random.default_rng([self.seed, epoch]).permutation(n)
        row = self.rows[order[position]]
        rng = np.random.default_rng([self.seed, 1, index])
        latest = max(row.start_s, row.end_s - self.data.clip_s)
        if self.random_windows:
            return row, float(rng.uniform(row.start_s, latest)), bool(self.data.hflip and rng.random() < 0.5)
        return row, (row.start_s + latest) / 2, False

    def __getitem__(self, index: int) -> dict:
        for attempt in range(min(10, len(self.rows))):
            row, start, flip = self.row_and_start(index + attempt * 7919)
            try:
                frames, audio = read_window(row.path, start, self.data.num_frames, self.data.fps, self.data.size,
                                            self.data.sample_rate, self.limits)
            except MediaError as exc:
                self.failures += 1
                log.warning("skipping %s [%.2f s]: %s", row.path, start, exc)
                continue
            frames, audio = window_tensors(frames, audio, flip)
            return {"frames": frames, "audio": audio, "prompt": prompt_for(row.label)}
        raise RuntimeError(f"10 manifest rows in a row failed to decode (from example {index})")


class StepBatches(Sampler[list[int]]):
    """Batches of global example indices for optimizer steps `start_step`.. of one process.

    Micro-batch m of step s on process p holds examples ((s·A + m)·P + p)·B + j, j < B, so
    every process draws distinct examples and a resumed run continues where it stopped."""

    def __init__(self, start_step: int, max_steps: int, batch_size: int, grad_accum: int = 1,
                 process_index: int = 0, num_processes: int = 1):
        self.start_step, self.max_steps = start_step, max_steps
        self.b, self.a, self.p, self.n = batch_size, grad_accum, process_index, num_processes

    def __len__(self) -> int:
        return max(0, self.max_steps - self.start_step) * self.a

    def __iter__(self) -> Iterator[list[int]]:
        for step in range(self.start_step, self.max_steps):
            for micro in range(self.a):
                base = ((step * self.a + micro) * self.n + self.p) * self.b
                yield list(range(base, base + self.b))


def collate_windows(batch: Sequence[dict]) -> dict:
    """frames (B, 3, F, H, W), audio (B, S_audio), prompt list[str]."""
    return {"frames": torch.stack([b["frames"] for b in batch]), "audio": torch.stack([b["audio"] for b in batch]),
            "prompt": [b["prompt"] for b in batch]}


def validation_windows(rows: Sequence[ClipRow], data: DataConfig, count: int) -> dict:
    """`count` fixed held-out windows (the centre of each row, cycling through the rows)."""
    dataset = TrainingWindows(rows, data, seed=0, random_windows=False)
    return collate_windows([dataset[i] for i in range(count)])
