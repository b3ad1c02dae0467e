"""CLIP image features through open_clip (curation's "image semantics difference", paper §3.1).

Which CLIP: the paper cites OpenAI's CLIP [30] without a size; the one CLIP the ASVA stack
names is Stable Diffusion 1.5's ViT-L/14 with OpenAI's weights. So the default is open_clip's
`ViT-L-14` with the `openai` tag (QuickGELU, as those weights were trained).

Weights are resolved by one function, like open_clip's own factory:
    checkpoint = a file (open_clip state dict: .safetensors / .bin / .pt) or a folder holding one;
    else the tag's file on the Hugging Face hub, read from the local HF cache when offline
    (HF_HUB_OFFLINE=1). Nothing found → FileNotFoundError naming the expected file.
The `pretrained` tag still sets QuickGELU and the normalisation when the file is local.
`ASVA-tiny` (open_clip_configs/) is a small config of the same classes for tests and the demo.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from model.encoders.images import CLIP_MEAN, CLIP_STD, clip_pixels

DEFAULT_MODEL = "ViT-L-14"
DEFAULT_PRETRAINED = "openai"
TINY_MODEL = "ASVA-tiny"
WEIGHT_FILES = ("open_clip_model.safetensors", "open_clip_pytorch_model.bin", "open_clip_pytorch_model.pth")
CONFIG_DIR = Path(__file__).with_name("open_clip_configs")

_registered = threading.Lock()
_configs_added = False


def register_configs() -> None:
    """Make asva's open_clip configs (`ASVA-tiny`) known to open_clip's registry (idempotent)."""
    global _configs_added
    with _registered:
        if not _configs_added:
            import open_clip

            open_clip.add_model_config(CONFIG_DIR)
            _configs_added = True


def _tag_config(model_name: str, pretrained: str | None) -> dict:
    import open_clip

    return open_clip.get_pretrained_cfg(model_name, pretrained) if pretrained else {}


def expected_weights(model_name: str, pretrained: str | None) -> str:
    """Human-readable name of the weight file a model/tag pair needs."""
    cfg = _tag_config(model_name, pretrained)
    hub = cfg.get("hf_hub", "")
    if hub:  # 'org/repo/' (default file names) or 'org/repo/file'
        parts = hub.rstrip("/").split("/")
        repo_id, filename = "/".join(parts[:2]), "/".join(parts[2:])
        names = filename or "open_clip_model.safetensors (or open_clip_pytorch_model.bin)"
        return f"{names} of https://huggingface.co/{repo_id}"
    if cfg.get("url"):
        return f"{os.path.basename(cfg['url'])} from {cfg['url']}"
    return f"an open_clip checkpoint for {model_name} ({' / '.join(WEIGHT_FILES)})"


def resolve_clip_weights(model_name: str = DEFAULT_MODEL, pretrained: str | None = DEFAULT_PRETRAINED,
                         checkpoint: str | os.PathLike | None = None) -> str:
    """Path of the weight file to load (see the module docstring for the order)."""
    if checkpoint:
        path = Path(checkpoint)
        if path.is_file():
            return str(path)
        if path.is_dir():
            for name in WEIGHT_FILES:
                if (path / name).is_file():
                    return str(path / name)
            found = sorted(p for ext in ("*.safetensors", "*.bin", "*.pt", "*.pth") for p in path.glob(ext))
            if len(found) == 1:
                return str(found[0])
            raise FileNotFoundError(f"CLIP checkpoint folder {path} holds {len(found)} weight files; expected "
                                    f"one of {', '.join(WEIGHT_FILES)}: {expected_weights(model_name, pretrained)}")
        raise FileNotFoundError(f"CLIP checkpoint {path} does not exist; expected "
                                f"{expected_weights(model_name, pretrained)}")
    if not pretrained:
        raise ValueError(f"CLIP {model_name}: give `checkpoint` (a weight file or folder) or a `pretrained` tag")
    cfg = _tag_config(model_name, pretrained)
    if not cfg:
        import open_clip

        raise ValueError(f"unknown open_clip weights {model_name!r} / {pretrained!r}; tags for this model: "
                         f"{open_clip.list_pretrained_tags_by_model(model_name)}")
    import open_clip

    try:
        target = open_clip.download_pretrained(cfg)  # HF hub (local cache when offline) or the URL
    except Exception as exc:  # offline and not cached, or no network: say what to provide
        offline = os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0")
        raise FileNotFoundError(
            f"CLIP weights {model_name}/{pretrained} are not available locally"
            f"{' (HF_HUB_OFFLINE is set)' if offline else ''}: expected {expected_weights(model_name, pretrained)}. "
            "Download that file and pass its path (or its folder) as `checkpoint`, e.g. "
            "metric_options.clip_semantics.checkpoint.") from exc
    if not target:
        raise FileNotFoundError(f"CLIP weights {model_name}/{pretrained}: no download source; expected "
                                f"{expected_weights(model_name, pretrained)}")
    return target


@dataclass
class ClipImageEncoder:
    """open_clip model + its image normalisation: frames → unit-norm image features (N, E)."""

    model: nn.Module
    size: int
    mean: tuple[float, ...]
    std: tuple[float, ...]

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        return next(self.model.visual.parameters()).dtype

    def pixels(self, frames) -> torch.Tensor:
        """(N, H, W, 3) uint8 → (N, 3, size, size) normalised, on the model's device and dtype."""
        return clip_pixels(frames, self.size, self.mean, self.std, self.device, self.dtype)

    @torch.no_grad()
    def embed_pixels(self, pixels: torch.Tensor) -> torch.Tensor:
        """(N, 3, size, size) → (N, E) float32 unit vectors."""
        return F.normalize(self.model.encode_image(pixels.to(self.device, self.dtype)).float(), dim=-1)


def load_clip(model_name: str = DEFAULT_MODEL, pretrained: str | None = DEFAULT_PRETRAINED,
              checkpoint: str | os.PathLike | None = None, device: str | torch.device = "cpu",
              precision: str = "fp32") -> ClipImageEncoder:
    """An open_clip model with real weights, frozen and in eval mode (never random)."""
    import open_clip

    register_configs()
    path = resolve_clip_weights(model_name, pretrained, checkpoint)
    tag = _tag_config(model_name, pretrained)
    try:  # open_clip loads strictly (missing, unexpected or mis-shaped keys fail)
        model = open_clip.create_model(model_name, pretrained=path, device=device, precision=precision,
                                       force_quick_gelu=bool(tag.get("quick_gelu", False)), weights_only=True)
    except (RuntimeError, AssertionError, KeyError) as exc:
        raise ValueError(f"{path} does not fit open_clip model {model_name!r}: {exc}") from exc
    model.requires_grad_(False).eval()
    preprocess = getattr(model.visual, "preprocess_cfg", {}) or {}
    size = model.visual.image_size
    size = size[0] if isinstance(size, (tuple, list)) else int(size)
    mean = tuple(tag.get("mean") or preprocess.get("mean") or CLIP_MEAN)
    std = tuple(tag.get("std") or preprocess.get("std") or CLIP_STD)
    return ClipImageEncoder(model, size, mean, std)


def write_random_clip_checkpoint(path: str | os.PathLike, model_name: str = TINY_MODEL, seed: int = 0) -> Path:
    """Save a randomly initialised open_clip `model_name` as an open_clip checkpoint (a state dict;
    .safetensors when `path` ends so, else torch.save). Tests, benchmarks and the demo only."""
    import open_clip

    register_configs()
    torch.manual_seed(seed)  # open_clip initialises from the global RNG
    model = open_clip.create_model(model_name, pretrained=None)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    if path.suffix == ".safetensors":
        from safetensors.torch import save_file

        save_file(state, str(path))
    else:
        torch.save(state, path)
    return path
