"""A compact ImageBind (vision, text, audio) that loads the official `imagebind_huge.pth` strictly.

Written from the architecture facts in SPEC "ImageBind"; module names follow the official
checkpoint's key families so its state dict loads without renaming:

    modality_preprocessors.{vision,text,audio}   patch/token embedding, cls token, positions
    modality_trunks.{vision,text,audio}          pre-LN transformer blocks (`blocks.N.*`)
    modality_heads.{vision,text,audio}           LayerNorm → pooled token → Linear to the shared space
    modality_postprocessors.{text,audio}         L2 normalisation × logit scale (`1.log_logit_scale`)

Depth, thermal and IMU keys of the official file are ignored; every key of the built modalities
must be present with its shape (missing, unexpected or mis-shaped keys raise). Loading builds the
model on the meta device and assigns the tensors of `torch.load(mmap=True)`, so the weights are
never held twice (they stay file-backed pages until moved to another device or dtype).

ImageBind weights are CC BY-NC-SA 4.0: this module never bundles or downloads them.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

log = logging.getLogger(__name__)

MODALITIES = ("vision", "text", "audio")
OFFICIAL_MODALITIES = ("vision", "text", "audio", "depth", "thermal", "imu")
KEY_FAMILIES = ("modality_preprocessors", "modality_trunks", "modality_heads", "modality_postprocessors")
CHECKPOINT_URL = "https://dl.fbaipublicfiles.com/imagebind/imagebind_huge.pth"


@dataclass(frozen=True)
class ImageBindConfig:
    """Widths and depths of the three branches; `huge` is the released model (SPEC "ImageBind")."""

    embed_dim: int = 1024  # shared embedding space
    # vision: an image repeated to 2 frames, Conv3d (2, 14, 14) patches → 16×16 + cls
    vision_width: int = 1280
    vision_layers: int = 32
    vision_heads: int = 16
    image_size: int = 224
    patch_size: int = 14
    video_frames: int = 2
    # text: CLIP BPE ids, 77 positions, causal attention, pooled at the EOT token (the largest id)
    text_width: int = 1024
    text_layers: int = 24
    text_heads: int = 16
    vocab_size: int = 49408
    context_length: int = 77
    # audio: log-mel 128 × 204 per 2 s clip, Conv2d 16×16 stride 10 → 12×19 patches + cls
    audio_width: int = 768
    audio_layers: int = 12
    audio_heads: int = 12
    mel_bins: int = 128
    mel_frames: int = 204
    audio_kernel: int = 16
    audio_stride: int = 10
    audio_drop_path: float = 0.1  # stochastic depth, active in train mode only
    audio_logit_scale: float = 20.0  # fixed (a buffer in the checkpoint)
    mlp_ratio: int = 4

    @property
    def vision_tokens(self) -> int:
        return 1 + (self.image_size // self.patch_size) ** 2

    @property
    def audio_grid(self) -> tuple[int, int]:
        """(frequency, time) patches: (12, 19) for 128 × 204 with kernel 16, stride 10."""
        return ((self.mel_bins - self.audio_kernel) // self.audio_stride + 1,
                (self.mel_frames - self.audio_kernel) // self.audio_stride + 1)

    @property
    def audio_tokens(self) -> int:
        freq, time = self.audio_grid
        return 1 + freq * time


PRESETS: dict[str, ImageBindConfig] = {
    "huge": ImageBindConfig(),
    # ViT-B-sized branches: the "base-size" configuration of the benchmarks (no released weights).
    "base": ImageBindConfig(embed_dim=512, vision_width=768, vision_layers=12, vision_heads=12,
                            text_width=512, text_layers=12, text_heads=8),
    # Same module structure at a width that runs in milliseconds: tests and the demo.
    "tiny": ImageBindConfig(embed_dim=32, vision_width=32, vision_layers=2, vision_heads=2, text_width=32,
                            text_layers=2, text_heads=2, audio_width=32, audio_layers=2, audio_heads=2),
}


def get_config(preset: str | ImageBindConfig) -> ImageBindConfig:
    if isinstance(preset, ImageBindConfig):
        return preset
    if preset not in PRESETS:
        raise KeyError(f"unknown ImageBind preset {preset!r}; known: {sorted(PRESETS)}")
    return PRESETS[preset]


# --- building blocks ----------------------------------------------------------------------------


def _drop_path(x: torch.Tensor, rate: float, training: bool) -> torch.Tensor:
    """Stochastic depth: drop the residual branch per sample with probability `rate`."""
    if not training or rate == 0.0:
        return x
    keep = 1.0 - rate
    mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)
    return x * mask / keep


class Mlp(nn.Module):
    def __init__(self, width: int, ratio: int):
        super().__init__()
        self.fc1 = nn.Linear(width, width * ratio)
        self.fc2 = nn.Linear(width * ratio, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


class Block(nn.Module):
    """Pre-LayerNorm transformer block: x + attn(norm_1(x)), then x + mlp(norm_2(x)).

    `attn` is torch's standard multi-head attention (the official parameter names: in_proj_*,
    out_proj.*, and bias_k / bias_v for the audio trunk, which appends one learned key/value).
    """

    def __init__(self, width: int, heads: int, mlp_ratio: int, add_bias_kv: bool, drop_path: float):
        super().__init__()
        self.attn = nn.MultiheadAttention(width, heads, bias=True, add_bias_kv=add_bias_kv, batch_first=True)
        self.norm_1 = nn.LayerNorm(width, eps=1e-6)
        self.mlp = Mlp(width, mlp_ratio)
        self.norm_2 = nn.LayerNorm(width, eps=1e-6)
        self.drop_path = drop_path

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor | None = None) -> torch.Tensor:
        h = self.norm_1(x)
        h = self.attn(h, h, h, need_weights=False, attn_mask=attn_mask)[0]
        x = x + _drop_path(h, self.drop_path, self.training)
        return x + _drop_path(self.mlp(self.norm_2(x)), self.drop_path, self.training)


class Trunk(nn.Module):
    """(B, L, D) → (B, L, D): optional LayerNorm, then the blocks (drop path rising linearly)."""

    def __init__(self, width: int, layers: int, heads: int, mlp_ratio: int, pre_norm: bool = False,
                 add_bias_kv: bool = False, drop_path: float = 0.0):
        super().__init__()
        if pre_norm:  # official key: pre_transformer_layer.0.*
            self.pre_transformer_layer = nn.Sequential(nn.LayerNorm(width, eps=1e-6))
        rates = [drop_path * i / max(layers - 1, 1) for i in range(layers)]
        self.blocks = nn.Sequential(*(Block(width, heads, mlp_ratio, add_bias_kv, r) for r in rates))

    def forward(self, tokens: torch.Tensor, attn_mask: torch.Tensor | None = None) -> torch.Tensor:
        if hasattr(self, "pre_transformer_layer"):
            tokens = self.pre_transformer_layer(tokens)
        for block in self.blocks:
            tokens = block(tokens, attn_mask)
        return tokens


class PositionTable(nn.Module):
    """Learned absolute positions (official: `pos_embedding_helper.pos_embed`, (1, L, D))."""

    def __init__(self, tokens: int, width: int):
        super().__init__()
        self.pos_embed = nn.Parameter(torch.zeros(1, tokens, width))


class PatchStem(nn.Module):
    """`proj` (a conv, or a Sequential ending in one) → (B, N, D) tokens, then `norm_layer` if any."""

    def __init__(self, proj: nn.Module, norm_layer: nn.Module | None = None):
        super().__init__()
        self.proj = proj
        if norm_layer is not None:
            self.norm_layer = norm_layer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.proj(x).flatten(2).transpose(1, 2)  # (B, D, [T,] H, W) → (B, N, D), time/row-major
        return self.norm_layer(x) if hasattr(self, "norm_layer") else x


class ImageToClip(nn.Module):
    """(B, C, H, W) → (B, C, T, H, W) by repeating the image T times (ImageBind's 2-frame stem)."""

    def __init__(self, frames: int):
        super().__init__()
        self.frames = frames

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.unsqueeze(2).expand(-1, -1, self.frames, -1, -1)


class PatchPreprocessor(nn.Module):
    """Patches + a cls token in front + learned positions: (B, ...) → (B, 1 + N, D)."""

    def __init__(self, stem: PatchStem, tokens: int, width: int):
        super().__init__()
        self.cls_token = nn.Parameter(torch.zeros(1, 1, width))
        self.rgbt_stem = stem
        self.pos_embedding_helper = PositionTable(tokens, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        patches = self.rgbt_stem(x)
        tokens = torch.cat([self.cls_token.expand(len(patches), -1, -1), patches], dim=1)
        return tokens + self.pos_embedding_helper.pos_embed


class TextPreprocessor(nn.Module):
    """Token ids (B, 77) → (B, 77, D) embeddings + positions; `mask` is the causal mask (a
    persistent buffer in the official checkpoint, −inf above the diagonal)."""

    def __init__(self, vocab_size: int, context_length: int, width: int):
        super().__init__()
        self.token_embedding = nn.Embedding(vocab_size, width)
        self.pos_embed = nn.Parameter(torch.zeros(1, context_length, width))
        self.register_buffer("mask", torch.full((context_length, context_length), float("-inf")).triu(1))

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.token_embedding(ids) + self.pos_embed


class SelectToken(nn.Module):
    def __init__(self, index: int = 0):
        super().__init__()
        self.index = index

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, self.index]


class TextHead(nn.Module):
    """Pool the EOT position of each sequence, then `proj` = LayerNorm → Linear (official keys)."""

    def __init__(self, width: int, embed_dim: int):
        super().__init__()
        self.proj = nn.Sequential(nn.LayerNorm(width, eps=1e-6), nn.Linear(width, embed_dim, bias=False))

    def forward(self, x: torch.Tensor, eot_index: torch.Tensor) -> torch.Tensor:
        return self.proj(x[torch.arange(len(x), device=x.device), eot_index])


class Normalize(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(x, dim=-1)


class LogitScale(nn.Module):
    """x · min(exp(log_logit_scale), 100): a parameter for text, a fixed buffer (log 20) for audio."""

    def __init__(self, init: float, learnable: bool):
        super().__init__()
        value = torch.tensor(math.log(init))
        if learnable:
            self.log_logit_scale = nn.Parameter(value)
        else:
            self.register_buffer("log_logit_scale", value)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.log_logit_scale.exp().clamp(max=100.0)


def _head(width: int, embed_dim: int) -> nn.Sequential:
    return nn.Sequential(nn.LayerNorm(width, eps=1e-6), SelectToken(0), nn.Linear(width, embed_dim, bias=False))


# --- the model ----------------------------------------------------------------------------------


class ImageBind(nn.Module):
    """ImageBind restricted to `modalities` (any of vision, text, audio).

    Inputs (already preprocessed, see `model.encoders.images` / `model.encoders.imagebind_audio`):
        vision: (B, 3, 224, 224) float, CLIP mean/std normalised
        text:   (B, 77) int64 CLIP BPE ids (sot … eot, zero padded)
        audio:  (B, 1, 128, 204) normalised log-mel of one 2 s clip, or (B, C, 1, 128, 204) for C clips
    `forward` returns the official outputs; `embed` returns unit vectors (cosine-ready).
    """

    def __init__(self, config: ImageBindConfig | str = "huge", modalities: Sequence[str] = MODALITIES):
        super().__init__()
        self.config = cfg = get_config(config)
        unknown = set(modalities) - set(MODALITIES)
        if unknown or not modalities:
            raise ValueError(f"modalities must be a non-empty subset of {MODALITIES}, got {list(modalities)}")
        self.modalities = tuple(m for m in MODALITIES if m in modalities)
        self.modality_preprocessors = nn.ModuleDict()
        self.modality_trunks = nn.ModuleDict()
        self.modality_heads = nn.ModuleDict()
        self.modality_postprocessors = nn.ModuleDict()
        if "vision" in self.modalities:
            w, k = cfg.vision_width, cfg.patch_size
            conv = nn.Conv3d(3, w, kernel_size=(cfg.video_frames, k, k), stride=(cfg.video_frames, k, k), bias=False)
            stem = PatchStem(nn.Sequential(ImageToClip(cfg.video_frames), conv))  # key: rgbt_stem.proj.1.weight
            self.modality_preprocessors["vision"] = PatchPreprocessor(stem, cfg.vision_tokens, w)
            self.modality_trunks["vision"] = Trunk(w, cfg.vision_layers, cfg.vision_heads, cfg.mlp_ratio, pre_norm=True)
            self.modality_heads["vision"] = _head(w, cfg.embed_dim)
            self.modality_postprocessors["vision"] = Normalize()
        if "text" in self.modalities:
            w = cfg.text_width
            self.modality_preprocessors["text"] = TextPreprocessor(cfg.vocab_size, cfg.context_length, w)
            self.modality_trunks["text"] = Trunk(w, cfg.text_layers, cfg.text_heads, cfg.mlp_ratio)
            self.modality_heads["text"] = TextHead(w, cfg.embed_dim)
            self.modality_postprocessors["text"] = nn.Sequential(Normalize(), LogitScale(1 / 0.07, learnable=True))
        if "audio" in self.modalities:
            w = cfg.audio_width
            conv = nn.Conv2d(1, w, kernel_size=cfg.audio_kernel, stride=cfg.audio_stride, bias=False)
            # The stem's LayerNorm keeps torch's default eps (1e-5), unlike the blocks' 1e-6.
            stem = PatchStem(conv, nn.LayerNorm(w))  # keys: rgbt_stem.proj.weight, rgbt_stem.norm_layer.*
            self.modality_preprocessors["audio"] = PatchPreprocessor(stem, cfg.audio_tokens, w)
            self.modality_trunks["audio"] = Trunk(w, cfg.audio_layers, cfg.audio_heads, cfg.mlp_ratio,
                                                  add_bias_kv=True, drop_path=cfg.audio_drop_path)
            self.modality_heads["audio"] = _head(w, cfg.embed_dim)
            self.modality_postprocessors["audio"] = nn.Sequential(
                Normalize(), LogitScale(cfg.audio_logit_scale, learnable=False))

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        return next(self.parameters()).dtype

    # -- trunks ---------------------------------------------------------------------------------

    def vision_tokens(self, pixels: torch.Tensor) -> torch.Tensor:
        """(B, 3, 224, 224) → (B, 257, Dv) trunk output."""
        size = self.config.image_size
        if pixels.shape[-2:] != (size, size):
            raise ValueError(f"ImageBind vision expects {size}×{size} inputs, got {tuple(pixels.shape[-2:])}")
        tokens = self.modality_preprocessors["vision"](pixels.to(self.dtype))
        return self.modality_trunks["vision"](tokens)

    def text_tokens(self, ids: torch.Tensor) -> torch.Tensor:
        """(B, 77) ids → (B, 77, Dt) trunk output (causal attention)."""
        pre = self.modality_preprocessors["text"]
        return self.modality_trunks["text"](pre(ids), attn_mask=pre.mask.to(self.dtype))

    def audio_tokens(self, mels: torch.Tensor) -> torch.Tensor:
        """(B, 1, 128, 204) normalised log-mel → (B, 229, Da) trunk output: token 0 is the cls
        token, token 1 + f·19 + τ the patch of frequency row f and time column τ."""
        expected = (1, self.config.mel_bins, self.config.mel_frames)
        if tuple(mels.shape[1:]) != expected:
            raise ValueError(f"ImageBind audio expects (B, {', '.join(map(str, expected))}), got {tuple(mels.shape)}")
        tokens = self.modality_preprocessors["audio"](mels.to(self.dtype))
        return self.modality_trunks["audio"](tokens)

    # -- embeddings -----------------------------------------------------------------------------

    def forward(self, inputs: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The official outputs per modality, (B, E): vision unit vectors, text unit × its learned
        scale, audio unit × 20; inputs with a clip axis (audio (B, C, 1, 128, 204)) are averaged
        over clips after that scaling, as upstream does."""
        out = {}
        for modality, value in inputs.items():
            clips = None
            if modality == "audio" and value.ndim == 5:
                clips = value.shape[1]
                value = value.flatten(0, 1)
            if modality == "vision":
                pooled = self.modality_heads["vision"](self.vision_tokens(value))
            elif modality == "text":
                pooled = self.modality_heads["text"](self.text_tokens(value), value.argmax(dim=-1))
            elif modality == "audio":
                pooled = self.modality_heads["audio"](self.audio_tokens(value))
            else:
                raise KeyError(f"modality {modality!r} not built (have {self.modalities})")
            emb = self.modality_postprocessors[modality](pooled)
            out[modality] = emb.unflatten(0, (-1, clips)).mean(dim=1) if clips else emb
        return out

    def embed(self, modality: str, value: torch.Tensor) -> torch.Tensor:
        """Unit-norm embeddings (B, E) for cosine similarities (IA, IT); for several audio clips,
        the direction of their average (the logit scales do not change a direction)."""
        return F.normalize(self({modality: value})[modality].float(), dim=-1)


# --- loading ------------------------------------------------------------------------------------


def modality_of_key(key: str) -> str | None:
    """'modality_trunks.audio.blocks.0.attn.bias_k' → 'audio'; None if not an ImageBind key."""
    family, _, rest = key.partition(".")
    if family not in KEY_FAMILIES:
        return None
    return rest.partition(".")[0] or None


def select_modalities(state: Mapping[str, torch.Tensor], modalities: Iterable[str]) -> tuple[dict, list[str]]:
    """The entries of an official state dict that belong to `modalities`, and the other
    modalities' keys that were set aside. Raises if a key is not ImageBind's at all."""
    wanted = set(modalities)
    kept, ignored, foreign = {}, [], []
    for key, value in state.items():
        modality = modality_of_key(key)
        if modality in wanted:
            kept[key] = value
        elif modality in OFFICIAL_MODALITIES:
            ignored.append(key)
        else:
            foreign.append(key)
    if foreign:
        raise ValueError(f"not an ImageBind state dict: {len(foreign)} keys outside {KEY_FAMILIES}, "
                         f"e.g. {foreign[:3]}")
    return kept, ignored


def _read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    try:
        state = torch.load(path, map_location="cpu", mmap=True, weights_only=True)
    except RuntimeError as exc:
        if "mmap" not in str(exc):
            raise
        # Files written by torch < 1.6 (legacy format) cannot be memory-mapped: read them whole.
        log.warning("%s cannot be memory-mapped (%s); loading it into memory", path, exc)
        state = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise ValueError(f"{path} does not hold a state dict (got {type(state).__name__})")
    return state


def load_state_dict_strict(model: ImageBind, state: Mapping[str, torch.Tensor], source: str = "state dict") -> list[str]:
    """Assign the built modalities' tensors of an official-layout `state` to `model` (which may
    live on the meta device). Every key of those modalities must match by name and shape.
    Returns the ignored keys of other modalities."""
    kept, ignored = select_modalities(state, model.modalities)
    try:
        model.load_state_dict(kept, strict=True, assign=True)
    except RuntimeError as exc:
        raise ValueError(f"{source} does not match ImageBind {list(model.modalities)} "
                         f"(wrong preset or not an ImageBind checkpoint):\n{exc}") from exc
    return ignored


def missing_checkpoint_message(path: str | os.PathLike | None) -> str:
    where = f"{path} does not exist" if path else "no ImageBind checkpoint given"
    return (f"{where}: expected the official imagebind_huge.pth (a plain state dict, ~4.5 GB, "
            f"from {CHECKPOINT_URL}; weights under CC BY-NC-SA 4.0, never bundled with asva). "
            "Download it once and pass its path.")


def load_imagebind(checkpoint: str | os.PathLike, preset: str | ImageBindConfig = "huge",
                   modalities: Sequence[str] = MODALITIES, device: str | torch.device = "cpu",
                   dtype: torch.dtype | None = None) -> ImageBind:
    """ImageBind's `modalities` from an official-layout checkpoint file, frozen, in eval mode.

    The model is built on the meta device and the memory-mapped tensors are assigned to it, so
    CPU loading costs no copy; `device`/`dtype` other than the file's make one copy per tensor.
    Raises FileNotFoundError (with where to get the file) or ValueError (layout mismatch).
    """
    path = Path(checkpoint) if checkpoint else None
    if path is None or not path.is_file():
        raise FileNotFoundError(missing_checkpoint_message(checkpoint))
    with torch.device("meta"):
        model = ImageBind(get_config(preset), modalities)
    ignored = load_state_dict_strict(model, _read_state_dict(path), source=str(path))
    log.info("ImageBind %s loaded from %s (%d keys of other modalities ignored)", model.modalities, path, len(ignored))
    model.requires_grad_(False).eval()
    if dtype is not None:
        model.to(dtype=dtype)
    return model.to(device)

