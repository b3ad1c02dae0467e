"""PSync, RelSync and AlignSync (paper Eqs. 1-4, SPEC) and `python -m sync_classifier.sync_metrics`.

- PSync(a, v)   = softmax_j φ(a, v_j) at the synchronized candidate, over temporally shifted
                  video clips v_j of the same video (Eq. 1 without τ). Curation scores windows with it.
- RelSync(a, v̂, v) = softmax([φ(a, v), φ(a, v̂)])[1]: generated video v̂ against the reference v;
                  0.5 = as synchronized as the ground truth (Eq. 2).
- P_Align = mean over generated frames i = 2..F of softmax([IA(a, v_1), IA(a, v̂_i)])[1] with v_1
                  the ground-truth first frame; AlignSync = P_Align · RelSync (Eqs. 3-4). IA is a raw
                  image-audio cosine similarity from an `ImageAudioScorer` (ImageBind in the project).

CLI, over files (the generated video is 12 frames at 6 fps; longer inputs use their centre 2 s):

    python -m sync_classifier.sync_metrics --checkpoint runs/sync/final \
        --video generated.mp4 --reference ground_truth.mp4 [--audio input.wav]
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
import torch

from curation.config import MediaConfig
from curation.media import DecodedMedia, MediaError, decode, probe, read_audio
from sync_classifier.model import SyncClassifier
from sync_classifier.preprocessing import audio_to_fbank, clip_fbanks, clip_videos, square_frames

# Frames handed to an ImageAudioScorer: centre-cropped squares of this side (ImageBind's input size).
SCORER_IMAGE_SIZE = 224


# ---- formulas -------------------------------------------------------------------------------

def _softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    z = np.exp(x - x.max(axis=axis, keepdims=True))
    return z / z.sum(axis=axis, keepdims=True)


def psync(scores: np.ndarray, synced_index: int | np.ndarray) -> np.ndarray:
    """scores (..., K) of one audio against K shifted videos → (...) probability of the
    synchronized one (plain softmax, no temperature)."""
    probs = _softmax(scores)
    index = np.broadcast_to(np.asarray(synced_index, dtype=np.int64), probs.shape[:-1])
    return np.take_along_axis(probs, index[..., None], -1)[..., 0]


def relsync(score_generated: np.ndarray | float, score_reference: np.ndarray | float) -> np.ndarray:
    """softmax([φ(a, v_ref), φ(a, v_gen)])[1] elementwise; 0.5 when both are equal."""
    return _softmax(np.stack([np.asarray(score_reference, float), np.asarray(score_generated, float)], -1))[..., 1]


def align_probability(ia_first_frame: float, ia_generated: np.ndarray) -> float:
    """P_Align: mean over generated frames of softmax([IA(a, v_1), IA(a, v̂_i)])[1]."""
    ia_generated = np.asarray(ia_generated, dtype=np.float64)
    pairs = np.stack([np.full_like(ia_generated, ia_first_frame), ia_generated], -1)
    return float(_softmax(pairs)[..., 1].mean())


def alignsync(relsync_value: float, align_prob: float) -> float:
    return float(align_prob * relsync_value)


@runtime_checkable
class ImageAudioScorer(Protocol):
    """Image-audio alignment (IA) scores; the ImageBind encoder implements it."""

    def image_audio_scores(self, images: np.ndarray, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        """images (N, 224, 224, 3) uint8 RGB, audio (S,) float32 mono at `sample_rate` Hz →
        (N,) raw cosine similarity of each image's embedding with the audio's (not ×100)."""
        ...


# ---- PSync over curation windows ------------------------------------------------------------

@dataclass(frozen=True)
class _WindowPlan:
    """Where one video's windows take their clips: per valid window its audio start and its
    candidates (video shift, video clip start), seconds on the media's timeline."""

    valid: list[int]
    audio_starts: list[float]
    candidates: list[list[tuple[float, float]]]
    video_starts: list[float]


def _plan_windows(media: DecodedMedia, windows: Sequence[tuple[float, float]], clip_s: float, shift_s: float,
                  max_offset_s: float) -> _WindowPlan:
    k_max = int(np.floor(max_offset_s / shift_s + 1e-9))
    offsets = np.arange(-k_max, k_max + 1) * shift_s
    limit = media.duration_s - clip_s + 1e-6
    valid, audio_starts, candidates = [], [], []
    for i, (start, end) in enumerate(windows):
        a_start = (start + end) / 2 - clip_s / 2
        keep = [(float(o), round(a_start + o, 4)) for o in offsets if -1e-6 <= a_start + o <= limit]
        if -1e-6 <= a_start <= limit and keep:
            valid.append(i)
            audio_starts.append(a_start)
            candidates.append(keep)
    video_starts = sorted({s for keep in candidates for _, s in keep})
    return _WindowPlan(valid, audio_starts, candidates, video_starts)


def _encode_across_videos(encode, make_inputs, starts_per_video: Sequence[Sequence[float]], batch_size: int,
                          device) -> list[torch.Tensor]:
    """Encode the clips starting at `starts_per_video[v]` of every video v in batches of
    `batch_size` that span videos (the next batch prepared in a background thread while the model
    runs). `make_inputs(v, starts)` → the model inputs of those clips of video v.
    Returns per video its (K_v, E) embeddings."""
    from curation.metrics.neural_scoring import batched, prefetch

    flat = [(v, s) for v, starts in enumerate(starts_per_video) for s in starts]

    def batches():
        for chunk in batched(flat, batch_size):
            parts: dict[int, list[float]] = {}
            for v, s in chunk:
                parts.setdefault(v, []).append(s)
            yield [v for v, _ in chunk], torch.cat([make_inputs(v, starts) for v, starts in parts.items()])

    owners: list[int] = []
    embeddings = []
    for chunk_owners, inputs in prefetch(batches()):
        owners += chunk_owners
        embeddings.append(encode(inputs.to(device)))
    if not embeddings:
        return [torch.zeros(0) for _ in starts_per_video]
    all_embeddings = torch.cat(embeddings)
    owner = torch.tensor(owners)
    return [all_embeddings[owner == v] for v in range(len(starts_per_video))]


@torch.no_grad()
def windows_psync(model: SyncClassifier, videos: Sequence[tuple[DecodedMedia, Sequence[tuple[float, float]]]],
                  shift_s: float = 0.2, max_offset_s: float = 2.0, batch_size: int = 64) -> list[dict[str, np.ndarray]]:
    """PSync of each window [start_s, end_s) of each (media, windows) video, clips batched across videos.

    The audio is the 2 s centred in the window; candidates are the video clips starting at the
    same time ± k·shift_s for |k·shift_s| ≤ max_offset_s (21 candidates 0.2 s apart by default,
    as in training), keeping those inside the media. Each video's clips are encoded once and
    shared by its overlapping windows; encoder batches of `batch_size` clips span videos.
    Returns per video, per window, `psync`, `sync_score` (φ of the synchronized pair) and
    `sync_offset_s` (video shift of the best-scoring candidate); NaN for windows too short.
    """
    cfg = model.config
    plans = [_plan_windows(media, windows, cfg.clip_s, shift_s, max_offset_s) for media, windows in videos]
    audio_emb = _encode_across_videos(model.encode_audio, lambda v, s: clip_fbanks(videos[v][0].audio, s, cfg),
                                      [p.audio_starts for p in plans], batch_size, model.device)
    video_emb = _encode_across_videos(
        model.encode_video, lambda v, s: clip_videos(videos[v][0].frames, videos[v][0].fps, s, cfg),
        [p.video_starts for p in plans], batch_size, model.device)
    results = []
    for (_, windows), plan, audio, video in zip(videos, plans, audio_emb, video_emb):
        n = len(windows)
        out = {"psync": np.full(n, np.nan), "sync_score": np.full(n, np.nan), "sync_offset_s": np.full(n, np.nan)}
        position = {s: j for j, s in enumerate(plan.video_starts)}
        for row, (i, keep) in enumerate(zip(plan.valid, plan.candidates)):
            index = [position[s] for _, s in keep]
            scores = model.head.all_pairs(audio[row : row + 1], video[index])[0].float().cpu().numpy()
            synced = int(np.argmin([abs(o) for o, _ in keep]))
            out["psync"][i] = psync(scores, synced)
            out["sync_score"][i] = scores[synced]
            out["sync_offset_s"][i] = keep[int(np.argmax(scores))][0]
        results.append(out)
    return results


def window_psync(model: SyncClassifier, media: DecodedMedia, windows: Sequence[tuple[float, float]],
                 shift_s: float = 0.2, max_offset_s: float = 2.0, batch_size: int = 64) -> dict[str, np.ndarray]:
    """`windows_psync` of one video."""
    return windows_psync(model, [(media, windows)], shift_s, max_offset_s, batch_size)[0]


# ---- RelSync / AlignSync over files --------------------------------------------------------

@dataclass(frozen=True)
class SyncReport:
    score_generated: float  # φ(a, v̂)
    score_reference: float  # φ(a, v)
    relsync: float
    align_probability: float | None = None
    alignsync: float | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def _square_uint8(frames: np.ndarray, size: int = SCORER_IMAGE_SIZE) -> np.ndarray:
    x = square_frames(frames, size).mul_(255.0).round_().clamp_(0, 255).to(torch.uint8)
    return x.permute(0, 2, 3, 1).numpy()


def _centre_excerpt(frames: np.ndarray, fps: float, count: int) -> np.ndarray:
    if len(frames) < count:
        raise ValueError(f"video has {len(frames)} frames at {fps:g} fps; need {count}")
    start = (len(frames) - count) // 2
    return frames[start : start + count]


def read_clip_frames(path: str | Path, fps: float, num_frames: int, short_side: int = 224) -> np.ndarray:
    """The centre `num_frames` frames at `fps` of a video: (F, H, W, 3) uint8."""
    info = probe(path, MediaConfig(require_audio=False))
    media = decode(path, MediaConfig(fps=fps, short_side=short_side, require_audio=False), info=info)
    return _centre_excerpt(media.frames, fps, num_frames)


@torch.no_grad()
def sync_report(model: SyncClassifier, audio: np.ndarray, generated: np.ndarray, reference: np.ndarray,
                scorer: ImageAudioScorer | None = None) -> SyncReport:
    """RelSync (and AlignSync when `scorer` is given) of one generated clip.

    audio (S,) mono at the model's rate (its centre 2 s is used); generated / reference
    (F, H, W, 3) uint8 frames at the model's 6 fps.
    """
    cfg = model.config
    fbank = audio_to_fbank(audio, cfg)[None].to(model.device)  # (1, 1, mel, T)
    starts = [0.0]
    videos = torch.cat([clip_videos(frames, cfg.video_fps, starts, cfg) for frames in (generated, reference)])
    scores = model.head.all_pairs(model.encode_audio(fbank), model.encode_video(videos.to(model.device)))[0]
    s_gen, s_ref = (float(x) for x in scores.float().cpu())
    rel = float(relsync(s_gen, s_ref))
    if scorer is None:
        return SyncReport(s_gen, s_ref, rel)
    target = round(cfg.clip_s * cfg.sample_rate)
    if len(audio) > target:
        start = (len(audio) - target) // 2
        audio = audio[start : start + target]
    # Ground-truth first frame, then generated frames 2..F, on one square grid (the two videos'
    # sizes may differ; image encoders crop to a square anyway).
    images = np.concatenate([_square_uint8(reference[:1]), _square_uint8(generated[1:])])
    ia = np.asarray(scorer.image_audio_scores(images, audio.astype(np.float32), cfg.sample_rate), dtype=np.float64)
    if ia.shape != (len(images),):
        raise ValueError(f"scorer returned shape {ia.shape}, expected ({len(images)},)")
    p_align = align_probability(ia[0], ia[1:])
    return SyncReport(s_gen, s_ref, rel, p_align, alignsync(rel, p_align))


@torch.no_grad()
def sync_scores(model: SyncClassifier, audios: Sequence[np.ndarray], videos: Sequence[np.ndarray],
                batch_size: int = 32) -> np.ndarray:
    """φ(a_i, v_i) of N matched pairs in batches (the batched path of `sync_report` for evaluation).

    audios: N (S,) mono waveforms at the model's rate (centre 2 s used); videos: N (F, H, W, 3)
    uint8 clips at the model's 6 fps → (N,) float64 scores. RelSync is then
    `relsync(scores_generated, scores_reference)` elementwise.
    """
    if len(audios) != len(videos):
        raise ValueError(f"{len(audios)} audios for {len(videos)} videos")
    cfg = model.config
    out = []
    for b in range(0, len(videos), batch_size):
        fbank = torch.stack([audio_to_fbank(a, cfg) for a in audios[b : b + batch_size]]).to(model.device)
        video = torch.cat([clip_videos(v, cfg.video_fps, [0.0], cfg) for v in videos[b : b + batch_size]])
        out.append(model.head(model.encode_audio(fbank), model.encode_video(video.to(model.device))).float().cpu())
    return torch.cat(out).numpy().astype(np.float64) if out else np.zeros(0)


def sync_report_for_files(model: SyncClassifier, generated: str | Path, reference: str | Path,
                          audio: str | Path | None = None, scorer: ImageAudioScorer | None = None) -> SyncReport:
    """`sync_report` on files. Without `audio`, the reference video's own audio track is used
    (the ground-truth audio the generation was conditioned on)."""
    cfg = model.config
    short_side = max(cfg.image_size, 224)
    gen_frames = read_clip_frames(generated, cfg.video_fps, cfg.num_frames, short_side)
    ref_frames = read_clip_frames(reference, cfg.video_fps, cfg.num_frames, short_side)
    waveform = read_audio(audio if audio is not None else reference, cfg.sample_rate)
    return sync_report(model, waveform, gen_frames, ref_frames, scorer)


def load_scorer(spec: str) -> ImageAudioScorer:
    """`package.module:name` → an instance (a class or a factory is called without arguments)."""
    module_name, _, attr = spec.partition(":")
    if not attr:
        raise ValueError(f"scorer {spec!r} must look like package.module:ClassOrFactory")
    scorer = getattr(importlib.import_module(module_name), attr)()
    if not isinstance(scorer, ImageAudioScorer):
        raise TypeError(f"{spec} has no image_audio_scores(images, audio, sample_rate) method")
    return scorer


def main(argv: list[str] | None = None, scorer: ImageAudioScorer | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sync_classifier.sync_metrics", description=__doc__.split("\n")[0])
    parser.add_argument("--checkpoint", required=True, help="sync classifier folder (config.json + model.safetensors)")
    parser.add_argument("--video", required=True, help="generated video (12 frames at 6 fps)")
    parser.add_argument("--reference", required=True, help="ground-truth video of the same clip")
    parser.add_argument("--audio", help="conditioning audio (.wav or any video/audio container); "
                        "default: the reference video's audio track")
    parser.add_argument("--imagebind", metavar="CHECKPOINT",
                        help="imagebind_huge.pth: AlignSync with ImageBind's image-audio scores (the paper's IA)")
    parser.add_argument("--imagebind-preset", default="huge", help="ImageBind size of that file (default: huge)")
    parser.add_argument("--scorer", help="another image-audio scorer for AlignSync, as package.module:ClassOrFactory")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    if args.scorer:
        scorer = load_scorer(args.scorer)
    elif args.imagebind:
        from model.encoders.image_audio import ImageBindIAScorer

        try:
            scorer = ImageBindIAScorer(args.imagebind, args.imagebind_preset, device=args.device)
        except (FileNotFoundError, ValueError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    model = SyncClassifier.from_pretrained(args.checkpoint, device=args.device)
    try:
        report = sync_report_for_files(model, args.video, args.reference, args.audio, scorer)
    except (MediaError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(report.as_dict(), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
