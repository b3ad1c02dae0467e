"""First-frame temporal convolution ("FF-Conv", paper §4.2; SPEC "Inflated convolutions").

A pretrained 2D conv runs on every frame unchanged, then a residual temporal term is added: at
each pixel a Linear over the channel-concatenation of the conv outputs of frames (1, t−1, t)
(t−1 clamped to frame 1), 3·C → C. That is a kernel-3 temporal conv whose receptive field always
contains the input image. The Linear is zero-initialised, so an untrained layer is exactly the
pretrained conv. `lookup="standard"` is the ablation of Table 2(a): frames (t−1, t, t+1), clamped
at both ends.

The class subclasses nn.Conv2d so the pretrained `weight`/`bias` keep their state-dict names; the
only new key is `conv_temp.*`.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from model.layers.frames import FrameContext, unfold_frames

TemporalLookup = Literal["first_frame", "standard", "none"]


def lookup_indices(num_frames: int, lookup: TemporalLookup, device: torch.device | None = None) -> torch.Tensor:
    """(F, 3) frame indices each output frame reads: (0, max(t−1, 0), t) for first_frame,
    (max(t−1, 0), t, min(t+1, F−1)) for standard."""
    t = torch.arange(num_frames, device=device)
    prev = (t - 1).clamp(min=0)
    if lookup == "first_frame":
        return torch.stack([torch.zeros_like(t), prev, t], dim=1)
    if lookup == "standard":
        return torch.stack([prev, t, (t + 1).clamp(max=num_frames - 1)], dim=1)
    raise ValueError(f"no temporal lookup for {lookup!r}")


def temporal_lookup(y: torch.Tensor, num_frames: int, lookup: TemporalLookup = "first_frame") -> torch.Tensor:
    """Gather the three frames each frame sees and concatenate them on channels.

    y: (B·F, C, H, W) per-frame features → (B, F, H, W, 3·C), channels last for the Linear.
    """
    video = unfold_frames(y, num_frames)  # (B, F, C, H, W)
    index = lookup_indices(num_frames, lookup, y.device)  # (F, 3)
    gathered = video[:, index]  # (B, F, 3, C, H, W)
    b, f, _, c, h, w = gathered.shape
    return gathered.permute(0, 1, 4, 5, 2, 3).reshape(b, f, h, w, 3 * c)


def first_frame_residual(y: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, num_frames: int,
                         lookup: TemporalLookup = "first_frame") -> torch.Tensor:
    """Linear(3C → C) over the concatenated features of each frame's three frames, (B·F, C, H, W) → same.

    Computed as W_a·y_a + W_b·y_b + W_c·y_c + b: every frame is projected once by the three weight
    blocks (a 1×1 conv) and the blocks are then picked per output frame. Same result as
    `conv_temp(temporal_lookup(y))`, but backward keeps y (C channels) instead of the 3C concatenation.
    """
    c = y.shape[1]
    blocks = weight.reshape(c, 3, c).transpose(0, 1).reshape(3 * c, c, 1, 1)  # [W_a; W_b; W_c]
    projected = unfold_frames(nn.functional.conv2d(y, blocks), num_frames)  # (B, F, 3C, H, W)
    projected = projected.unflatten(2, (3, c))  # (B, F, 3, C, H, W)
    index = lookup_indices(num_frames, lookup, y.device)  # (F, 3)
    out = projected[:, index[:, 0], 0] + projected[:, index[:, 1], 1] + projected[:, index[:, 2], 2]
    return (out + bias[:, None, None]).reshape(y.shape)


class FirstFrameConv2d(nn.Conv2d):
    """A frozen 2D conv applied per frame plus a trainable temporal residual (`conv_temp`).

    Input (B·F, C_in, H, W) → output (B·F, C_out, H', W'); F comes from the shared FrameContext.
    Parameters added: 3·C_out² + C_out.
    """

    def __init__(self, *args, context: FrameContext, lookup: TemporalLookup = "first_frame", **kwargs):
        super().__init__(*args, **kwargs)
        self.context = context
        self.lookup = lookup
        if lookup != "none":
            out = self.out_channels
            self.conv_temp = nn.Linear(3 * out, out, device=kwargs.get("device"))
            nn.init.zeros_(self.conv_temp.weight)
            nn.init.zeros_(self.conv_temp.bias)

    @classmethod
    def from_conv(cls, conv: nn.Conv2d, context: FrameContext, lookup: TemporalLookup = "first_frame") -> "FirstFrameConv2d":
        """Wrap `conv`, sharing its weight and bias tensors (no copy)."""
        device = conv.weight.device
        new = cls(conv.in_channels, conv.out_channels, conv.kernel_size, stride=conv.stride, padding=conv.padding,
                  dilation=conv.dilation, groups=conv.groups, bias=conv.bias is not None,
                  padding_mode=conv.padding_mode, context=context, lookup=lookup, device="meta")
        new.weight = conv.weight
        new.bias = conv.bias
        if lookup != "none":
            new.conv_temp.to_empty(device=device)
            with torch.no_grad():
                new.conv_temp.weight.zero_()
                new.conv_temp.bias.zero_()
        return new

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = super().forward(x)
        if self.lookup == "none":
            return y
        return y + first_frame_residual(y, self.conv_temp.weight, self.conv_temp.bias, self.context.num_frames,
                                        self.lookup)

    def extra_repr(self) -> str:
        return super().extra_repr() + f", lookup={self.lookup}"
