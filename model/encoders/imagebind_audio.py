"""ImageBind's audio input: waveform → normalised log-mel spectrograms, exactly as upstream.

The project's one audio front end: ImageBind's clips (`audio_clips`), AVSyncD's audio encoders
(`centre_clip_mel`: the real ImageBind one and the stand-in) and the sync classifier
(`sync_classifier.preprocessing`) all use the recipe and constants defined here.

Per 2 s clip (16 kHz mono): subtract the clip's mean, Kaldi fbank (torchaudio.compliance.kaldi:
Hanning window, 25 ms frames every 10 ms, 128 mel bins, htk_compat, no dither, no energy),
transpose to (128, frames), zero-pad or cut to 204 frames, then (x − (−4.268)) / 9.138.

Clips follow upstream's constant-clips sampler (pytorchvideo's ConstantClipsPerVideoSampler, as
in pytorchvideo 0.1.5 and its main branch): clip i of `clips` starts at i · (duration − clip_s)
/ clips, so 3 clips of a 10 s file start at 0, 2.67 and 5.33 s (the last 2.67 s are never seen)
and those of a 3 s curation window at 0, 1/3 and 2/3 s. Checked bit for bit against upstream's
`data.py` on a real VGGSound file (tests/model/encoders/test_imagebind_audio.py keeps its numbers). Upstream's quirk is kept: each clip's mean is subtracted
*in place* on a view of the shared waveform, so a clip overlapping an earlier one sees that
earlier subtraction too (it matters whenever clips overlap, e.g. on 3 s windows).
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import torch

SAMPLE_RATE = 16000  # Hz
FBANK_MEAN, FBANK_STD = -4.268, 9.138  # ImageBind's (AudioSet) normalisation of the log-mel
MEL_BINS, MEL_FRAMES = 128, 204
FRAME_LENGTH_MS, FRAME_SHIFT_MS = 25.0, 10.0  # Kaldi analysis window and hop
CLIP_S = 2.0  # seconds per clip
CLIPS = 3  # clips per sample (upstream default)


def kaldi_log_mel(clip: torch.Tensor, sample_rate: int = SAMPLE_RATE, mel_bins: int = MEL_BINS) -> torch.Tensor:
    """(1, S) waveform in [-1, 1] → (frames, mel_bins) float32 Kaldi log-mel; frames = 1 + (S − 400) // 160."""
    from torchaudio.compliance import kaldi  # torchaudio only when audio is encoded

    return kaldi.fbank(clip.float(), htk_compat=True, sample_frequency=sample_rate, use_energy=False,
                       window_type="hanning", num_mel_bins=mel_bins, dither=0.0, frame_length=FRAME_LENGTH_MS,
                       frame_shift=FRAME_SHIFT_MS)


def normalise_log_mel(fbank: torch.Tensor, frames: int = MEL_FRAMES, mean: float = FBANK_MEAN,
                      std: float = FBANK_STD) -> torch.Tensor:
    """(T, mel) log-mel → (1, mel, frames): transposed, zero-padded at the end or cut (before
    normalising, as upstream), then (x − mean) / std."""
    mel = fbank.T
    if mel.shape[1] < frames:
        mel = torch.nn.functional.pad(mel, (0, frames - mel.shape[1]))
    return ((mel[:, :frames] - mean) / std)[None]


def centre_crop(waveform: torch.Tensor, length: int) -> torch.Tensor:
    """(..., S) → (..., min(S, length)): the centre `length` samples (start rounded down); shorter input as is."""
    s = waveform.shape[-1]
    if s <= length:
        return waveform
    start = (s - length) // 2
    return waveform[..., start : start + length]


def centre_clip(waveform: torch.Tensor, length: int) -> torch.Tensor:
    """(..., S) → (..., length): centre crop, or zero-pad at the end (as the authors' loader)."""
    wave = centre_crop(waveform, length)
    return torch.nn.functional.pad(wave, (0, length - wave.shape[-1])) if wave.shape[-1] < length else wave


def clip_bounds(num_samples: int, sample_rate: int = SAMPLE_RATE, clips: int = CLIPS,
                clip_s: float = CLIP_S) -> list[tuple[int, int]]:
    """Sample ranges [start, stop) of upstream's clips for a waveform of `num_samples`.

    Upstream works in fractions of the float duration, divides the latest possible start by the
    number of clips (not clips − 1), and truncates `time · rate` to int; ranges past the end are
    cut by slicing (a short waveform gives short clips, zero-padded later in the log-mel).
    """
    duration = num_samples / sample_rate
    length = Fraction(clip_s)
    step = Fraction(max(duration - length, 0)) / clips
    return [(int(step * i * sample_rate), int((step * i + length) * sample_rate)) for i in range(clips)]

def audio_clips(waveform: np.ndarray | torch.Tensor, sample_rate: int = SAMPLE_RATE, clips: int = CLIPS,
                clip_s: float = CLIP_S, frames: int = MEL_FRAMES, mel_bins: int = MEL_BINS) -> torch.Tensor:
    """(S,) mono waveform at 16 kHz → (clips, 1, mel_bins, frames) normalised log-mels, upstream's
    `load_and_transform_audio_data` on an already loaded mono waveform (in-place quirk included)."""
    if sample_rate != SAMPLE_RATE:
        raise ValueError(f"ImageBind audio is {SAMPLE_RATE} Hz, got {sample_rate}")
    # Our own float32 copy: the in-place mean subtraction below must not touch the caller's array.
    wave = torch.tensor(np.asarray(waveform, dtype=np.float32)).reshape(1, -1)
    if wave.shape[1] == 0:
        raise ValueError("empty waveform")
    mels = []
    for start, stop in clip_bounds(wave.shape[1], sample_rate, clips, clip_s):
        view = wave[:, start:stop]
        view -= view.mean()  # in place on the shared buffer, as upstream (see module docstring)
        mels.append(normalise_log_mel(kaldi_log_mel(view, sample_rate, mel_bins), frames))
    return torch.stack(mels)


def centre_clip_mel(waveform: np.ndarray | torch.Tensor, sample_rate: int = SAMPLE_RATE, clip_s: float = CLIP_S,
                    frames: int = MEL_FRAMES, mel_bins: int = MEL_BINS) -> torch.Tensor:
    """(S,) waveform → (1, mel_bins, frames): the one clip AVSyncD encodes (authors' loader): the
    centre `clip_s` seconds (zero-padded at the end if shorter), mean removed, log-mel, normalised."""
    wave = centre_clip(torch.as_tensor(np.asarray(waveform, dtype=np.float32)).reshape(-1), round(clip_s * sample_rate))
    wave = (wave - wave.mean())[None]
    return normalise_log_mel(kaldi_log_mel(wave, sample_rate, mel_bins), frames)


def null_mel(mel_bins: int = MEL_BINS, frames: int = MEL_FRAMES) -> torch.Tensor:
    """(1, mel_bins, frames) zeros in the *normalised* space: the authors' "no audio" input
    (a raw log-mel of −4.268 everywhere), used for classifier-free audio guidance."""
    return torch.zeros(1, mel_bins, frames)


def fbank_frames(num_samples: int, sample_rate: int = SAMPLE_RATE) -> int:
    """Kaldi frames (snip_edges) for `num_samples`: 198 for 2 s at 16 kHz (then padded to 204)."""
    window, shift = fbank_window(sample_rate), round(FRAME_SHIFT_MS * sample_rate / 1000)
    return 0 if num_samples < window else 1 + (num_samples - window) // shift


def fbank_window(sample_rate: int = SAMPLE_RATE) -> int:
    """Samples in one Kaldi analysis window (400 at 16 kHz): the shortest waveform with a log-mel frame."""
    return round(FRAME_LENGTH_MS * sample_rate / 1000)


__all__ = ["CLIPS", "CLIP_S", "FBANK_MEAN", "FBANK_STD", "FRAME_LENGTH_MS", "FRAME_SHIFT_MS", "MEL_BINS", "MEL_FRAMES",
           "SAMPLE_RATE", "audio_clips", "centre_clip", "centre_clip_mel", "centre_crop", "clip_bounds", "fbank_frames",
           "fbank_window", "kaldi_log_mel", "normalise_log_mel", "null_mel"]
