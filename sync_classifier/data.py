"""Training and evaluation examples: K shifted clips of one video, from decoded media.

Every example starts as a `curation.media.DecodedMedia` (frames at `decode_fps`, 16 kHz mono
audio): decoded from a manifest row with `curation.media.decode` (the project's one media
path) or rendered in memory by the synthetic generator (`sync_classifier.synthetic`). From it
`media_clips` cuts the K audio spectrograms and K video clips.

Sampling (authors' data code): training uses "random-compact" starts, s0 ~ U[lo, hi − 2 −
(K−1)·0.2] then s0 + 0.2·j; evaluation uses "center-compact" starts (31 clips 0.04 s apart,
centred in the clip).

Speed (issue 12): a training step should cost the model, not the data. A video is decoded (or
rendered) and its whole log-mel computed once (`PreparedMedia`), kept in memory (`data.cache_mb`,
`data.synthetic_pool`), and each example only cuts its K clips from it: slices of the log-mel and
a gather of frames. Cached clip starts are rounded to the 10 ms log-mel hop.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset, IterableDataset, Sampler, get_worker_info

from curation.config import MediaConfig
from curation.manifest import ClipRow
from curation.media import DecodedMedia, MediaError, decode
from sync_classifier.config import DataConfig, ModelConfig
from sync_classifier.preprocessing import clip_fbanks, clip_videos, fbank_clips, required_span_s, waveform_fbank

log = logging.getLogger(__name__)

# Decoding a little more than needed keeps the last clip's last frame and samples inside
# the excerpt despite rounding at its end.
_MARGIN_S = 0.1


def random_compact_starts(rng: np.random.Generator, lo_s: float, hi_s: float, num: int, gap_s: float,
                          clip_s: float) -> np.ndarray:
    """`num` clip starts `gap_s` apart, the first uniform so that all clips lie in [lo_s, hi_s]."""
    latest = hi_s - clip_s - (num - 1) * gap_s
    if latest < lo_s - 1e-9:
        raise ValueError(f"[{lo_s}, {hi_s}] is too short for {num} clips of {clip_s} s, {gap_s} s apart")
    return rng.uniform(lo_s, max(lo_s, latest)) + np.arange(num) * gap_s


def center_compact_starts(lo_s: float, hi_s: float, num: int, gap_s: float, clip_s: float) -> np.ndarray:
    """`num` clip starts `gap_s` apart, the whole set centred in [lo_s, hi_s]."""
    span = (num - 1) * gap_s + clip_s
    if span > hi_s - lo_s + 1e-9:
        raise ValueError(f"[{lo_s}, {hi_s}] is too short for {num} clips of {clip_s} s, {gap_s} s apart")
    return lo_s + (hi_s - lo_s - span) / 2 + np.arange(num) * gap_s


def media_config(model: ModelConfig, data: DataConfig) -> MediaConfig:
    """How clips are decoded: frames at `decode_fps` with the short side already at the model's
    crop size (so preprocessing only crops), mono audio at the model's rate."""
    return MediaConfig(fps=data.decode_fps, short_side=model.image_size, sample_rate=model.sample_rate)


def media_clips(media: DecodedMedia, starts_s: Sequence[float], model: ModelConfig,
                flip: np.ndarray | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Clips starting at `starts_s` (seconds on the media's own timeline, 0 = its first frame)
    → log-mels (K, 1, 128, 204) and videos (K, 3, F, S, S)."""
    fbank = clip_fbanks(media.audio, starts_s, model)
    video = clip_videos(media.frames, media.fps, starts_s, model, flip=flip)
    return fbank, video


@dataclass(frozen=True)
class PreparedMedia:
    """A decoded video ready for cutting clips: the media (frames at the model's crop size) and the
    raw log-mel of its whole audio, (T, mel) at a 10 ms hop (`preprocessing.waveform_fbank`)."""

    media: DecodedMedia
    fbank: torch.Tensor

    @property
    def nbytes(self) -> int:
        return self.media.frames.nbytes + self.media.audio.nbytes + self.fbank.numel() * self.fbank.element_size()


def prepare_media(media: DecodedMedia, model: ModelConfig) -> PreparedMedia:
    return PreparedMedia(media, waveform_fbank(media.audio, model))


def prepared_clips(prepared: PreparedMedia, starts_s: Sequence[float], model: ModelConfig,
                   flip: np.ndarray | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """`media_clips` from a prepared video: starts (seconds from its first frame) rounded to the
    10 ms hop → log-mels (K, 1, 128, 204) and videos (K, 3, F, S, S)."""
    hops = [round(s * 100) for s in starts_s]
    fbank = fbank_clips(prepared.fbank, hops, model)
    media = prepared.media
    return fbank, clip_videos(media.frames, media.fps, [h / 100 for h in hops], model, flip=flip)


class ManifestTrainingSet(Dataset):
    """Training examples from manifest rows: item (epoch, row) → K clips at random-compact starts
    (random per epoch and row, reproducible from the seed).

    Each row is decoded once and kept with its log-mel (`PreparedMedia`) while `data.cache_mb`
    lasts; rows past the budget decode only the span their K clips cover (6 s by default). A file
    that fails to decode is replaced by the next row (as the authors' loader does) and counted in
    `failures`.
    """

    def __init__(self, rows: Sequence[ClipRow], model: ModelConfig, data: DataConfig, seed: int = 0):
        self.model, self.data, self.seed = model, data, seed
        self.span_s = required_span_s(data.num_clips, data.shift_s, model)
        self.rows = [r for r in rows if r.duration_s + 1e-6 >= self.span_s]
        if not self.rows:
            raise ValueError(f"no manifest row is at least {self.span_s:.1f} s long")
        self.media = media_config(model, data)
        self.failures = 0
        self._cache: dict[int, PreparedMedia] = {}
        self._cached_bytes = 0
        self._cache_full = data.cache_mb <= 0

    def _prepared(self, row_index: int) -> PreparedMedia | None:
        """The whole row decoded and analysed, from the cache or now (None once the cache is full)."""
        if (hit := self._cache.get(row_index)) is not None:
            return hit
        if self._cache_full:
            return None
        row = self.rows[row_index]
        prepared = prepare_media(decode(row.path, self.media, start_s=row.start_s, end_s=row.end_s + _MARGIN_S),
                                 self.model)
        if self._cached_bytes + prepared.nbytes > self.data.cache_mb * 2**20:
            self._cache_full = True  # keep what is cached; later rows take the per-example path
            return None
        self._cache[row_index] = prepared
        self._cached_bytes += prepared.nbytes
        return prepared

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, key: tuple[int, int]) -> dict[str, torch.Tensor]:
        epoch, index = key
        rng = np.random.default_rng([self.seed, epoch, index])
        for attempt in range(min(len(self.rows), 10)):
            row_index = (index + attempt) % len(self.rows)
            row = self.rows[row_index]
            first = random_compact_starts(rng, row.start_s, row.end_s, self.data.num_clips, self.data.shift_s,
                                          self.model.clip_s)[0]
            starts = np.arange(self.data.num_clips) * self.data.shift_s
            try:
                prepared = self._prepared(row_index)
                if prepared is None:
                    media = decode(row.path, self.media, start_s=first, end_s=first + self.span_s + _MARGIN_S)
            except MediaError as exc:
                self.failures += 1
                log.warning("skipping %s [%.2f s]: %s", row.path, first, exc)
                continue
            flip = rng.random(self.data.num_clips) < 0.5 if self.data.hflip else None
            if prepared is not None:
                fbank, video = prepared_clips(prepared, first - row.start_s + starts, self.model, flip)
            else:
                fbank, video = media_clips(media, starts, self.model, flip)
            return {"audio": fbank, "video": video}
        raise RuntimeError(f"10 consecutive manifest rows failed to decode (from row {index})")


class EpochShuffleSampler(Sampler):
    """Endless (epoch, index) keys for `ManifestTrainingSet`: a fresh permutation of the rows per
    epoch, seeded by (seed, epoch). With several processes, process `rank` of `world` takes
    every world-th key. `skip` keys of this process are passed over (a resumed run continues
    where the interrupted one stopped)."""

    def __init__(self, size: int, seed: int = 0, skip: int = 0, rank: int = 0, world: int = 1):
        self.size, self.seed, self.skip, self.rank, self.world = size, seed, skip, rank, world

    def __iter__(self) -> Iterator[tuple[int, int]]:
        position = 0  # over all processes' keys
        to_skip = self.skip
        epoch = 0
        while True:
            for index in np.random.default_rng([self.seed, epoch]).permutation(self.size):
                mine = position % self.world == self.rank
                position += 1
                if not mine:
                    continue
                if to_skip:
                    to_skip -= 1
                    continue
                yield epoch, int(index)
            epoch += 1


class SyntheticTrainingSet(IterableDataset):
    """An endless stream of synthetic training examples (K random-compact clips each).

    Examples are numbered; DataLoader workers take every n-th number, so runs are reproducible
    for a given seed; `start_index` skips examples already used (resume). With
    `data.synthetic_pool` = N, N videos of `data.synthetic_pool_s` seconds are rendered once (per
    process) and each example is K random-compact clips of one of them.
    """

    def __init__(self, model: ModelConfig, data: DataConfig, seed: int = 0, start_index: int = 0, rank: int = 0):
        self.model, self.data, self.seed, self.start_index, self.rank = model, data, seed, start_index, rank
        self.span_s = required_span_s(data.num_clips, data.shift_s, model)
        if data.synthetic_pool and data.synthetic_pool_s < self.span_s + _MARGIN_S:
            raise ValueError(f"data.synthetic_pool_s={data.synthetic_pool_s} is shorter than one example "
                             f"({self.span_s + _MARGIN_S:.1f} s)")
        self._pool: list[PreparedMedia] = []

    def _pooled(self, which: int) -> PreparedMedia:
        from sync_classifier.synthetic import synthetic_media

        while len(self._pool) <= which:  # rendered on first use, in order: reproducible
            rng = np.random.default_rng([self.seed, self.rank, 1 << 40, len(self._pool)])
            media = synthetic_media(rng, duration_s=self.data.synthetic_pool_s, model=self.model, data=self.data)
            self._pool.append(prepare_media(media, self.model))
        return self._pool[which]

    def example(self, index: int) -> dict[str, torch.Tensor]:
        from sync_classifier.synthetic import synthetic_media

        # (seed, process rank, index): distinct streams per training process; held-out sets use
        # two-number seeds ([10000, i]), so they never coincide with training examples.
        rng = np.random.default_rng([self.seed, self.rank, index])
        if self.data.synthetic_pool:
            prepared = self._pooled(int(rng.integers(self.data.synthetic_pool)))
            starts = random_compact_starts(rng, 0.0, prepared.media.duration_s - _MARGIN_S, self.data.num_clips,
                                           self.data.shift_s, self.model.clip_s)
            flip = rng.random(self.data.num_clips) < 0.5 if self.data.hflip else None
            fbank, video = prepared_clips(prepared, starts, self.model, flip)
            return {"audio": fbank, "video": video}
        media = synthetic_media(rng, duration_s=self.span_s + _MARGIN_S, model=self.model, data=self.data)
        starts = np.arange(self.data.num_clips) * self.data.shift_s
        flip = rng.random(self.data.num_clips) < 0.5 if self.data.hflip else None
        fbank, video = media_clips(media, starts, self.model, flip)
        return {"audio": fbank, "video": video}

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        worker = get_worker_info()
        n_workers, worker_id = (worker.num_workers, worker.id) if worker else (1, 0)
        index = self.start_index + worker_id
        while True:
            yield self.example(index)
            index += n_workers


def collate_examples(batch: Sequence[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Stack examples: audio (B, K, 1, 128, 204), video (B, K, 3, F, S, S)."""
    return {key: torch.stack([example[key] for example in batch]) for key in batch[0]}


def evaluation_span_s(num_offsets: int, offset_step_s: float, model: ModelConfig) -> float:
    return required_span_s(num_offsets, offset_step_s, model)


def decode_for_evaluation(row: ClipRow, model: ModelConfig, data: DataConfig, num_offsets: int,
                          offset_step_s: float) -> DecodedMedia:
    """Decode the centred span the evaluation clips of one manifest row cover."""
    span = evaluation_span_s(num_offsets, offset_step_s, model)
    first = center_compact_starts(row.start_s, row.end_s, num_offsets, offset_step_s, model.clip_s)[0]
    # Half the margin on each side, so the clips stay centred in the decoded excerpt.
    start = max(first - _MARGIN_S / 2, 0.0)
    return decode(row.path, media_config(model, data), start_s=start, end_s=start + span + _MARGIN_S)
