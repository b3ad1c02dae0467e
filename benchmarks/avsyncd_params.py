"""Parameter counts of the full SD-1.5-sized AVSyncD UNet, built on the meta device (no weights,
no memory), against the paper / authors' numbers (SPEC "AVSyncD": 859.5 M frozen + 309.8 M
trainable = 1,169.4 M; implementation notes A9 for the groups).

    .venv/bin/python -m benchmarks.avsyncd_params
"""

from __future__ import annotations

import time

import torch

from benchmarks.common import machine, write_result

# implementation notes A9 (authors' model built from the SD-1.5 config), millions
PAPER = {"total": 1169.36, "frozen": 859.52, "trainable": 309.84, "conv_temp": 191.44, "attn_temp": 49.57,
         "pos_embedding": 24.81, "attn_audio": 43.96, "new LayerNorms": 0.05}


def count(unet) -> dict[str, float]:
    from model.unet import is_new_parameter

    groups = dict.fromkeys(PAPER, 0)
    for name, p in unet.named_parameters():
        n = p.numel()
        groups["total"] += n
        if not is_new_parameter(name):
            groups["frozen"] += n
            continue
        groups["trainable"] += n
        if "conv_temp" in name:
            groups["conv_temp"] += n
        elif ".attn_temp.pos_embedding." in name:
            groups["pos_embedding"] += n
        elif name.endswith(("attn_temp.norm.weight", "attn_temp.norm.bias", "attn_audio.norm.weight",
                            "attn_audio.norm.bias")):
            groups["new LayerNorms"] += n
        elif ".attn_temp." in name:
            groups["attn_temp"] += n
        elif ".attn_audio." in name:
            groups["attn_audio"] += n
    return {k: v / 1e6 for k, v in groups.items()}


def main() -> int:
    from model.stable_diffusion import SD15_UNET_CONFIG
    from model.unet import AVSyncUNet

    started = time.perf_counter()
    with torch.device("meta"):
        full = AVSyncUNet(unet2d_config=SD15_UNET_CONFIG, audio_dim=768)
        i2vd = AVSyncUNet(unet2d_config=SD15_UNET_CONFIG, audio_attention=False)
    seconds = time.perf_counter() - started
    ours, ours_i2vd = count(full), count(i2vd)
    convs = sum(1 for m in full.modules() if hasattr(m, "conv_temp"))
    blocks = sum(1 for m in full.modules() if type(m).__name__ == "VideoTransformerBlock")
    rows = "\n".join(f"| {k} | {PAPER[k]:.2f} | {ours[k]:.2f} | {ours_i2vd[k]:.2f} |" for k in PAPER)
    markdown = f"""### Parameter counts of the SD-1.5-sized model (meta device)

Command: `.venv/bin/python -m benchmarks.avsyncd_params`; machine: {machine()}; built in {seconds:.1f} s.
`AVSyncUNet` from SD-1.5's UNet config with 768-d audio tokens: {convs} first-frame temporal convs and
{blocks} video transformer blocks (paper/authors: 66 and 16).

| parameters (M) | paper / authors' model | ours (AVSyncD) | ours (I2VD) |
|---|---|---|---|
{rows}
"""
    write_result("avsyncd_params", markdown)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
