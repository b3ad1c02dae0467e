"""Temporal attention (paper §4.2 "Temporal Attention"; implementation notes A5.4).

At every spatial position the F frames attend to each other (no causal mask). A sinusoidal
embedding of the frame index (diffusers' Timesteps, flip_sin_to_cos, shift 0) goes through a
learnable Linear–SiLU–Linear and is added to the input of the layer norm only; the residual
stream never receives it. The output projection weight is zero-initialised, so an untrained layer
adds only its output bias — which the authors leave at PyTorch's default init; `zero_out_bias`
(our default) zeroes it too so the untrained layer is an exact identity.
"""

from __future__ import annotations

import torch
from diffusers.models.attention_processor import Attention
from diffusers.models.embeddings import TimestepEmbedding, Timesteps
from torch import nn

from model.layers.attention import multihead_attention
from model.layers.frames import unfold_frames


class TemporalAttention(nn.Module):
    """x (B·F, N, C) → x + attention over frames at each of the N positions.

    Parameters: LayerNorm 2C, position MLP 2C² + 2C, attention 4C² + C (q/k/v without bias).
    """

    def __init__(self, dim: int, heads: int, zero_out_bias: bool = True, norm_eps: float = 1e-5):
        super().__init__()
        if dim % heads:
            raise ValueError(f"dim {dim} is not divisible by {heads} heads")
        self.pos_proj = Timesteps(dim, flip_sin_to_cos=True, downscale_freq_shift=0)  # no weights
        self.pos_embedding = TimestepEmbedding(dim, dim)
        self.norm = nn.LayerNorm(dim, eps=norm_eps)
        self.attn = Attention(query_dim=dim, heads=heads, dim_head=dim // heads, bias=False, out_bias=True)
        nn.init.zeros_(self.attn.to_out[0].weight)
        if zero_out_bias:
            nn.init.zeros_(self.attn.to_out[0].bias)

    def forward(self, x: torch.Tensor, num_frames: int) -> torch.Tensor:
        video = unfold_frames(x, num_frames)  # (B, F, N, C)
        positions = torch.arange(num_frames, device=x.device)
        pos = self.pos_embedding(self.pos_proj(positions).to(x.dtype))  # (F, C)
        h = self.norm(video + pos[None, :, None, :]).transpose(1, 2)  # (B, N, F, C)
        out = multihead_attention(self.attn, h).transpose(1, 2)  # (B, F, N, C)
        return x + out.reshape(x.shape)
