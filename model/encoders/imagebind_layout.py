"""The official `imagebind_huge.pth` key layout, written out from the architecture (SPEC "ImageBind"),
and random checkpoints in that layout (tests, benchmarks, the demo: always an explicit file).

Six modalities, 1,311 keys for `huge`. Vision, text and audio follow the given config (so a tiny
config gets a tiny file with the same key names); depth, thermal and IMU keep the released
sizes, since asva only needs their keys to be recognised and skipped.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import torch

from model.encoders.imagebind import ImageBindConfig, get_config

Layout = dict[str, tuple[int, ...]]


def _blocks(prefix: str, width: int, layers: int, mlp_ratio: int, bias_kv: bool) -> Layout:
    out: Layout = {}
    for i in range(layers):
        b = f"{prefix}.blocks.{i}."
        out |= {b + "attn.in_proj_weight": (3 * width, width), b + "attn.in_proj_bias": (3 * width,)}
        if bias_kv:
            out |= {b + "attn.bias_k": (1, 1, width), b + "attn.bias_v": (1, 1, width)}
        out |= {b + "attn.out_proj.weight": (width, width), b + "attn.out_proj.bias": (width,),
                b + "norm_1.weight": (width,), b + "norm_1.bias": (width,),
                b + "mlp.fc1.weight": (mlp_ratio * width, width), b + "mlp.fc1.bias": (mlp_ratio * width,),
                b + "mlp.fc2.weight": (width, mlp_ratio * width), b + "mlp.fc2.bias": (width,),
                b + "norm_2.weight": (width,), b + "norm_2.bias": (width,)}
    return out


def _ln(prefix: str, width: int) -> Layout:
    return {prefix + ".weight": (width,), prefix + ".bias": (width,)}


def _patch_modality(name: str, stem_key: str, stem_shape: tuple[int, ...], tokens: int, width: int, layers: int,
                    embed_dim: int, mlp_ratio: int, stem_norm: bool, pre_norm: bool, bias_kv: bool,
                    scale: bool) -> Layout:
    pre = f"modality_preprocessors.{name}"
    out: Layout = {f"{pre}.cls_token": (1, 1, width), f"{pre}.{stem_key}": stem_shape,
                   f"{pre}.pos_embedding_helper.pos_embed": (1, tokens, width)}
    if stem_norm:
        out |= _ln(f"{pre}.{stem_key.rsplit('.', 2)[0]}.norm_layer", width)
    if pre_norm:
        out |= _ln(f"modality_trunks.{name}.pre_transformer_layer.0", width)
    out |= _blocks(f"modality_trunks.{name}", width, layers, mlp_ratio, bias_kv)
    out |= _ln(f"modality_heads.{name}.0", width) | {f"modality_heads.{name}.2.weight": (embed_dim, width)}
    if scale:
        out[f"modality_postprocessors.{name}.1.log_logit_scale"] = ()
    return out


def official_layout(config: str | ImageBindConfig = "huge", other_modalities: bool = True) -> Layout:
    """Key → shape of the official checkpoint (vision, text, audio at `config`'s sizes; plus the
    released depth / thermal / IMU branches when `other_modalities`)."""
    c = get_config(config)
    r, e = c.mlp_ratio, c.embed_dim
    out = _patch_modality("vision", "rgbt_stem.proj.1.weight",
                          (c.vision_width, 3, c.video_frames, c.patch_size, c.patch_size), c.vision_tokens,
                          c.vision_width, c.vision_layers, e, r, stem_norm=False, pre_norm=True, bias_kv=False,
                          scale=False)
    tw = c.text_width
    out |= {"modality_preprocessors.text.token_embedding.weight": (c.vocab_size, tw),
            "modality_preprocessors.text.pos_embed": (1, c.context_length, tw),
            "modality_preprocessors.text.mask": (c.context_length, c.context_length)}
    out |= _blocks("modality_trunks.text", tw, c.text_layers, r, bias_kv=False)
    out |= _ln("modality_heads.text.proj.0", tw) | {"modality_heads.text.proj.1.weight": (e, tw),
                                                    "modality_postprocessors.text.1.log_logit_scale": ()}
    out |= _patch_modality("audio", "rgbt_stem.proj.weight", (c.audio_width, 1, c.audio_kernel, c.audio_kernel),
                           c.audio_tokens, c.audio_width, c.audio_layers, e, r, stem_norm=True, pre_norm=False,
                           bias_kv=True, scale=True)
    if other_modalities:  # released sizes: depth 384 × 12, thermal 768 × 12 (16² patches of 224²), IMU 512 × 6
        out |= _patch_modality("depth", "depth_stem.proj.weight", (384, 1, 16, 16), 197, 384, 12, e, r,
                               stem_norm=True, pre_norm=False, bias_kv=True, scale=True)
        out |= _patch_modality("thermal", "rgbt_stem.proj.weight", (768, 1, 16, 16), 197, 768, 12, e, r,
                               stem_norm=True, pre_norm=False, bias_kv=True, scale=True)
        imu = {"modality_preprocessors.imu.pos_embed": (1, 251, 512), "modality_preprocessors.imu.cls_token": (1, 1, 512),
               "modality_preprocessors.imu.imu_stem.proj.weight": (512, 48)}
        imu |= _ln("modality_preprocessors.imu.imu_stem.norm_layer", 512)
        imu |= _blocks("modality_trunks.imu", 512, 6, r, bias_kv=True)
        imu |= _ln("modality_heads.imu.0", 512) | {"modality_heads.imu.3.weight": (e, 512),
                                                   "modality_postprocessors.imu.1.log_logit_scale": ()}
        out |= imu
    return out


_FIXED_SCALES = {"text": 1 / 0.07, "audio": 20.0, "depth": 5.0, "thermal": 10.0, "imu": 5.0}


def random_state_dict(config: str | ImageBindConfig = "tiny", seed: int = 0, other_modalities: bool = True,
                      dtype: torch.dtype = torch.float32) -> dict[str, torch.Tensor]:
    """Random weights in the official layout: 0.02·N(0, 1), LayerNorm weights 1 + 0.1·N(0, 1), the
    text causal mask and the logit scales as upstream initialises them."""
    generator = torch.Generator().manual_seed(seed)
    state = {}
    for key, shape in official_layout(config, other_modalities).items():
        if key.endswith(".mask"):
            state[key] = torch.full(shape, float("-inf")).triu(1)
        elif key.endswith("log_logit_scale"):
            state[key] = torch.tensor(math.log(_FIXED_SCALES[key.split(".")[1]]))
        else:
            noise = torch.randn(shape, generator=generator, dtype=dtype)
            is_norm_weight = len(shape) == 1 and key.endswith("weight")  # conv/linear weights are ≥ 2-D
            state[key] = noise.mul_(0.1).add_(1.0) if is_norm_weight else noise.mul_(0.02)
    return state


def write_random_checkpoint(path: str | os.PathLike, config: str | ImageBindConfig = "tiny", seed: int = 0,
                            other_modalities: bool = True) -> Path:
    """Save `random_state_dict(...)` with torch.save, as the official file is saved. Returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(random_state_dict(config, seed, other_modalities), path)
    return path
