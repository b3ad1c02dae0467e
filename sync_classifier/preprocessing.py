"""Model inputs from decoded media: log-mel spectrograms and normalised frame stacks.

Audio (SPEC): ImageBind's recipe, the project's one audio front end
(`model.encoders.imagebind_audio`: Kaldi log-mel, 128 × 204, fixed normalisation) on 16 kHz
mono, 2 s (the centre 2 s if longer), minus its mean.

Video: frames sampled at 6 fps by nearest timestamp from the decoded frames, short side resized
to the model's image size, centre-cropped, CLIP mean/std.

Many clips of one video overlap (21 training clips 0.2 s apart, 31 evaluation clips 0.04 s
apart), so both halves work on the whole excerpt once and then slice: `clip_fbanks` computes
one fbank and cuts windows when the clip starts fall on the 10 ms hop grid (exactly what
per-clip fbanks give, since Kaldi removes each frame's DC offset itself), and `clip_videos`
resizes each source frame once and gathers.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from model.encoders.images import CLIP_MEAN, CLIP_STD
from model.encoders.imagebind_audio import (FRAME_SHIFT_MS, centre_crop, fbank_frames, fbank_window, kaldi_log_mel,
                                            normalise_log_mel)
from sync_classifier.config import ModelConfig


def _log_mel(waveform: torch.Tensor, config: ModelConfig) -> torch.Tensor:
    """(S,) waveform → (T, mel) raw log-mel frames (T = 1 + (S − 400) // 160 at 16 kHz)."""
    return kaldi_log_mel(waveform[None], config.sample_rate, config.num_mel_bins)


def _pad_normalise(fbank: torch.Tensor, config: ModelConfig) -> torch.Tensor:
    """(T, mel) → (1, mel, fbank_frames), with the config's (= ImageBind's) statistics."""
    return normalise_log_mel(fbank, config.fbank_frames, config.fbank_mean, config.fbank_std)


def audio_to_fbank(waveform: np.ndarray | torch.Tensor, config: ModelConfig) -> torch.Tensor:
    """One clip: (S,) mono float at `config.sample_rate` → (1, 128, 204) normalised log-mel.

    Longer input is cut to its centre `clip_s` seconds; shorter input is used as is (the
    spectrogram is zero-padded). The reference implementation of the audio input.
    """
    waveform = torch.as_tensor(np.asarray(waveform, dtype=np.float32) if isinstance(waveform, np.ndarray) else waveform)
    waveform = centre_crop(waveform, round(config.clip_s * config.sample_rate))
    if len(waveform) < fbank_window(config.sample_rate):
        raise ValueError(f"audio clip of {len(waveform)} samples is shorter than one 25 ms frame")
    waveform = waveform - waveform.mean()
    return _pad_normalise(_log_mel(waveform, config), config)


def clip_fbanks(audio: np.ndarray, starts_s: Sequence[float], config: ModelConfig) -> torch.Tensor:
    """Spectrograms of many clips of one waveform: (S,) mono at `config.sample_rate`, clip
    start times in seconds from sample 0 → (K, 1, 128, 204).

    Clips reaching past the waveform are zero-padded audio. When every start is a whole number
    of 10 ms hops from the first, one fbank of the covered span is computed and sliced;
    otherwise each clip is computed on its own.
    """
    sr = config.sample_rate
    clip_len = round(config.clip_s * sr)
    hop = round(FRAME_SHIFT_MS * sr / 1000)  # samples per log-mel frame
    first = [round(s * sr) for s in starts_s]
    if not first:
        return torch.zeros(0, 1, config.num_mel_bins, config.fbank_frames)
    lo, hi = min(first), max(first) + clip_len
    span = np.zeros(hi - lo, dtype=np.float32)
    src_lo, src_hi = max(lo, 0), min(hi, len(audio))
    if src_hi > src_lo:
        span[src_lo - lo : src_hi - lo] = audio[src_lo:src_hi]
    span_t = torch.from_numpy(span)
    offsets = [f - lo for f in first]
    if all(o % hop == 0 for o in offsets):
        return fbank_clips(waveform_fbank(span_t, config), [o // hop for o in offsets], config)
    return torch.stack([audio_to_fbank(span_t[o : o + clip_len], config) for o in offsets])


def waveform_fbank(audio: np.ndarray | torch.Tensor, config: ModelConfig) -> torch.Tensor:
    """(S,) mono at `config.sample_rate` → (T, mel) raw log-mel frames of the whole waveform (10 ms
    hop, not padded or normalised): computed once per video, then cut into clips by `fbank_clips`."""
    return _log_mel(torch.as_tensor(audio), config)


def fbank_clips(fbank: torch.Tensor, first_frames: Sequence[int], config: ModelConfig) -> torch.Tensor:
    """Clips of a raw (T, mel) log-mel (`waveform_fbank`) starting at the given frame indices (10 ms
    hops) → (K, 1, 128, 204): what `clip_fbanks` gives for clips starting on the hop grid."""
    frames_per_clip = fbank_frames(round(config.clip_s * config.sample_rate), config.sample_rate)
    return torch.stack([_pad_normalise(fbank[o : o + frames_per_clip], config) for o in first_frames])


def square_frames(frames: np.ndarray, image_size: int) -> torch.Tensor:
    """(N, H, W, 3) uint8 RGB → (N, 3, S, S) float in ~[0, 1] (bicubic overshoot kept): short side resized to S
    (bicubic, antialiased; skipped when it already is S), then a centre crop."""
    x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float().div_(255.0)
    h, w = x.shape[-2:]
    if min(h, w) != image_size:
        scale = image_size / min(h, w)
        size = (max(image_size, round(h * scale)), max(image_size, round(w * scale)))
        # Not clamped: bicubic overshoot is kept, as in the authors' torchvision Resize (their
        # released classifier saw such inputs; clamping moved φ by ~1e-4 relative).
        x = F.interpolate(x, size=size, mode="bicubic", antialias=True, align_corners=False)
        h, w = size
    top, left = (h - image_size) // 2, (w - image_size) // 2
    return x[:, :, top : top + image_size, left : left + image_size]


def frames_to_tensor(frames: np.ndarray, image_size: int) -> torch.Tensor:
    """(N, H, W, 3) uint8 RGB → (N, 3, S, S) float: `square_frames`, then CLIP normalisation."""
    x = square_frames(frames, image_size)
    mean = torch.tensor(CLIP_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(CLIP_STD).view(1, 3, 1, 1)
    return ((x - mean) / std).contiguous()


def clip_frame_indices(starts_s: Sequence[float], source_fps: float, num_source: int, config: ModelConfig) -> np.ndarray:
    """(K, F) indices into frames decoded at `source_fps` (frame k at k / fps s): for each clip
    start, the source frame nearest to each of the clip's `num_frames` timestamps at
    `video_fps`. Indices are clamped to the available frames."""
    times = np.asarray(starts_s, dtype=np.float64)[:, None] + np.arange(config.num_frames) / config.video_fps
    # Nearest timestamp; an exact half-way tie picks the earlier frame (as an argmin over |Δt| does).
    index = np.ceil(times * source_fps - 0.5 - 1e-9).astype(np.int64)
    return np.clip(index, 0, num_source - 1)


def clip_videos(frames: np.ndarray, source_fps: float, starts_s: Sequence[float], config: ModelConfig,
                flip: np.ndarray | None = None) -> torch.Tensor:
    """Video inputs of many clips of one decoded video: frames (N, H, W, 3) uint8 at
    `source_fps`, clip starts in seconds from frame 0 → (K, 3, F, S, S). `flip` (K,) bool
    mirrors chosen clips horizontally. Only the source frames that some clip uses are resized."""
    index = clip_frame_indices(starts_s, source_fps, len(frames), config)
    used, inverse = np.unique(index, return_inverse=True)
    images = frames_to_tensor(frames[used], config.image_size)  # (U, 3, S, S)
    video = images[torch.from_numpy(inverse.reshape(index.shape))]  # (K, F, 3, S, S)
    video = video.permute(0, 2, 1, 3, 4).contiguous()
    if flip is not None and np.any(flip):
        mask = torch.from_numpy(np.asarray(flip, dtype=bool))
        video[mask] = video[mask].flip(-1)
    return video


def required_span_s(num: int, step_s: float, config: ModelConfig) -> float:
    """Seconds of media that `num` clips `step_s` apart cover (first start to last end)."""
    return (num - 1) * step_s + config.clip_s

