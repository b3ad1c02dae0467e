"""Weights from elsewhere: the AVID-CMA AudioSet checkpoint (encoder initialisation, SPEC) and
the authors' released sync classifier (`checkpoint-40000/modules/{audio_encoder,video_encoder,head}`).

Both are loaded strictly: every weight of the target module must be found with its shape, so
a wrong file or preset fails loudly instead of leaving random weights behind.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch

from sync_classifier.model import SyncClassifier

# AVID-CMA keeps both networks inside a DataParallel-wrapped model, under its `model` entry.
AVID_CMA_PREFIXES = {"audio_encoder": "audio_model.", "video_encoder": "video_model."}


@dataclass(frozen=True)
class LoadReport:
    loaded: int  # tensors copied into the model
    ignored: list[str]  # checkpoint keys that belong to no target module (projection heads, ...)


def _torch_load(path: Path) -> dict:
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # weights_only refuses arbitrary pickles: say so instead of executing them
        raise ValueError(f"{path} is not a plain tensor checkpoint torch.load(weights_only=True) can read: {exc}") from exc


def avid_cma_encoder_states(checkpoint: dict) -> tuple[dict[str, dict[str, torch.Tensor]], list[str]]:
    """Split an AVID-CMA checkpoint into {"audio_encoder": state, "video_encoder": state}.

    Accepts the full file content (`{"model": {...}}`) or the `model` dict itself, with or
    without DataParallel's `module.` prefix. Returns the states and the ignored keys.
    """
    state = checkpoint.get("model", checkpoint) if isinstance(checkpoint, dict) else None
    if not isinstance(state, dict):
        raise ValueError("not an AVID-CMA checkpoint: expected a dict with a 'model' state dict")
    parts: dict[str, dict[str, torch.Tensor]] = {name: {} for name in AVID_CMA_PREFIXES}
    ignored = []
    for key, value in state.items():
        bare = key[len("module."):] if key.startswith("module.") else key
        for name, prefix in AVID_CMA_PREFIXES.items():
            if bare.startswith(prefix):
                parts[name][bare[len(prefix):]] = value
                break
        else:
            ignored.append(key)
    for name, prefix in AVID_CMA_PREFIXES.items():
        if not parts[name]:
            raise ValueError(f"not an AVID-CMA checkpoint: no keys under 'module.{prefix}'")
    return parts, ignored


def load_avid_cma(model: SyncClassifier, path: str | os.PathLike) -> LoadReport:
    """Initialise both encoders from an AVID-CMA checkpoint file (e.g.
    `AVID-CMA_Audioset_InstX-N1024-PosW-N64-Top32_checkpoint.pth.tar`). Needs the `paper`
    widths; the head keeps its initialisation, as in the authors' training."""
    parts, ignored = avid_cma_encoder_states(_torch_load(Path(path)))
    loaded = 0
    for name, state in parts.items():
        module = getattr(model, name)
        try:
            module.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            raise ValueError(f"AVID-CMA {name} weights do not fit this model (use the 'paper' preset): {exc}") from exc
        loaded += len(state)
    return LoadReport(loaded, ignored)


# The released head is a Sequential with dropout layers in between: fc.0 / fc.3 / fc.6.
_RELEASE_HEAD_KEYS = {"fc.0.": "layers.0.", "fc.3.": "layers.2.", "fc.6.": "layers.4."}


def _read_module_dir(directory: Path) -> dict[str, torch.Tensor]:
    for name in ("diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.bin"):
        path = directory / name
        if path.is_file():
            if path.suffix == ".safetensors":
                from safetensors.torch import load_file

                return load_file(str(path))
            return _torch_load(path)
    raise FileNotFoundError(f"no diffusion_pytorch_model.(safetensors|bin) in {directory}")


def load_asva_release(model: SyncClassifier, modules_dir: str | os.PathLike) -> LoadReport:
    """Load the authors' released classifier (`.../checkpoint-40000/modules`) into a `paper` model."""
    modules_dir = Path(modules_dir)
    audio = _read_module_dir(modules_dir / "audio_encoder")
    video = _read_module_dir(modules_dir / "video_encoder")
    head = {}
    for key, value in _read_module_dir(modules_dir / "head").items():
        for old, new in _RELEASE_HEAD_KEYS.items():
            if key.startswith(old):
                head[new + key[len(old):]] = value
                break
        else:
            raise ValueError(f"unexpected head key {key!r} in {modules_dir / 'head'}")
    model.audio_encoder.load_state_dict(audio, strict=True)
    model.video_encoder.load_state_dict(video, strict=True)
    model.head.load_state_dict(head, strict=True)
    return LoadReport(len(audio) + len(video) + len(head), [])
