"""The video transformer block (paper Fig. 3 right; implementation notes A5).

Replaces each of SD's `BasicTransformerBlock`s, adopting its pretrained sub-modules under the
same names (norm1/attn1, norm2/attn2, norm3/ff) so their weights load unchanged. Order, all
pre-norm with residuals:

    1. spatial attention (attn1, frozen): keys/values from frame 1 when `first_frame_attention`,
       else from the frame itself (plain SD self-attention)
    2. audio cross-attention (new, `attn_audio`), frame t masked to its audio segment
    3. text cross-attention (attn2, frozen)
    4. temporal attention (new, `attn_temp`)
    5. feed-forward (ff, frozen)
"""

from __future__ import annotations

import torch
from diffusers.models.attention import BasicTransformerBlock
from torch import nn

from model.layers.attention import check_plain_attention, multihead_attention
from model.layers.audio_attention import AudioCrossAttention
from model.layers.frames import VideoConditioning, unfold_frames
from model.layers.temporal_attention import TemporalAttention


class VideoTransformerBlock(nn.Module):
    """hidden (B·F, N, C), text (B, L, D_text) → (B·F, N, C)."""

    def __init__(self, block: BasicTransformerBlock, first_frame_attention: bool = True, temporal_attention: bool = True,
                 audio_dim: int | None = 768, zero_temporal_out_bias: bool = True):
        super().__init__()
        if block.norm_type != "layer_norm" or block.only_cross_attention or block.pos_embed is not None:
            raise NotImplementedError(f"only SD-style blocks can be inflated (norm_type={block.norm_type!r}, "
                                      f"only_cross_attention={block.only_cross_attention})")
        if getattr(block, "fuser", None) is not None:
            raise NotImplementedError("GLIGEN blocks are not supported")
        for attn in (block.attn1, block.attn2):
            if attn is not None:
                check_plain_attention(attn)
        self.norm1, self.attn1 = block.norm1, block.attn1
        self.norm2, self.attn2 = block.norm2, block.attn2
        self.norm3, self.ff = block.norm3, block.ff
        self.first_frame_attention = first_frame_attention
        dim, heads = block.attn1.to_q.in_features, block.attn1.heads
        device = block.attn1.to_q.weight.device
        self.attn_audio = AudioCrossAttention(dim, audio_dim, heads).to(device) if audio_dim else None
        self.attn_temp = TemporalAttention(dim, heads, zero_temporal_out_bias).to(device) if temporal_attention else None

    def forward(
        self,
        hidden_states: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        encoder_hidden_states: torch.Tensor | None = None,
        encoder_attention_mask: torch.Tensor | None = None,
        timestep: torch.Tensor | None = None,
        cross_attention_kwargs: dict | None = None,
        class_labels: torch.Tensor | None = None,
    ) -> torch.Tensor:
        # Positional order matches what diffusers' Transformer2DModel passes (also under checkpointing).
        if attention_mask is not None or encoder_attention_mask is not None:
            raise NotImplementedError("attention masks are not used by AVSyncD")
        video: VideoConditioning = (cross_attention_kwargs or {})["video"]
        frames = video.num_frames
        x = hidden_states

        # 1. spatial attention: per frame, or keys/values from frame 1 (first-frame lookup)
        h = unfold_frames(self.norm1(x), frames)  # (B, F, N, C)
        kv = h[:, :1] if self.first_frame_attention else h
        x = x + multihead_attention(self.attn1, h, kv).reshape(x.shape)

        # 2. audio cross-attention over the frame's audio segment
        if self.attn_audio is not None:
            if video.audio_tokens is None:
                raise ValueError("this UNet has audio attention: pass audio tokens (null-audio tokens for none)")
            x = self.attn_audio(x, video.audio_tokens, video.audio_mask, frames)

        # 3. text cross-attention: one prompt per video, shared by its frames
        if self.attn2 is not None:
            text = encoder_hidden_states[:, None].to(x.dtype)  # (B, 1, L, D)
            h = unfold_frames(self.norm2(x), frames)
            x = x + multihead_attention(self.attn2, h, text).reshape(x.shape)

        # 4. temporal attention
        if self.attn_temp is not None:
            x = self.attn_temp(x, frames)

        # 5. feed-forward
        return x + self.ff(self.norm3(x))
