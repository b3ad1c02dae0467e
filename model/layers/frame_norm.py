"""GroupNorm over all frames of a video (SPEC "AVSyncD" note; implementation notes A6).

The authors' ResNets receive 5-D (B, C, F, H, W) tensors, so their GroupNorm statistics pool
every frame: a hidden cross-frame link even without temporal layers. `FrameGroupNorm` reproduces
that on our folded (B·F, C, H, W) tensors; it keeps nn.GroupNorm's parameter names so the
pretrained weights load unchanged.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from model.layers.frames import FrameContext, unfold_frames


class FrameGroupNorm(nn.GroupNorm):
    """(B·F, C, H, W) → same shape, statistics per (video, group) over F·H·W positions."""

    def __init__(self, *args, context: FrameContext, **kwargs):
        super().__init__(*args, **kwargs)
        self.context = context

    @classmethod
    def from_norm(cls, norm: nn.GroupNorm, context: FrameContext) -> "FrameGroupNorm":
        new = cls(norm.num_groups, norm.num_channels, eps=norm.eps, affine=norm.affine, context=context, device="meta")
        if norm.affine:
            new.weight, new.bias = norm.weight, norm.bias
        return new

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        frames = self.context.num_frames
        video = unfold_frames(x, frames).transpose(1, 2)  # (B, C, F, H, W)
        out = F.group_norm(video, self.num_groups, self.weight, self.bias, self.eps)
        return out.transpose(1, 2).reshape(x.shape)
