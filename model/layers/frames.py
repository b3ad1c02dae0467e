"""Frames folded into the batch axis, and what a video forward pass tells its layers.

The inflated UNet runs the pretrained 2D layers on (B·F, C, H, W) tensors, frame-major inside
each video (index b·F + t). Layers that look across frames need F to unfold them again:
convolutions and GroupNorms read it from a `FrameContext` shared by reference (they are called
by diffusers' blocks with a tensor only); transformer blocks receive a `VideoConditioning`
through diffusers' `cross_attention_kwargs`, which also carries the audio tokens.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class FrameContext:
    """Number of frames per video in the current forward pass (set by the UNet's forward).

    Gradient checkpointing recomputes layers during backward and reads this value again, so it
    is left as set after the forward pass (the frame count never changes between a forward and
    its backward)."""

    num_frames: int = 1

    def videos(self, folded_batch: int) -> int:
        """B from a folded batch size B·F (raises if it does not divide)."""
        if folded_batch % self.num_frames:
            raise ValueError(f"batch {folded_batch} is not a multiple of num_frames={self.num_frames}")
        return folded_batch // self.num_frames


@dataclass
class VideoConditioning:
    """Per-call inputs of the video transformer blocks.

    num_frames:    F
    audio_tokens:  (B, T, D_audio) audio tokens of each video, or None (no audio attention)
    audio_mask:    (B, F, T) bool, True = frame t may attend to that token, or None (all tokens)
    """

    num_frames: int
    audio_tokens: torch.Tensor | None = None
    audio_mask: torch.Tensor | None = None


def unfold_frames(x: torch.Tensor, num_frames: int) -> torch.Tensor:
    """(B·F, ...) → (B, F, ...)."""
    return x.reshape(x.shape[0] // num_frames, num_frames, *x.shape[1:])
