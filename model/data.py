"""Training windows for AVSyncD from a curation clip manifest (docs/manifests.md).

Each example is a 2 s window inside a manifest row — 12 frames at 6 fps, square, and the matching
16 kHz mono audio — decoded with `curation.media.decode` (the project's one media path) and its
class prompt (the label with spaces, e.g. `dog_barking` → "dog barking").

Which row and which start every example uses is a pure function of (seed, global example index):
epochs are seeded permutations of the rows and the start is uniform in [start_s, end_s − 2 s]. So a
resumed run, or any process of a multi-GPU run, draws exactly its share without loader state.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from curation.config import MediaConfig
from curation.manifest import ClipRow, read_clip_rows
from curation.media import DecodedMedia, MediaError, decode
from model.config import DataConfig

log = logging.getLogger(__name__)


def prompt_for(label: str) -> str:
    """Class folder name → prompt: `dog_barking` → "dog barking" (also `playing_violin__fiddle`)."""
    return re.sub(r"[_\s]+", " ", label).strip()


def read_manifest(path: str | Path, split: str | None = None, min_duration_s: float = 0.0) -> list[ClipRow]:
    """Rows (path, label, start_s, end_s[, split, video_id]) of a Parquet clip manifest; relative
    paths are relative to the manifest's folder; rows shorter than `min_duration_s` are dropped."""
    return read_clip_rows(path, split, min_duration_s, need_label=True)


def media_config(data: DataConfig) -> MediaConfig:
    return MediaConfig(fps=data.fps, short_side=data.resolution, sample_rate=data.sample_rate)


def window_tensors(media: DecodedMedia, data: DataConfig, flip: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """A decoded 2 s window → frames (3, F, S, S) in [−1, 1] and audio (S_audio,) float32.

    Frames are centre-cropped to a square (the decode already scaled the short side); a short
    window repeats its last frame, as the authors' loader does; audio is padded/cut to 2 s."""
    frames = media.frames[: data.num_frames]
    if len(frames) < data.num_frames:
        frames = np.concatenate([frames, np.repeat(frames[-1:], data.num_frames - len(frames), axis=0)])
    h, w = frames.shape[1:3]
    s = data.resolution
    top, left = (h - s) // 2, (w - s) // 2
    frames = frames[:, top : top + s, left : left + s]
    if flip:
        frames = frames[:, :, ::-1]
    video = torch.from_numpy(np.ascontiguousarray(frames)).permute(3, 0, 1, 2).float().div(127.5).sub(1)
    samples = round(data.clip_s * data.sample_rate)
    audio = np.zeros(samples, np.float32)
    audio[: min(samples, len(media.audio))] = media.audio[:samples]
    return video, torch.from_numpy(audio)


class TrainingWindows(Dataset):
    """Index = global example number → {"frames": (3, F, S, S), "audio": (S_audio,), "prompt": str}.

    A file that fails to decode is replaced by the next row (as the authors' loader does) and
    counted in `failures`.
    """

    def __init__(self, rows: Sequence[ClipRow], data: DataConfig, seed: int = 0, random_windows: bool = True):
        self.data, self.seed, self.random_windows = data, seed, random_windows
        self.rows = [r for r in rows if r.duration_s + 1e-6 >= data.clip_s]
        if not self.rows:
            raise ValueError(f"no manifest row is at least {data.clip_s:.2f} s long")
        self.media = media_config(data)
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
                media = decode(row.path, self.media, start_s=start, end_s=start + self.data.clip_s)
            except MediaError as exc:
                self.failures += 1
                log.warning("skipping %s [%.2f s]: %s", row.path, start, exc)
                continue
            frames, audio = window_tensors(media, self.data, flip)
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
    """frames (B, 3, F, S, S), audio (B, S_audio), prompt list[str]."""
    return {"frames": torch.stack([b["frames"] for b in batch]), "audio": torch.stack([b["audio"] for b in batch]),
            "prompt": [b["prompt"] for b in batch]}


def validation_windows(rows: Sequence[ClipRow], data: DataConfig, count: int) -> dict:
    """`count` fixed held-out windows (the centre of each row, cycling through the rows)."""
    dataset = TrainingWindows(rows, data, seed=0, random_windows=False)
    return collate_windows([dataset[i] for i in range(count)])
