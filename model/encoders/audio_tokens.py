"""Time-aware ImageBind audio tokens for AVSyncD (paper §4.2 "Audio Conditioning", SPEC "Audio tokens").

The frozen ImageBind audio branch (preprocessor + trunk) turns one 2 s clip into 229 tokens of
768: token 0 is the global (cls) token, token 1 + f·19 + τ the patch at frequency row f (12) and
time column τ (19). A fresh LayerNorm without affine parameters (the authors' extra LN, never
trained: a plain standardisation, eps 1e-6) is applied to every token.

Frame t of F = 12 sees the global token and all 12 frequency rows of its time segment: the 19
columns split into F overlapping windows of ⌈19 / F⌉ = 2 columns, starts evenly spaced
(0 2 3 5 6 8 9 11 12 14 15 17), i.e. 1 + 12·2 = 25 of the 229 tokens. Two equivalent forms:

    frame_token_mask(F)               (F, 229) bool, True = visible: an attention mask over all tokens
    gather_frame_tokens(tokens, F)    (B, F, 25, 768): the visible tokens gathered per frame (cls first)

`ImageBindAudioEncoder` implements `model.audio_conditioning.AudioTokenEncoder`.
"""

from __future__ import annotations

import math
import os

import numpy as np
import torch
from torch import nn

from model.encoders.imagebind import ImageBind, ImageBindConfig, load_imagebind
from model.encoders.imagebind_audio import CLIP_S, SAMPLE_RATE, centre_clip_mel, null_mel


def segment_starts(num_frames: int, time_patches: int = 19, width: int | None = None) -> list[int]:
    """First time column of each frame's segment (`width` = ⌈time_patches / num_frames⌉ by default)."""
    width = width or math.ceil(time_patches / num_frames)
    return [int(s) for s in np.round(np.linspace(0, time_patches - width, num_frames))]


def frame_token_index(num_frames: int, grid: tuple[int, int] = (12, 19), width: int | None = None) -> torch.Tensor:
    """(F, 1 + freq·width) int64: the tokens frame t sees — 0 (cls), then its patches frequency-major."""
    freq, time = grid
    width = width or math.ceil(time / num_frames)
    rows = torch.arange(freq)[:, None] * time  # (freq, 1)
    index = []
    for start in segment_starts(num_frames, time, width):
        patches = 1 + rows + torch.arange(start, start + width)[None]  # (freq, width)
        index.append(torch.cat([torch.zeros(1, dtype=torch.long), patches.flatten()]))
    return torch.stack(index)


def frame_token_mask(num_frames: int, grid: tuple[int, int] = (12, 19), width: int | None = None) -> torch.Tensor:
    """(F, 1 + freq·time) bool attention mask, True where frame t may attend."""
    index = frame_token_index(num_frames, grid, width)
    mask = torch.zeros(num_frames, 1 + grid[0] * grid[1], dtype=torch.bool)
    return mask.scatter_(1, index, True)


def gather_frame_tokens(tokens: torch.Tensor, num_frames: int, grid: tuple[int, int] = (12, 19),
                        width: int | None = None) -> torch.Tensor:
    """(B, T, D) tokens → (B, F, K, D) with K = 1 + freq·width visible tokens per frame."""
    index = frame_token_index(num_frames, grid, width).to(tokens.device)
    return tokens[:, index]


class ImageBindAudioEncoder(nn.Module):
    """Frozen ImageBind audio tokens: (B, S) 16 kHz waveform → (B, 229, 768) (huge preset).

    Longer waveforms are centre-cropped to 2 s, shorter ones zero-padded (the authors' loader).
    No `save_pretrained`: the weights are ImageBind's (CC BY-NC-SA 4.0) and are loaded from the
    user's `imagebind_huge.pth`, never copied into a model folder.
    """

    sample_rate = SAMPLE_RATE

    def __init__(self, imagebind: ImageBind, clip_s: float = CLIP_S):
        super().__init__()
        if "audio" not in imagebind.modalities:
            raise ValueError("ImageBindAudioEncoder needs an ImageBind with the audio branch")
        self.imagebind = imagebind
        self.clip_s = clip_s
        cfg: ImageBindConfig = imagebind.config
        # The authors' extra LayerNorm: fresh and frozen, so weight 1 / bias 0 → no affine part.
        self.token_norm = nn.LayerNorm(cfg.audio_width, eps=1e-6, elementwise_affine=False)

    @property
    def grid(self) -> tuple[int, int]:
        return self.imagebind.config.audio_grid

    @property
    def clip_samples(self) -> int:
        return round(self.clip_s * self.sample_rate)

    @property
    def num_tokens(self) -> int:
        return self.imagebind.config.audio_tokens

    @property
    def token_dim(self) -> int:
        return self.imagebind.config.audio_width

    @property
    def device(self) -> torch.device:
        return self.imagebind.device

    def tokens_from_mel(self, mels: torch.Tensor) -> torch.Tensor:
        """(B, 1, 128, 204) normalised log-mel → (B, 229, D) standardised trunk tokens."""
        return self.token_norm(self.imagebind.audio_tokens(mels.to(self.device)))

    @torch.no_grad()
    def encode(self, waveform: torch.Tensor) -> torch.Tensor:
        """(B, S) float waveform in [-1, 1] at 16 kHz → (B, 229, D)."""
        wave = torch.as_tensor(waveform).detach().float().cpu()
        mels = torch.stack([centre_clip_mel(row.numpy(), self.sample_rate, self.clip_s) for row in wave.reshape(len(wave), -1)])
        return self.tokens_from_mel(mels)

    @torch.no_grad()
    def encode_null(self, batch_size: int) -> torch.Tensor:
        """(B, 229, D) tokens of the all-zero normalised log-mel (classifier-free guidance)."""
        cfg = self.imagebind.config
        return self.tokens_from_mel(null_mel(cfg.mel_bins, cfg.mel_frames)[None]).expand(batch_size, -1, -1)

    def frame_mask(self, num_frames: int) -> torch.Tensor:
        """(F, 229) bool, True = frame t may attend to the token."""
        return frame_token_mask(num_frames, self.grid).to(self.device)


def load_imagebind_audio_encoder(checkpoint: str | os.PathLike, preset: str | ImageBindConfig = "huge",
                                 device: str | torch.device = "cpu", dtype: torch.dtype | None = None
                                 ) -> ImageBindAudioEncoder:
    """AVSyncD's audio encoder from `imagebind_huge.pth` (audio keys only, loaded strictly)."""
    return ImageBindAudioEncoder(load_imagebind(checkpoint, preset, modalities=("audio",), device=device,
                                                dtype=dtype)).eval()
