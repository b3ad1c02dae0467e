"""FID: Fréchet distance between Inception pool3 features of real and generated frames.

Two protocols, never to be mixed in one table:

- ``asva`` (the paper's Table 1, the authors' `avgen/evaluations`): frames resized bicubic with
  antialias to 229 × 229 (not 299), scaled to [−1, 1], fed to the FID Inception network without
  its internal resize; pool3 (2048-d) features.
- ``standard`` (what outsiders compare with: torchmetrics' `FrechetInceptionDistance` defaults,
  built on torch-fidelity): uint8 frames resized bilinear with antialias to 299 × 299, scaled by
  (x − 128) / 128; the same network and weights.

In both, each clip's first frame is excluded (it is the conditioning image the model was given).

BatchNorm: ``bn_mode="eval"`` (default, pytorch-fid semantics: running statistics from the file;
a frame's features do not depend on what it is batched with). ``bn_mode="authors-train"``
reproduces the authors' eval.py, which never calls `.eval()` on its Inception: every call
normalises with that call's batch statistics, so features depend on the batching, which
`fid(..., bn_mode="authors-train")` reproduces (one call per ground-truth video with its clips
batched, one call per generated clip). Only the asva protocol has an authors' mode.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Literal
from unittest import mock

import numpy as np
import torch
import torch.nn.functional as F
from pytorch_fid import inception as pytorch_fid_inception
from torchvision.transforms.v2 import InterpolationMode
from torchvision.transforms.v2 import functional as TF

from model.metrics.frechet import frechet_distance
from model.metrics.weight_files import FID_INCEPTION, require_weight_file

Protocol = Literal["asva", "standard"]
BNMode = Literal["eval", "authors-train"]

PROTOCOLS: tuple[str, ...] = ("asva", "standard")
BN_MODES: tuple[str, ...] = ("eval", "authors-train")
ASVA_IMAGE_SIZE = 229  # the authors' resize (a 299 typo kept in their code; the paper's numbers use it)
STANDARD_IMAGE_SIZE = 299
FEATURE_DIM = 2048


def load_fid_inception(path: str | os.PathLike, device: str | torch.device = "cpu") -> torch.nn.Module:
    """pytorch-fid's `InceptionV3` (FID blocks, pool3 output, no internal resize or rescale) with
    the state dict in `path` (pytorch-fid's `pt_inception-2015-12-05-6726825d.pth` layout), in eval mode.

    Raises ModelWeightsMissing (a FileNotFoundError) naming the file and where it is published;
    ValueError when the file is not a state dict of that layout.
    """
    path = require_weight_file(path, FID_INCEPTION)
    state_dict = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state_dict, dict):
        raise ValueError(f"{path} is not a state dict (pytorch-fid's {FID_INCEPTION.name} layout)")
    # pytorch-fid builds the network and then fetches its weights by URL; hand it the local file's
    # tensors instead (its own strict `load_state_dict` then checks the key layout).
    with mock.patch.object(pytorch_fid_inception, "load_state_dict_from_url", lambda *args, **kwargs: state_dict):
        try:
            net = pytorch_fid_inception.InceptionV3(
                output_blocks=[pytorch_fid_inception.InceptionV3.BLOCK_INDEX_BY_DIM[FEATURE_DIM]],
                resize_input=False, normalize_input=False, requires_grad=False, use_fid_inception=True,
            )
        except RuntimeError as exc:
            raise ValueError(f"{path} does not match pytorch-fid's FID Inception layout: {exc}") from exc
    return net.eval().to(device)


@torch.no_grad()
def write_stand_in_fid_inception(path: str | os.PathLike, frames_uint8: np.ndarray, seed: int = 0,
                                 batch_size: int = 50) -> Path:
    """A stand-in for the FID Inception where the real file cannot be had: pytorch-fid's network with
    torchvision's random initialisation (seeded) and BatchNorm running statistics measured on
    `frames_uint8` (N, H, W, 3) of the domain at hand (asva input protocol), saved as a state dict in
    the real file's layout so that `load_fid_inception` reads it. Without that calibration the
    random network's activations shrink layer by layer and its pool3 features are nearly constant."""
    path = Path(path)
    torch.manual_seed(seed)
    # pytorch-fid builds its network only with the published weights loaded: hand it none and keep
    # the random init, catching the torchvision Inception3 whose state dict is the file's layout.
    built: list[torch.nn.Module] = []
    with mock.patch.object(pytorch_fid_inception, "load_state_dict_from_url", lambda *args, **kwargs: {}), \
            mock.patch.object(pytorch_fid_inception.torchvision.models.Inception3, "load_state_dict",
                              lambda self, *args, **kwargs: built.append(self)):
        net = pytorch_fid_inception.InceptionV3(
            output_blocks=[pytorch_fid_inception.InceptionV3.BLOCK_INDEX_BY_DIM[FEATURE_DIM]],
            resize_input=False, normalize_input=False, requires_grad=False, use_fid_inception=True)
    norms = [m for m in net.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # a cumulative average over every calibration batch
    net.train()
    frames = np.asarray(frames_uint8)
    for start in range(0, len(frames), batch_size):
        net(fid_input(frames[start : start + batch_size], "asva"))
    for m in norms:
        m.momentum = 0.1
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(built[0].state_dict(), path)
    return path


def fid_input(frames_uint8: np.ndarray | torch.Tensor, protocol: Protocol = "asva") -> torch.Tensor:
    """(N, H, W, 3) uint8 RGB frames → the network's input (N, 3, S, S) float32:
    asva: S = 229, bicubic + antialias on [0, 1] floats, then ×2 − 1 (range about [−1, 1]);
    standard: S = 299, bilinear + antialias on 0..255 floats, then (x − 128) / 128."""
    frames = torch.as_tensor(np.asarray(frames_uint8))
    if frames.dtype != torch.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames must be (N, H, W, 3) uint8, got {tuple(frames.shape)} {frames.dtype}")
    images = frames.permute(0, 3, 1, 2).float()
    if protocol == "asva":
        # A contiguous float tensor through torchvision's bicubic antialiased resize, as the authors
        # do: their training-mode features are bit-exact only with this op sequence.
        images = (images / 255.0).contiguous()
        images = TF.resize(images, [ASVA_IMAGE_SIZE, ASVA_IMAGE_SIZE], interpolation=InterpolationMode.BICUBIC,
                           antialias=True)
        return (images * 2 - 1).contiguous()
    if protocol == "standard":
        images = F.interpolate(images, size=(STANDARD_IMAGE_SIZE, STANDARD_IMAGE_SIZE), mode="bilinear",
                               align_corners=False, antialias=True)
        return (images - 128) / 128
    raise ValueError(f"protocol must be one of {PROTOCOLS}, got {protocol!r}")


@contextlib.contextmanager
def batchnorm_mode(net: torch.nn.Module, bn_mode: BNMode) -> Iterator[None]:
    """Run `net` with BatchNorm in `bn_mode`, restoring its modes afterwards.

    authors-train: batch statistics of each call, as a module in training mode computes them, but
    without touching the running statistics (so the same loaded network stays usable in eval mode).
    """
    if bn_mode not in BN_MODES:
        raise ValueError(f"bn_mode must be one of {BN_MODES}, got {bn_mode!r}")
    was_training = net.training
    norms = [m for m in net.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    tracked = [m.track_running_stats for m in norms]
    try:
        if bn_mode == "eval":
            net.eval()
        else:
            net.train()
            for m in norms:
                m.track_running_stats = False  # training-mode math, running buffers left as they are
        yield
    finally:
        for m, flag in zip(norms, tracked):
            m.track_running_stats = flag
        net.train(was_training)


def _device(net: torch.nn.Module) -> torch.device:
    return next(net.parameters()).device


@torch.no_grad()
def fid_features(frames_uint8: np.ndarray | torch.Tensor, net: torch.nn.Module, protocol: Protocol = "asva",
                 bn_mode: BNMode = "eval", batch_size: int = 50) -> np.ndarray:
    """Pool3 features (N, 2048) float32 of (N, H, W, 3) uint8 frames.

    In bn_mode "authors-train" each chunk of `batch_size` frames is one call whose batch
    statistics normalise it: the chunking is part of the result.
    """
    if protocol == "standard" and bn_mode != "eval":
        raise ValueError("the standard FID protocol runs Inception in eval mode only (bn_mode='eval')")
    if batch_size < 1:
        raise ValueError(f"batch_size must be ≥ 1, got {batch_size}")
    frames = np.asarray(frames_uint8)
    device = _device(net)
    out = []
    with batchnorm_mode(net, bn_mode):
        for start in range(0, len(frames), batch_size):
            images = fid_input(frames[start : start + batch_size], protocol).to(device)
            if bn_mode == "authors-train" and len(images) == 1:
                raise ValueError("authors-train BatchNorm needs at least 2 frames per call")
            out.append(net(images)[0].flatten(1).float().cpu())
    if not out:
        return np.zeros((0, FEATURE_DIM), dtype=np.float32)
    return torch.cat(out).numpy()


def clip_fid_features(clips_uint8: np.ndarray, net: torch.nn.Module, protocol: Protocol = "asva",
                      bn_mode: BNMode = "eval", clips_per_call: int = 1, batch_size: int = 50) -> np.ndarray:
    """Features (N, T, 2048) of every frame of clips (N, T, H, W, 3) uint8.

    bn_mode "authors-train": one network call per `clips_per_call` consecutive clips (all their
    frames); "eval": calls of `batch_size` frames (batching does not change the result).
    """
    clips = np.asarray(clips_uint8)
    if clips.ndim != 5:
        raise ValueError(f"clips must be (N, T, H, W, 3) uint8, got shape {clips.shape}")
    n, t = clips.shape[:2]
    frames = clips.reshape(n * t, *clips.shape[2:])
    per_call = clips_per_call * t if bn_mode == "authors-train" else batch_size
    return fid_features(frames, net, protocol, bn_mode, per_call).reshape(n, t, FEATURE_DIM)


def fid_from_clip_features(real: np.ndarray, generated: np.ndarray) -> float:
    """FID over frames 2..T of every clip: real (N, T, D), generated (M, T', D) features."""
    return frechet_distance(real[:, 1:].reshape(-1, real.shape[-1]), generated[:, 1:].reshape(-1, generated.shape[-1]))


def fid(real_clips: np.ndarray, generated_clips: np.ndarray, net: torch.nn.Module, protocol: Protocol = "asva",
        bn_mode: BNMode = "eval", real_clips_per_video: int = 1, batch_size: int = 50) -> float:
    """FID between real (N, T, H, W, 3) and generated (M, T, H, W, 3) uint8 clips, over frames
    2..T of each clip (the first frame is the model's input).

    bn_mode "authors-train" reproduces the authors' batching: real clips in consecutive groups of
    `real_clips_per_video` (the clips of one ground-truth video) per call, one call per generated clip.
    """
    real = clip_fid_features(real_clips, net, protocol, bn_mode, real_clips_per_video, batch_size)
    generated = clip_fid_features(generated_clips, net, protocol, bn_mode, 1, batch_size)
    return fid_from_clip_features(real, generated)
