"""Frames → the 224² CLIP-normalised pixels that CLIP and ImageBind's vision branch take.

Both use CLIP's recipe: resize the short side to 224 (bicubic), centre-crop 224², scale to
[0, 1], normalise with CLIP's mean/std. Curation frames are decoded with a 224 px short side
already, so usually only the crop happens. Cropping runs on uint8 (`square_crops`, CPU) and the
normalisation on the target device (`normalise_pixels`), so a GPU gets 4× fewer bytes and does
the arithmetic.
"""

from __future__ import annotations

import numpy as np
import torch

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def centre_crop_box(height: int, width: int, size: int) -> tuple[int, int]:
    """(top, left) of torchvision's CenterCrop(size) on an image of height × width."""
    return int(round((height - size) / 2.0)), int(round((width - size) / 2.0))


def square_crops(frames: np.ndarray | torch.Tensor, size: int = 224) -> torch.Tensor:
    """(N, H, W, 3) uint8 RGB → (N, size, size, 3) uint8 centre crops, short side resized to `size`
    first if needed (like torchvision.Resize(size) on PIL images: bicubic with antialiasing, long
    side truncated, rounded back to uint8). A plain view/copy when the short side already fits."""
    x = torch.as_tensor(frames)
    if x.ndim != 4 or x.shape[-1] != 3:
        raise ValueError(f"expected (N, H, W, 3) RGB frames, got {tuple(x.shape)}")
    h, w = x.shape[1:3]
    if min(h, w) != size:
        scale = size / min(h, w)
        new_h, new_w = (size, int(w * scale)) if h <= w else (int(h * scale), size)
        resized = torch.nn.functional.interpolate(x.permute(0, 3, 1, 2).float(), size=(new_h, new_w), mode="bicubic",
                                                  antialias=True, align_corners=False)
        x = resized.round_().clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1)
        h, w = new_h, new_w
    top, left = centre_crop_box(h, w, size)
    return x[:, top : top + size, left : left + size]


def normalise_pixels(crops: torch.Tensor, mean: tuple[float, ...] = CLIP_MEAN, std: tuple[float, ...] = CLIP_STD,
                     device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """(N, S, S, 3) uint8 → (N, 3, S, S) (x / 255 − mean) / std on `device` (uint8 is moved, not floats).

    The arithmetic runs in place on the contiguous (N, S, S, 3) floats; the result is their
    channels-last view, which convolutions take as is (half the time of a strided normalise).
    """
    x = crops.to(device, non_blocking=True).to(torch.float32)
    scale = 1.0 / (torch.tensor(std, device=x.device) * 255.0)
    x.sub_(torch.tensor(mean, device=x.device) * 255.0).mul_(scale)
    return x.permute(0, 3, 1, 2).to(dtype)


def clip_pixels(frames: np.ndarray | torch.Tensor, size: int = 224, mean: tuple[float, ...] = CLIP_MEAN,
                std: tuple[float, ...] = CLIP_STD, device: str | torch.device = "cpu",
                dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """(N, H, W, 3) uint8 RGB frames → (N, 3, size, size) normalised pixels on `device`."""
    return normalise_pixels(square_crops(frames, size), mean, std, device, dtype)
