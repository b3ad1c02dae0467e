"""The AVSyncD training objective (paper §4.2 "Initial-frame Conditioning", Eq. 5; implementation
notes A10) and its held-out version.

Noise is added to every frame with one timestep per video, then frame 1 is put back clean (the
conditioning image); ε is predicted for all frames and the MSE covers frames 2..F only. For
classifier-free audio guidance each video's audio tokens are replaced by the null-audio tokens
with probability p (0.2).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from diffusers import DDPMScheduler


def sample_audio_drop(batch_size: int, probability: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """(B,) bool: True where the audio is replaced by the null audio."""
    return torch.rand(batch_size, generator=generator) < probability


def apply_audio_drop(tokens: torch.Tensor, null_tokens: torch.Tensor, drop: torch.Tensor) -> torch.Tensor:
    """tokens (B, T, D), null_tokens (1 or B, T, D), drop (B,) bool → (B, T, D)."""
    return torch.where(drop.to(tokens.device)[:, None, None], null_tokens.expand_as(tokens), tokens)


def noisy_video(scheduler: DDPMScheduler, latents: torch.Tensor, noise: torch.Tensor, timesteps: torch.Tensor) -> torch.Tensor:
    """z^k for every frame, except frame 1 which stays the clean latent. latents/noise (B, C, F, h, w)."""
    noisy = scheduler.add_noise(latents, noise, timesteps)
    return torch.cat([latents[:, :, :1], noisy[:, :, 1:]], dim=2)


def denoising_loss(prediction: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """MSE between predicted and true noise on frames 2..F (frame 1 was never noised)."""
    return F.mse_loss(prediction[:, :, 1:].float(), noise[:, :, 1:].float())


@dataclass
class HeldOut:
    """Fixed validation inputs: latents (N, C, F, h, w), text (N, L, D), audio tokens (N, T, D) or
    None, mask (F, T) or None, and a fixed noise / timestep per item, so losses are comparable
    across training steps."""

    latents: torch.Tensor
    text: torch.Tensor
    tokens: torch.Tensor | None
    null_tokens: torch.Tensor | None
    mask: torch.Tensor | None
    noise: torch.Tensor
    timesteps: torch.Tensor

    @classmethod
    def build(cls, latents: torch.Tensor, text: torch.Tensor, tokens: torch.Tensor | None,
              null_tokens: torch.Tensor | None, mask: torch.Tensor | None, repeats: int = 4,
              num_train_timesteps: int = 1000, seed: int = 0) -> "HeldOut":
        """Each clip is scored at `repeats` timesteps evenly spread over the schedule."""
        n = len(latents)
        steps = torch.linspace(0.05, 0.95, repeats) * num_train_timesteps
        timesteps = steps.long().repeat(n)  # clip-major: clip i at every timestep
        expand = (lambda x: x.repeat_interleave(repeats, 0)) if repeats > 1 else (lambda x: x)
        latents = expand(latents)
        noise = torch.randn(latents.shape, generator=torch.Generator().manual_seed(seed)).to(latents.device)
        return cls(latents, expand(text), None if tokens is None else expand(tokens),
                   None if null_tokens is None else null_tokens[:1].expand(len(latents), -1, -1), mask, noise,
                   timesteps.to(latents.device))


@torch.no_grad()
def held_out_item_losses(unet: torch.nn.Module, scheduler: DDPMScheduler, held: HeldOut, audio: str = "real",
                         batch_size: int = 8, autocast=None) -> torch.Tensor:
    """Denoising loss of each held-out item (N·repeats,), clip-major as in `HeldOut.build`. audio:
    "real" (each clip's own audio), "null" (null-audio tokens) or "shuffled" (another clip's audio:
    out of sync)."""
    tokens = held.tokens
    if tokens is not None and audio == "null":
        tokens = held.null_tokens
    elif tokens is not None and audio == "shuffled":
        tokens = tokens.roll(shifts=max(1, len(tokens) // 2), dims=0)  # a different clip's audio
    losses = []
    for start in range(0, len(held.latents), batch_size):
        part = slice(start, start + batch_size)
        z = noisy_video(scheduler, held.latents[part], held.noise[part], held.timesteps[part])
        mask = None if held.mask is None else held.mask[None]
        with autocast() if autocast is not None else contextlib.nullcontext():
            eps = unet(z, held.timesteps[part], held.text[part], None if tokens is None else tokens[part], mask).sample
        losses.append(torch.stack([denoising_loss(eps[i : i + 1], held.noise[part][i : i + 1]) for i in range(len(z))]))
    return torch.cat(losses)


def held_out_loss(unet: torch.nn.Module, scheduler: DDPMScheduler, held: HeldOut, audio: str = "real",
                  batch_size: int = 8, autocast=None) -> float:
    """Mean denoising loss on the held-out items (`held_out_item_losses`)."""
    return float(held_out_item_losses(unet, scheduler, held, audio, batch_size, autocast).mean())
