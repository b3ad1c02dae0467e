"""Peak RSS and wall time of `python -m model.convert_asva` on an SD-1.5-sized AVSyncD UNet in the
authors' release layout (`modules/unet/config.json` + weights, their key names), against the file size.

The checkpoint is built with random weights, one tensor at a time from a meta-device model (its
shapes), and written with safetensors; the conversion then runs in a child process whose peak
RSS (`ru_maxrss`) is reported. Usage:

    python benchmarks/convert_asva_memory.py [--workdir /tmp/asva_convert_bench] [--format safetensors|bin]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import torch

from model.convert_asva import AUTHORS_UNET_CLASS, our_key
from model.stable_diffusion import SD15_UNET_CONFIG
from model.unet import AVSyncUNet

# Ours → theirs, the inverse of model.convert_asva's renaming (checked below on every key).
_TO_AUTHORS = ((".attn_temp.norm.", ".norm_temp."), (".attn_temp.pos_embedding.", ".pos_embedding_temp."),
               (".attn_temp.attn.", ".attn_temp."), (".attn_audio.norm.", ".norm_audio."),
               (".attn_audio.attn.", ".attn_audio."))

AUTHORS_SD15_CONFIG = {
    "_class_name": AUTHORS_UNET_CLASS, **{k: list(v) if isinstance(v, tuple) else v for k, v in SD15_UNET_CONFIG.items()},
    "down_block_types": ["FFSpatioAudioTempCrossAttnDownBlock3D"] * 3 + ["FFSpatioTempResDownBlock3D"],
    "up_block_types": ["FFSpatioTempResUpBlock3D"] + ["FFSpatioAudioTempCrossAttnUpBlock3D"] * 3,
    "mid_block_type": "FFSpatioAudioTempCrossAttnUNetMidBlock3D", "audio_cross_attention_dim": 768,
}


def authors_key(ours: str) -> str:
    key = ours.removeprefix("unet.")
    for old, new in _TO_AUTHORS:
        key = key.replace(old, new)
    assert our_key(key) == ours, (ours, key)
    return key


def write_authors_checkpoint(unet_dir: Path, file_format: str) -> Path:
    """Random-weight SD-1.5-sized AudioUNet3DConditionModel folder; returns the weight file."""
    with torch.device("meta"):
        model = AVSyncUNet(unet2d_config=dict(SD15_UNET_CONFIG), audio_dim=768)
    generator = torch.Generator().manual_seed(0)
    state = {authors_key(k): torch.randn(v.shape, generator=generator) * 0.02 for k, v in model.state_dict().items()}
    unet_dir.mkdir(parents=True, exist_ok=True)
    (unet_dir / "config.json").write_text(json.dumps(AUTHORS_SD15_CONFIG, indent=2))
    if file_format == "safetensors":
        from safetensors.torch import save_file

        path = unet_dir / "diffusion_pytorch_model.safetensors"
        save_file(state, str(path))
    else:
        path = unet_dir / "diffusion_pytorch_model.bin"
        torch.save(state, path)
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/asva_convert_bench"))
    parser.add_argument("--format", choices=("safetensors", "bin"), default="safetensors")
    args = parser.parse_args()
    unet_dir = args.workdir / "checkpoint" / "modules" / "unet"
    weights = next(unet_dir.glob(f"diffusion_pytorch_model.{args.format}"), None) or write_authors_checkpoint(unet_dir, args.format)
    size = weights.stat().st_size
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "model.convert_asva", "--unet", str(unet_dir), "--out",
                    str(args.workdir / "converted")], check=True)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024  # kB on Linux
    print(f"| {args.format} | {size / 2**30:.2f} GiB | {peak / 2**30:.2f} GiB | {peak / size:.2f} | {seconds:.1f} s |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
