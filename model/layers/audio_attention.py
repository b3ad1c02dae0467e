"""Audio cross-attention (paper §4.2 "Audio Conditioning"; implementation notes A5.2, A7).

Each frame's latent tokens attend to the audio tokens of its video through its own LayerNorm and
a residual, restricted by a per-frame boolean mask (the global token plus the patch columns of
that frame's time segment). Keys and values are computed once per video and shared by its
frames. Default (non-zero) init, as the authors do.
"""

from __future__ import annotations

import torch
from diffusers.models.attention_processor import Attention
from torch import nn

from model.layers.attention import multihead_attention
from model.layers.frames import unfold_frames


class AudioCrossAttention(nn.Module):
    """x (B·F, N, C), tokens (B, T, D), mask (B, F, T) bool → x + attention(norm(x), tokens).

    Parameters: LayerNorm 2C, q C², k/v 2·D·C (no bias), out C² + C.
    """

    def __init__(self, dim: int, audio_dim: int, heads: int, norm_eps: float = 1e-5):
        super().__init__()
        if dim % heads:
            raise ValueError(f"dim {dim} is not divisible by {heads} heads")
        self.norm = nn.LayerNorm(dim, eps=norm_eps)
        self.attn = Attention(query_dim=dim, cross_attention_dim=audio_dim, heads=heads, dim_head=dim // heads,
                              bias=False, out_bias=True)

    def forward(self, x: torch.Tensor, tokens: torch.Tensor, mask: torch.Tensor | None, num_frames: int) -> torch.Tensor:
        video = unfold_frames(self.norm(x), num_frames)  # (B, F, N, C)
        out = multihead_attention(self.attn, video, tokens[:, None].to(x.dtype), mask)  # (B, F, N, C)
        return x + out.reshape(x.shape)
