"""Audio tokens for AVSyncD: the interface the ImageBind audio encoder fills, the per-frame segment
masks, and a small stand-in encoder with the same output until the real one lands.

Interface (`AudioTokenEncoder`, SPEC "AVSyncD / Audio tokens"): a frozen module mapping a 16 kHz
mono waveform (B, S) to tokens (B, T, D) — ImageBind-huge: T = 229 (1 global + 12 freq × 19 time
patches, frequency-major: index 1 + f·19 + τ), D = 768 after an extra LayerNorm — plus the
null-audio tokens (the encoder on an all-zero *normalised* log-mel) and the (F, T) visibility
mask of each frame (global token + 2 of the 19 patch columns,
`model.encoders.audio_tokens.frame_token_mask`).

`StandInAudioEncoder` follows the same recipe with frozen, seeded random weights and no
transformer trunk: the real ImageBind fbank (`model.encoders.imagebind_audio.centre_clip_mel`:
128 mel × 204 frames, normalised), a 16×16 stride-10 patch projection to D, a global token,
position embeddings and a final LayerNorm. Its tokens keep
the time layout of the real ones (local spectral energy per patch), which is what the per-frame
masks and the synchronization learning rely on; it carries no pretrained semantics.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin
from torch import nn

from model.encoders.audio_tokens import frame_token_mask
from model.encoders.imagebind_audio import centre_clip_mel


@runtime_checkable
class AudioTokenEncoder(Protocol):
    """What AVSyncD needs from an audio encoder (frozen; called under torch.no_grad)."""

    sample_rate: int  # Hz of the expected waveform (16000)
    clip_samples: int  # samples per clip (2 s · 16 kHz = 32000); longer input is centre-cropped
    num_tokens: int  # T (229)
    token_dim: int  # D (768)

    def encode(self, waveform: torch.Tensor) -> torch.Tensor:
        """(B, S) float waveform in [-1, 1] → (B, T, D) tokens."""

    def encode_null(self, batch_size: int) -> torch.Tensor:
        """(B, T, D) null-audio tokens (all-zero normalised log-mel through the encoder)."""

    def frame_mask(self, num_frames: int) -> torch.Tensor:
        """(F, T) bool, True = frame t may attend to the token."""


class StandInAudioEncoder(ModelMixin, ConfigMixin):
    """Frozen stand-in with ImageBind's token layout: (B, S) at 16 kHz → (B, 229, D).

    Patch grid: 128 mel × 204 frames, kernel 16, stride 10 → 12 × 19 patches; token 0 is global.
    Weights come from `seed` and are saved with the model (they are part of the trained model's
    definition: AVSyncD trained on these tokens needs the same ones at inference).
    """

    @register_to_config
    def __init__(self, token_dim: int = 768, sample_rate: int = 16000, clip_seconds: float = 2.0,
                 num_mel_bins: int = 128, target_frames: int = 204, patch: int = 16, stride: int = 10, seed: int = 0):
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        self.freq_patches = (num_mel_bins - patch) // stride + 1
        self.time_patches = (target_frames - patch) // stride + 1
        self.patch_embed = nn.Conv2d(1, token_dim, patch, stride, bias=False)
        self.global_token = nn.Parameter(torch.zeros(1, 1, token_dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + self.freq_patches * self.time_patches, token_dim))
        self.norm = nn.LayerNorm(token_dim, eps=1e-6, elementwise_affine=False)
        with torch.no_grad():  # seeded, reproducible init independent of the global RNG
            self.patch_embed.weight.copy_(torch.randn(self.patch_embed.weight.shape, generator=generator) / patch)
            self.global_token.copy_(torch.randn(self.global_token.shape, generator=generator))
            self.pos_embed.copy_(0.1 * torch.randn(self.pos_embed.shape, generator=generator))
        self.requires_grad_(False)

    @property
    def sample_rate(self) -> int:
        return self.config.sample_rate

    @property
    def clip_samples(self) -> int:
        return round(self.config.clip_seconds * self.config.sample_rate)

    @property
    def num_tokens(self) -> int:
        return 1 + self.freq_patches * self.time_patches

    @property
    def token_dim(self) -> int:
        return self.config.token_dim

    def tokens_from_fbank(self, fbank: torch.Tensor) -> torch.Tensor:
        """(B, 1, mel, frames) normalised log-mel → (B, T, D)."""
        patches = self.patch_embed(fbank.to(self.patch_embed.weight.dtype)).flatten(2).transpose(1, 2)  # freq-major
        tokens = torch.cat([self.global_token.expand(len(fbank), -1, -1), patches], dim=1)
        return self.norm(tokens + self.pos_embed)

    @torch.no_grad()
    def encode(self, waveform: torch.Tensor) -> torch.Tensor:
        cfg = self.config
        fbank = torch.stack([centre_clip_mel(row, cfg.sample_rate, cfg.clip_seconds, cfg.target_frames, cfg.num_mel_bins)
                             for row in waveform.detach().float().cpu()])  # (B, 1, mel, frames)
        return self.tokens_from_fbank(fbank.to(self.device))

    @torch.no_grad()
    def encode_null(self, batch_size: int) -> torch.Tensor:
        cfg = self.config
        zeros = torch.zeros(1, 1, cfg.num_mel_bins, cfg.target_frames, device=self.device)
        return self.tokens_from_fbank(zeros).expand(batch_size, -1, -1)

    def frame_mask(self, num_frames: int) -> torch.Tensor:
        return frame_token_mask(num_frames, (self.freq_patches, self.time_patches)).to(self.device)
