"""Batched 31-offset evaluation vs a per-offset loop (issue 3; target ≥ 5×).

Both compute the same 2 × 31 scores of a video (A→V: centre audio vs 31 video clips; V→A:
centre video vs 31 audios) and the script checks they agree.

- Batched (`evaluate`): decode the 3.2 s span once, preprocess it once, encode 31 audios + 31
  videos in one forward pass, score the 62 pairs with the head at once.
- Per-offset loop from the file: decode the centre clip once, then for each offset decode that
  shifted 2 s clip and run the model on the (audio, video) pair of each direction.
- Per-offset loop on decoded media: the same loop without decoding (clips cut from the decoded
  span and preprocessed one at a time).
- Per-offset loop, model only: inputs preprocessed once, 62 forward passes of one pair each.

Files: generated 4 s clips written as H.264/AAC mp4 (320×240, 25 fps) plus the real
tests/fixtures/media/hitting_metal.mp4.

    python -m benchmarks.sync_classifier_eval_speed
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
import torch

from benchmarks.common import REPO, machine, write_result
from curation.manifest import ClipRow
from curation.media import DecodedMedia, decode, write_mp4
from curation.sources.synthetic import random_scenes, render_clip
from sync_classifier.config import DataConfig, load_config
from sync_classifier.data import center_compact_starts, decode_for_evaluation, media_config
from sync_classifier.evaluate import NUM_OFFSETS, OFFSET_STEP_S, offset_scores
from sync_classifier.model import SyncClassifier
from sync_classifier.preprocessing import clip_fbanks, clip_videos


@torch.no_grad()
def per_offset_loop(model: SyncClassifier, media: DecodedMedia, preprocessed: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """The 2 × 31 scores one pair at a time, from decoded media."""
    cfg = model.config
    starts = center_compact_starts(0.0, media.duration_s, NUM_OFFSETS, OFFSET_STEP_S, cfg.clip_s)
    c = NUM_OFFSETS // 2
    if preprocessed:
        fb, vid = clip_fbanks(media.audio, starts, cfg), clip_videos(media.frames, media.fps, starts, cfg)
        audio_clip, video_clip = (lambda j: fb[j : j + 1]), (lambda j: vid[j : j + 1])
    else:
        audio_clip = lambda j: clip_fbanks(media.audio, [starts[j]], cfg)  # noqa: E731
        video_clip = lambda j: clip_videos(media.frames, media.fps, [starts[j]], cfg)  # noqa: E731
    a2v = [float(model(audio_clip(c), video_clip(j))[0]) for j in range(NUM_OFFSETS)]
    v2a = [float(model(audio_clip(j), video_clip(c))[0]) for j in range(NUM_OFFSETS)]
    return np.array(a2v), np.array(v2a)


@torch.no_grad()
def per_offset_loop_from_file(model: SyncClassifier, row: ClipRow, data: DataConfig) -> tuple[np.ndarray, np.ndarray]:
    """The 2 × 31 scores one pair at a time, decoding each shifted 2 s clip from the file."""
    cfg = model.config
    starts = center_compact_starts(row.start_s, row.end_s, NUM_OFFSETS, OFFSET_STEP_S, cfg.clip_s)
    config = media_config(cfg, data)

    def clip(start: float) -> tuple[torch.Tensor, torch.Tensor]:
        media = decode(row.path, config, start_s=start, end_s=start + cfg.clip_s + 0.05)
        return clip_fbanks(media.audio, [0.0], cfg), clip_videos(media.frames, media.fps, [0.0], cfg)

    c = NUM_OFFSETS // 2
    centre_audio, centre_video = clip(starts[c])
    a2v, v2a = [], []
    for j in range(NUM_OFFSETS):
        audio, video = clip(starts[j])
        a2v.append(float(model(centre_audio, video)[0]))
        v2a.append(float(model(audio, centre_video)[0]))
    return np.array(a2v), np.array(v2a)


@torch.no_grad()
def batched_from_file(model: SyncClassifier, row: ClipRow, data: DataConfig):
    return offset_scores(model, decode_for_evaluation(row, model.config, data, NUM_OFFSETS, OFFSET_STEP_S))


def timed(fn) -> tuple[float, object]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def measure(model: SyncClassifier, rows: list[ClipRow], data: DataConfig) -> dict:
    batched_from_file(model, rows[0], data)  # warm-up (allocator, oneDNN kernels)
    totals = {"batched": 0.0, "loop_file": 0.0, "loop": 0.0, "loop_model": 0.0}
    max_diff = 0.0
    for row in rows:
        t, fast = timed(lambda: batched_from_file(model, row, data))
        totals["batched"] += t
        t, slow = timed(lambda: per_offset_loop_from_file(model, row, data))
        totals["loop_file"] += t
        media = decode_for_evaluation(row, model.config, data, NUM_OFFSETS, OFFSET_STEP_S)
        t, _ = timed(lambda: per_offset_loop(model, media))
        totals["loop"] += t
        t, _ = timed(lambda: per_offset_loop(model, media, preprocessed=True))
        totals["loop_model"] += t
        # Exact agreement is not expected: the loop decodes each clip separately (its own
        # resampler start), so audio samples can differ slightly from the one-span decode.
        max_diff = max(max_diff, float(np.abs(fast.a2v - slow[0]).max()), float(np.abs(fast.v2a - slow[1]).max()))
    return {"videos": len(rows), **{k: v / len(rows) for k, v in totals.items()}, "max_diff": max_diff}


def test_files(folder: Path, count: int) -> list[ClipRow]:
    rows = [ClipRow(str(REPO / "tests" / "fixtures" / "media" / "hitting_metal.mp4"), 0.0, 6.0)]
    for i in range(count - 1):
        frames, audio, _ = render_clip(random_scenes(np.random.default_rng([30_000, i]), duration_s=4.0), fps=25.0,
                                       size=(320, 240), seed=i)
        rows.append(ClipRow(str(write_mp4(folder / f"clip_{i}.mp4", frames, 25.0, audio)), 0.0, 4.0))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--checkpoint", help="a trained model (default: a freshly initialised `tiny` one; speed "
                        "does not depend on the weights)")
    parser.add_argument("--videos", type=int, default=10)
    parser.add_argument("--paper-videos", type=int, default=2, help="videos for the `paper` preset (0 to skip)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    data = DataConfig()
    runs = []
    with tempfile.TemporaryDirectory() as folder:
        rows = test_files(Path(folder), max(args.videos, args.paper_videos))
        tiny = (SyncClassifier.from_pretrained(args.checkpoint) if args.checkpoint
                else SyncClassifier(load_config("tiny").model).eval())
        runs.append(("tiny", measure(tiny, rows[: args.videos], data)))
        if args.paper_videos:
            paper = SyncClassifier(load_config("paper").model).eval()
            runs.append(("paper", measure(paper, rows[: args.paper_videos], data)))
    rows_md = "\n".join(
        f"| `{name}` | {r['videos']} | {r['batched']:.3f} | {r['loop_file']:.3f} | **{r['loop_file'] / r['batched']:.1f}×** | "
        f"{r['loop']:.3f} | {r['loop'] / r['batched']:.1f}× | {r['loop_model']:.3f} | {r['loop_model'] / r['batched']:.1f}× | "
        f"{r['max_diff']:.1e} |"
        for name, r in runs
    )
    command = "python -m benchmarks.sync_classifier_eval_speed " + " ".join(sys.argv[1:] if argv is None else argv)
    markdown = f"""### Batched 31-offset evaluation vs per-offset loop

Command: `{command.strip()}`. Machine: {machine()}, {args.threads} torch thread(s), fp32. Run {date.today().isoformat()}.
Seconds per video for the 2 × 31 scores of the VGGSoundSync protocol; files: hitting_metal.mp4 and generated
320×240 H.264/AAC clips. "Batched" decodes the 3.2 s span once and runs one forward pass; the loops score one
(audio, video) pair per forward pass: decoding each shifted clip from the file, cutting it from the decoded
span, or on inputs preprocessed once (model calls only).

| preset | videos | batched, from file (s) | loop, decode per offset (s) | speed-up | loop on decoded span (s) | speed-up | loop, model calls only (s) | speed-up | max score difference |
|---|---|---|---|---|---|---|---|---|---|
{rows_md}

The model-only speed-up is bounded: the batched pass encodes 62 clips where the loop encodes 124 (the centre
clip again for every pair), so ≈ 2× comes from sharing and the rest from batching, which helps the small
`tiny` layers more than the compute-bound `paper` ones on a CPU. Score differences come from decoding each
shifted clip separately in the file loop (AAC/resampler start), not from the batching.
"""
    write_result("sync_classifier_eval_speed", markdown)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
