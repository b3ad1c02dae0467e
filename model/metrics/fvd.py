"""FVD: Fréchet distance between I3D features (400-d) of real and generated clips.

The network is StyleGAN-V's TorchScript `i3d_torchscript.pt`, called as
`net(videos (N, 3, T, H, W), rescale=..., resize=..., return_features=True)`.

- ``asva`` (the paper's Table 1, the authors' `compute_fvd_video_features`): the first 12 frames
  of each clip, resized bicubic with antialias to 224 × 224 and scaled to [−1, 1] by us; called with
  `rescale=False, resize=False`.
- ``standard`` (StyleGAN-V's `fvd2048_16f`-style): the first 16 frames as 0..255 floats, the
  network rescales and resizes itself (`rescale=True, resize=True`). Needs clips of ≥ 16 frames.

At a few hundred clips the 400-d covariances are barely full rank (or singular): FVD is noisy there.
"""

from __future__ import annotations

import os
import warnings
from typing import Literal

import numpy as np
import torch
from torchvision.transforms.v2 import InterpolationMode
from torchvision.transforms.v2 import functional as TF

from model.metrics.frechet import frechet_distance
from model.metrics.weight_files import I3D, require_weight_file

Protocol = Literal["asva", "standard"]
PROTOCOLS: tuple[str, ...] = ("asva", "standard")
NUM_FRAMES = {"asva": 12, "standard": 16}
ASVA_IMAGE_SIZE = 224
FEATURE_DIM = 400


def load_i3d(path: str | os.PathLike, device: str | torch.device = "cpu") -> torch.jit.ScriptModule:
    """The TorchScript I3D in `path`, in eval mode. Raises ModelWeightsMissing (a
    FileNotFoundError) naming the file and where it is published."""
    path = require_weight_file(path, I3D)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit.load's deprecation note; the file is TorchScript
        try:
            net = torch.jit.load(str(path), map_location=device)
        except RuntimeError as exc:
            raise ValueError(f"{path} is not a TorchScript module ({I3D.name} is one): {exc}") from exc
    return net.eval()


def fvd_input(clips_uint8: np.ndarray | torch.Tensor, protocol: Protocol = "asva") -> torch.Tensor:
    """(N, T, H, W, 3) uint8 clips → (N, 3, F, H', W') float32 network input, F = 12 (asva) or 16
    (standard) first frames; asva: 224 × 224 bicubic + antialias on [0, 1], ×2 − 1; standard: 0..255 as is."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {PROTOCOLS}, got {protocol!r}")
    clips = torch.as_tensor(np.asarray(clips_uint8))
    if clips.dtype != torch.uint8 or clips.ndim != 5 or clips.shape[-1] != 3:
        raise ValueError(f"clips must be (N, T, H, W, 3) uint8, got {tuple(clips.shape)} {clips.dtype}")
    n, t, h, w, _ = clips.shape
    frames = NUM_FRAMES[protocol]
    if t < frames:
        hint = " (StyleGAN-V's 16-frame FVD; use the asva protocol for 12-frame clips)" if protocol == "standard" else ""
        raise ValueError(f"the {protocol} FVD protocol needs clips of at least {frames} frames, got {t}{hint}")
    videos = clips[:, :frames].permute(0, 1, 4, 2, 3).float()  # (N, F, 3, H, W)
    if protocol == "standard":
        return videos.permute(0, 2, 1, 3, 4).contiguous()
    images = (videos.reshape(n * frames, 3, h, w) / 255.0).contiguous()
    images = TF.resize(images, [ASVA_IMAGE_SIZE, ASVA_IMAGE_SIZE], interpolation=InterpolationMode.BICUBIC, antialias=True)
    images = images * 2 - 1
    return images.reshape(n, frames, 3, ASVA_IMAGE_SIZE, ASVA_IMAGE_SIZE).permute(0, 2, 1, 3, 4).contiguous()


def _device(net: torch.nn.Module) -> torch.device:
    try:
        return next(net.parameters()).device
    except StopIteration:
        return torch.device("cpu")


@torch.no_grad()
def fvd_features(clips_uint8: np.ndarray | torch.Tensor, net: torch.nn.Module, protocol: Protocol = "asva",
                 batch_size: int = 8) -> np.ndarray:
    """I3D features (N, 400) float32 of (N, T, H, W, 3) uint8 clips (first 12 / 16 frames used)."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be ≥ 1, got {batch_size}")
    clips = np.asarray(clips_uint8)
    scaled_by_network = protocol == "standard"
    device = _device(net)
    out = []
    for start in range(0, len(clips), batch_size):
        videos = fvd_input(clips[start : start + batch_size], protocol).to(device)
        feats = net(videos, rescale=scaled_by_network, resize=scaled_by_network, return_features=True)
        out.append(feats.float().cpu())
    if not out:
        return np.zeros((0, FEATURE_DIM), dtype=np.float32)
    return torch.cat(out).numpy()


def fvd(real: np.ndarray, generated: np.ndarray, net: torch.nn.Module, protocol: Protocol = "asva",
        batch_size: int = 8) -> float:
    """FVD between real (N, T, H, W, 3) and generated (M, T, H, W, 3) uint8 clips."""
    return frechet_distance(fvd_features(real, net, protocol, batch_size), fvd_features(generated, net, protocol, batch_size))
