"""Convert the authors' released AVSyncD UNet into this project's model folder.

    python -m model.convert_asva --unet CKPT/modules/unet --pretrained SD15_DIR \
        --imagebind imagebind_huge.pth --out DIR

`CKPT/modules/unet` is the authors' `AudioUNet3DConditionModel.save_pretrained` folder
(`config.json` + `diffusion_pytorch_model.safetensors` or `.bin`; AVSync15 `checkpoint-37000`,
Landscapes `-24000`, TheGreatestHits `-16000`). Their config is mapped to an `AVSyncUNet` config
(the 3D block types back to SD's 2D ones, `audio_cross_attention_dim` → `audio_dim`), and their
state dict is renamed key by key into ours, strictly: every key lands in exactly one of ours, and
a key that maps nowhere is an error naming it. With `--pretrained` (SD-1.5's folder: VAE, text
encoder, tokenizer, scheduler) and `--imagebind`, DIR is a full pipeline folder for
`python -m model.animate --model DIR` and `AVSyncDPipeline.from_pretrained(DIR)`; without
`--pretrained`, DIR holds the converted UNet only (`AVSyncUNet.from_pretrained(DIR)`).

Clip format: their UNet config does not say what size the model was trained at (its
`sample_size` is SD's). The experiment's training config, `config.yaml` beside `ckpts/`
(`train.dataset.img_size`, `video_fps`, `video_num_frame`), does: it is read when present, so
TheGreatestHits converts to 128 × 256 (height × width). Without it, an experiment folder named
`thegreatesthits…` gets 128 × 256 (the size their demo and test scripts use for it) and any other
256 × 256; `--height/--width` override either.

Weights are memory-mapped from the file and assigned into a model built on the meta device, so
peak RAM is about one copy of the weights (BENCHMARKS.md, benchmarks/convert_asva_memory.py).
"""

from __future__ import annotations

import argparse
import json
import os
import re
from pathlib import Path
from typing import Any

import torch

from model.unet import AVSyncUNet
from sync_classifier.pretrained import read_diffusers_module_dir

AUTHORS_UNET_CLASS = "AudioUNet3DConditionModel"
# The (height, width) their scripts (animation_demo.py, animation_test_*.sh) use per release.
RELEASE_SIZES = {"thegreatesthits": (128, 256), "landscapes": (256, 256), "avsync15": (256, 256)}

# Their 3D block types and the SD 2D blocks they inflate (their `from_pretrained_2d`).
BLOCK_TYPES_2D = {
    "FFSpatioAudioTempCrossAttnDownBlock3D": "CrossAttnDownBlock2D",
    "FFSpatioTempCrossAttnDownBlock3D": "CrossAttnDownBlock2D",
    "FFSpatioTempResDownBlock3D": "DownBlock2D",
    "FFSpatioAudioTempCrossAttnUpBlock3D": "CrossAttnUpBlock2D",
    "FFSpatioTempCrossAttnUpBlock3D": "CrossAttnUpBlock2D",
    "FFSpatioTempResUpBlock3D": "UpBlock2D",
    "FFSpatioAudioTempCrossAttnUNetMidBlock3D": "UNetMidBlock2DCrossAttn",
    "FFSpatioTempCrossAttnUNetMidBlock3D": "UNetMidBlock2DCrossAttn",
}
# Keys of their config that are UNet2DConditionModel arguments with the same meaning.
_UNET2D_KEYS = (
    "act_fn", "attention_head_dim", "block_out_channels", "center_input_sample", "cross_attention_dim",
    "downsample_padding", "flip_sin_to_cos", "freq_shift", "in_channels", "layers_per_block",
    "mid_block_scale_factor", "norm_eps", "norm_num_groups", "out_channels", "sample_size",
    "only_cross_attention", "dual_cross_attention", "use_linear_projection", "upcast_attention",
    "resnet_time_scale_shift", "class_embed_type", "num_class_embeds", "conv_in_kernel", "conv_out_kernel",
    "time_embedding_type", "addition_embed_type", "encoder_hid_dim",
)

# Their transformer block keeps the temporal / audio attention's norm and positional embedding
# beside the attention (`norm_temp`, `pos_embedding_temp`, `norm_audio`); ours groups them in one
# module per added layer. (their pattern, our replacement), tried in order; everything else is
# the same name under our `unet.` (the kept SD UNet).
_KEY_RULES = (
    (re.compile(r"\.norm_temp\."), ".attn_temp.norm."),
    (re.compile(r"\.pos_embedding_temp\."), ".attn_temp.pos_embedding."),
    (re.compile(r"\.attn_temp\.(to_q|to_k|to_v|to_out)\."), r".attn_temp.attn.\1."),
    (re.compile(r"\.norm_audio\."), ".attn_audio.norm."),
    (re.compile(r"\.attn_audio\.(to_q|to_k|to_v|to_out)\."), r".attn_audio.attn.\1."),
)


def avsync_unet_config(authors_config: dict[str, Any]) -> dict[str, Any]:
    """Their `AudioUNet3DConditionModel` config.json → `AVSyncUNet` config (its `unet2d_config`
    plus options). Unknown block types are an error (a different architecture)."""
    if authors_config.get("_class_name") != AUTHORS_UNET_CLASS:
        raise ValueError(f"config names {authors_config.get('_class_name')!r}, not the authors' {AUTHORS_UNET_CLASS}")
    unet2d = {key: authors_config[key] for key in _UNET2D_KEYS if key in authors_config}
    try:
        unet2d["down_block_types"] = [BLOCK_TYPES_2D[t] for t in authors_config["down_block_types"]]
        unet2d["up_block_types"] = [BLOCK_TYPES_2D[t] for t in authors_config["up_block_types"]]
        unet2d["mid_block_type"] = BLOCK_TYPES_2D[authors_config["mid_block_type"]]
    except KeyError as exc:
        raise ValueError(f"unknown block type {exc} in the authors' config: no AVSyncUNet equivalent") from exc
    has_audio = any("Audio" in t for t in authors_config["down_block_types"] + authors_config["up_block_types"])
    return {"unet2d_config": unet2d, "audio_attention": has_audio,
            "audio_dim": int(authors_config.get("audio_cross_attention_dim") or 768)}


def our_key(authors_key: str) -> str:
    """One state-dict key of theirs → ours."""
    for pattern, replacement in _KEY_RULES:
        authors_key = pattern.sub(replacement, authors_key)
    return "unet." + authors_key


def convert_state_dict(authors_state: dict[str, torch.Tensor], expected: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename strictly: every key must land in exactly one of `expected` (ours) with its shape, and
    every one of ours must be filled. Raises ValueError naming the keys that do not."""
    converted: dict[str, torch.Tensor] = {}
    unmapped = []
    for key, tensor in authors_state.items():
        target = our_key(key)
        if target not in expected:
            unmapped.append(key)
        elif target in converted:
            raise ValueError(f"two of the authors' keys map to {target}: one of them is {key}")
        elif tuple(expected[target].shape) != tuple(tensor.shape):
            raise ValueError(f"{key}: shape {tuple(tensor.shape)} does not fit {target} {tuple(expected[target].shape)}")
        else:
            converted[target] = tensor
    if unmapped:
        raise ValueError(f"{len(unmapped)} key(s) of the authors' UNet map to none of ours: {', '.join(unmapped[:8])}")
    missing = sorted(set(expected) - set(converted))
    if missing:
        raise ValueError(f"the authors' UNet lacks {len(missing)} of our weights: {', '.join(missing[:8])}")
    return converted


def convert_asva_unet(unet_dir: str | os.PathLike) -> AVSyncUNet:
    """The authors' `modules/unet` folder → an `AVSyncUNet` (eval mode), memory-mapped."""
    unet_dir = Path(unet_dir)
    config_path = unet_dir / "config.json"
    if not config_path.is_file():
        hint = ""
        if (unet_dir / "video_encoder").is_dir() or (unet_dir / "head").is_dir():
            hint = " (this looks like the sync classifier's modules: use python -m sync_classifier.convert_asva)"
        elif (unet_dir / "unet").is_dir():
            hint = f" (this is the modules folder: pass --unet {unet_dir / 'unet'})"
        elif (unet_dir / "modules" / "unet").is_dir():
            hint = f" (this is the checkpoint folder: pass --unet {unet_dir / 'modules' / 'unet'})"
        raise FileNotFoundError(f"{unet_dir} has no config.json: expected the authors' modules/unet folder{hint}")
    options = avsync_unet_config(json.loads(config_path.read_text()))
    authors_state = read_diffusers_module_dir(unet_dir, AUTHORS_UNET_CLASS)
    with torch.device("meta"):  # no RAM for random initial weights
        model = AVSyncUNet(**options)
    state = convert_state_dict(authors_state, model.state_dict())
    model.load_state_dict(state, strict=True, assign=True)
    return model.eval()


def experiment_config_path(unet_dir: str | os.PathLike) -> Path | None:
    """The training config of the experiment `EXP/ckpts/checkpoint-N/modules/unet` belongs to
    (`EXP/config.yaml`, written by their animation_train.py), if it is there."""
    unet_dir = Path(unet_dir).resolve()
    parents = unet_dir.parents
    if len(parents) >= 4 and parents[0].name == "modules" and parents[2].name == "ckpts":
        candidate = parents[3] / "config.yaml"
        return candidate if candidate.is_file() else None
    return None


def authors_clip_format(unet_dir: str | os.PathLike) -> dict[str, Any]:
    """{"height", "width", "num_frames", "fps", "source"} the authors trained this UNet at (module doc)."""
    import yaml

    config_path = experiment_config_path(unet_dir)
    if config_path is not None:
        dataset = ((yaml.safe_load(config_path.read_text()) or {}).get("train") or {}).get("dataset") or {}
        size = dataset.get("img_size", 256)
        height, width = (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
        return {"height": height, "width": width, "num_frames": int(dataset.get("video_num_frame", 12)),
                "fps": float(dataset.get("video_fps", 6)), "source": str(config_path)}
    resolved = Path(unet_dir).resolve()
    for part in reversed(resolved.parts):
        for release, (height, width) in RELEASE_SIZES.items():
            if part.lower().startswith(release):
                return {"height": height, "width": width, "num_frames": 12, "fps": 6.0,
                        "source": f"the authors' size for {release} (no config.yaml beside ckpts/)"}
    return {"height": 256, "width": 256, "num_frames": 12, "fps": 6.0,
            "source": "the authors' default (no config.yaml beside ckpts/; pass --height/--width if it differs)"}


def check_parts_fit(unet: AVSyncUNet, text_dim: int, audio_dim: int | None) -> None:
    """The converted UNet's cross-attention widths must match the text encoder and audio encoder
    it is combined with (SD-1.5's CLIP: 768, ImageBind-huge audio: 768)."""
    if unet.config.unet2d_config["cross_attention_dim"] != text_dim:
        raise ValueError(f"the UNet attends to {unet.config.unet2d_config['cross_attention_dim']}-wide text tokens, "
                         f"the --pretrained text encoder gives {text_dim}: not the base model it was trained on")
    if audio_dim is not None and unet.config.audio_dim != audio_dim:
        raise ValueError(f"the UNet attends to {unet.config.audio_dim}-wide audio tokens, the ImageBind checkpoint "
                         f"gives {audio_dim}: check --imagebind / --imagebind-preset")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--unet", required=True, help="the authors' checkpoint-N/modules/unet folder")
    parser.add_argument("--pretrained", help="Stable Diffusion v1.5 folder (vae, text_encoder, tokenizer, scheduler)")
    parser.add_argument("--imagebind", help="imagebind_huge.pth (AVSyncD's audio encoder; recorded, not copied)")
    parser.add_argument("--imagebind-preset", default="huge",
                        help="ImageBind size of that checkpoint (model/encoders; default: %(default)s)")
    parser.add_argument("--height", type=int, help="frame height the model generates (default: the authors' config)")
    parser.add_argument("--width", type=int, help="frame width the model generates (default: the authors' config)")
    parser.add_argument("--out", required=True, help="output folder")
    args = parser.parse_args(argv)
    try:
        unet = convert_asva_unet(args.unet)
        if args.pretrained is None:
            out = Path(args.out)
            unet.save_pretrained(out)
            print(f"converted UNet written to {out} (no --pretrained: not a pipeline folder)")
            return 0
        from model.encoders import load_imagebind_audio_encoder
        from model.pipeline import AVSyncDPipeline

        if args.imagebind is None:
            raise FileNotFoundError("--imagebind imagebind_huge.pth is needed for a pipeline folder "
                                    "(published at https://dl.fbaipublicfiles.com/imagebind/imagebind_huge.pth)")
        clip = authors_clip_format(args.unet)
        size = (args.height or clip["height"], args.width or clip["width"])
        encoder = load_imagebind_audio_encoder(args.imagebind, args.imagebind_preset)
        pipeline = AVSyncDPipeline.from_base(args.pretrained, unet, encoder, clip["num_frames"], clip["fps"], size)
        check_parts_fit(unet, pipeline.text_encoder.config.hidden_size, encoder.token_dim)
        pipeline.audio_encoder_reference = {"checkpoint": str(Path(args.imagebind).resolve()),
                                            "preset": args.imagebind_preset}
        out = pipeline.save_pretrained(args.out)
    except (FileNotFoundError, KeyError, ValueError) as exc:
        parser.exit(2, f"error: {exc}\n")
    source = "--height/--width" if args.height or args.width else clip["source"]
    print(f"AVSyncD pipeline written to {out}: {clip['num_frames']} frames at {clip['fps']:g} fps, "
          f"{size[0]}×{size[1]} (from {source})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
