"""Weights from elsewhere: the AVID-CMA AudioSet checkpoint (encoder initialisation, SPEC) and
the authors' released sync classifier (`checkpoint-40000/modules/{audio_encoder,video_encoder,head}`).

Both are loaded strictly: every weight of the target module must be found with its shape, so
a wrong file or preset fails loudly instead of leaving random weights behind.
"""

from __future__ import annotations

import json
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


def _torch_load(path: Path, mmap: bool = False) -> dict:
    """A plain tensor checkpoint; `mmap=True` maps the tensors from the file instead of reading
    them into RAM (only for files written by torch.save's zip format, as diffusers writes `.bin`)."""
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except RuntimeError as exc:
        if mmap and "zipfile" in str(exc).lower():  # a legacy (pre-zip) torch.save file: read it whole
            return _torch_load(path, mmap=False)
        raise ValueError(f"{path} is not a plain tensor checkpoint torch.load(weights_only=True) can read: {exc}") from exc
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


def read_diffusers_module_dir(directory: Path, expected_class: str | None = None) -> dict[str, torch.Tensor]:
    """The state dict of a diffusers `save_pretrained` folder (`config.json` +
    `diffusion_pytorch_model.safetensors` or `.bin`), memory-mapped: tensors are read from the
    file on use, so peak RAM stays near one copy of the weights. With `expected_class`, a
    `config.json` naming another `_class_name` is refused (a folder of the wrong kind); the
    caller checks the weights strictly either way."""
    directory = Path(directory)
    config_path = directory / "config.json"
    if expected_class is not None and config_path.is_file():
        found = json.loads(config_path.read_text()).get("_class_name")
        if found != expected_class:
            raise ValueError(f"{directory} holds a {found!r}, expected the authors' {expected_class!r}")
    for name in ("diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.bin"):
        path = directory / name
        if path.is_file():
            if path.suffix == ".safetensors":
                from safetensors import safe_open

                with safe_open(str(path), framework="pt", device="cpu") as handle:  # mmap-backed
                    return {key: handle.get_tensor(key) for key in handle.keys()}
            return _torch_load(path, mmap=True)
    raise FileNotFoundError(f"no diffusion_pytorch_model.safetensors or .bin in {directory}")


# The authors' class of each released sync-classifier module (their `save_pretrained` config.json).
ASVA_RELEASE_CLASSES = {"audio_encoder": "AudioConv2DNet", "video_encoder": "VideoR2Plus1DNet", "head": "FCHead"}


def load_asva_release(model: SyncClassifier, modules_dir: str | os.PathLike) -> LoadReport:
    """Load the authors' released classifier (`.../checkpoint-40000/modules`, holding
    `audio_encoder/`, `video_encoder/`, `head/`) into a `paper` model, strictly."""
    modules_dir = Path(modules_dir)
    missing = [name for name in ASVA_RELEASE_CLASSES if not (modules_dir / name).is_dir()]
    if missing:
        hint = ""
        if (modules_dir / "unet").is_dir():
            hint = " (this is an AVSyncD checkpoint: use python -m model.convert_asva)"
        elif (modules_dir / "modules").is_dir():
            hint = f" (this is the checkpoint folder: pass --modules {modules_dir / 'modules'})"
        raise FileNotFoundError(f"{modules_dir} is not the authors' sync-classifier modules folder: "
                                f"no {', '.join(missing)} subfolder{hint}")
    audio = read_diffusers_module_dir(modules_dir / "audio_encoder", ASVA_RELEASE_CLASSES["audio_encoder"])
    video = read_diffusers_module_dir(modules_dir / "video_encoder", ASVA_RELEASE_CLASSES["video_encoder"])
    head = {}
    for key, value in read_diffusers_module_dir(modules_dir / "head", ASVA_RELEASE_CLASSES["head"]).items():
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
