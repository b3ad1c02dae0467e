"""VGGSoundSync-protocol evaluation (SPEC; notes §D3) and `python -m sync_classifier.evaluate`.

Per test video: 31 clips 0.04 s apart, centred in the video. A→V: the centre audio (index 15)
against all 31 video clips; V→A: the centre video against all 31 audios. A prediction (argmax)
is correct within ±5 indices (±0.2 s). All clips of a video are encoded in one batched forward
pass (31 audios + 31 videos), and the head scores the 2×31 pairs at once.

    python -m sync_classifier.evaluate --checkpoint runs/sync/final --synthetic 200
    python -m sync_classifier.evaluate --checkpoint runs/sync/final --manifest data/runs/vggss/clips.parquet --split test
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass

import numpy as np
import torch

from curation.manifest import read_clip_rows
from curation.media import DecodedMedia, MediaError
from sync_classifier.config import DataConfig
from sync_classifier.data import center_compact_starts, decode_for_evaluation, media_clips
from sync_classifier.model import SyncClassifier

NUM_OFFSETS = 31
OFFSET_STEP_S = 0.04
TOLERANCE = 5


@dataclass(frozen=True)
class OffsetScores:
    """φ of the centre audio vs every video clip (a2v) and of the centre video vs every audio (v2a)."""

    a2v: np.ndarray  # (num_offsets,)
    v2a: np.ndarray  # (num_offsets,)

    @property
    def centre(self) -> int:
        return len(self.a2v) // 2

    def errors(self) -> tuple[int, int]:
        """Predicted index minus the synchronized (centre) index, for A→V and V→A."""
        return int(np.argmax(self.a2v)) - self.centre, int(np.argmax(self.v2a)) - self.centre


@dataclass(frozen=True)
class SyncAccuracy:
    a2v: float  # fraction correct within ±tolerance
    v2a: float
    a2v_exact: float  # fraction with the exact index
    v2a_exact: float
    videos: int
    skipped: int  # too short or undecodable
    seconds: float

    def as_dict(self) -> dict:
        return asdict(self)


@torch.no_grad()
def offset_scores(model: SyncClassifier, media: DecodedMedia, num_offsets: int = NUM_OFFSETS,
                  step_s: float = OFFSET_STEP_S, first_start_s: float | None = None) -> OffsetScores:
    """Score the `num_offsets` shifted clips of one decoded video in one forward pass.

    `first_start_s` is the first clip's start on the media's timeline; by default the clips
    are centred in the media.
    """
    cfg = model.config
    if first_start_s is None:
        starts = center_compact_starts(0.0, media.duration_s, num_offsets, step_s, cfg.clip_s)
    else:
        starts = first_start_s + np.arange(num_offsets) * step_s
    fbank, video = media_clips(media, starts, cfg)
    device = model.device
    audio_emb = model.encode_audio(fbank.to(device))  # (K, Da)
    video_emb = model.encode_video(video.to(device))  # (K, Dv)
    c = num_offsets // 2
    a2v = model.head.all_pairs(audio_emb[c : c + 1], video_emb)[0]  # (K,)
    v2a = model.head.all_pairs(audio_emb, video_emb[c : c + 1])[:, 0]  # (K,)
    return OffsetScores(a2v.float().cpu().numpy(), v2a.float().cpu().numpy())


def accuracy_from_scores(scores: list[OffsetScores], tolerance: int = TOLERANCE, skipped: int = 0,
                         seconds: float = 0.0) -> SyncAccuracy:
    errors = np.array([s.errors() for s in scores]).reshape(-1, 2)
    n = len(errors)

    def frac(mask: np.ndarray) -> float:
        return float(mask.mean()) if n else float("nan")

    return SyncAccuracy(
        a2v=frac(np.abs(errors[:, 0]) <= tolerance),
        v2a=frac(np.abs(errors[:, 1]) <= tolerance),
        a2v_exact=frac(errors[:, 0] == 0),
        v2a_exact=frac(errors[:, 1] == 0),
        videos=n,
        skipped=skipped,
        seconds=round(seconds, 3),
    )


def evaluate_media(model: SyncClassifier, medias: Iterable[DecodedMedia], num_offsets: int = NUM_OFFSETS,
                   step_s: float = OFFSET_STEP_S, tolerance: int = TOLERANCE) -> SyncAccuracy:
    """Accuracy over decoded videos (each at least (num_offsets−1)·step + 2 s long)."""
    was_training = model.training
    model.eval()
    started = time.perf_counter()
    scores, skipped = [], 0
    span = (num_offsets - 1) * step_s + model.config.clip_s
    for media in medias:
        if media.duration_s + 1e-6 < span:
            skipped += 1
            continue
        scores.append(offset_scores(model, media, num_offsets, step_s))
    model.train(was_training)
    return accuracy_from_scores(scores, tolerance, skipped, time.perf_counter() - started)


def synthetic_eval_media(count: int, model_config, data: DataConfig, seed: int = 10_000,
                         num_offsets: int = NUM_OFFSETS, step_s: float = OFFSET_STEP_S) -> list[DecodedMedia]:
    """Held-out synthetic videos: seeds disjoint from the training stream's (seed 0..)."""
    from sync_classifier.synthetic import synthetic_media

    span = (num_offsets - 1) * step_s + model_config.clip_s + 0.1
    return [synthetic_media(np.random.default_rng([seed, i]), duration_s=span, model=model_config, data=data)
            for i in range(count)]


def evaluate_manifest(model: SyncClassifier, manifest: str, data: DataConfig, split: str | None = None,
                      limit: int | None = None, num_offsets: int = NUM_OFFSETS, step_s: float = OFFSET_STEP_S,
                      tolerance: int = TOLERANCE) -> SyncAccuracy:
    """Accuracy over the rows of a Parquet clip manifest (rows shorter than 3.2 s are skipped)."""
    span = (num_offsets - 1) * step_s + model.config.clip_s
    rows = read_clip_rows(manifest, split, min_duration_s=span)[:limit]
    failed = 0

    def medias() -> Iterable[DecodedMedia]:
        nonlocal failed
        for row in rows:
            try:
                yield decode_for_evaluation(row, model.config, data, num_offsets, step_s)
            except MediaError:
                failed += 1

    result = evaluate_media(model, medias(), num_offsets, step_s, tolerance)
    return SyncAccuracy(**(result.as_dict() | {"skipped": result.skipped + failed}))


def evaluate_checkpoint(checkpoint: str, manifest: str | None = None, synthetic: int | None = None,
                        split: str | None = None, limit: int | None = None, seed: int = 10_000,
                        data: DataConfig | None = None, device: str = "cpu") -> SyncAccuracy:
    """The saved model at `checkpoint` on a manifest's clips or on `synthetic` held-out generated videos."""
    if (manifest is None) == (synthetic is None):
        raise ValueError("give exactly one of manifest or synthetic")
    model = SyncClassifier.from_pretrained(checkpoint, device=device)
    data = data or DataConfig()
    if synthetic is not None:
        return evaluate_media(model, synthetic_eval_media(synthetic, model.config, data, seed=seed))
    return evaluate_manifest(model, manifest, data, split=split, limit=limit)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sync_classifier.evaluate", description=__doc__.split("\n")[0])
    parser.add_argument("--checkpoint", required=True, help="model folder (config.json + model.safetensors)")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--manifest", help="Parquet manifest with path, start_s, end_s (e.g. clips.parquet)")
    source.add_argument("--synthetic", type=int, metavar="N", help="evaluate on N held-out synthetic videos")
    parser.add_argument("--split", help="manifest split to keep (e.g. test)")
    parser.add_argument("--limit", type=int, help="at most this many manifest rows")
    parser.add_argument("--seed", type=int, default=10_000, help="seed of the synthetic held-out set")
    parser.add_argument("--decode-fps", type=float, default=DataConfig().decode_fps)
    parser.add_argument("--threads", type=int, help="torch CPU threads")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", help="also write the result to this file")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    result = evaluate_checkpoint(args.checkpoint, args.manifest, args.synthetic, split=args.split, limit=args.limit,
                                 seed=args.seed, data=DataConfig(decode_fps=args.decode_fps), device=args.device)
    text = json.dumps(result.as_dict(), indent=2)
    print(text)
    if args.json:
        with open(args.json, "w") as handle:
            handle.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
