"""Table 1 in miniature on the toy domain (issue 12 §2): AVSyncD vs I2VD vs Static, ground-truth event sync.

    python -m benchmarks.toy_table1 --quick        # smoke size (minutes; numbers not meaningful)
    python -m benchmarks.toy_table1                # the table (BENCHMARKS.md "Toy Table 1")

Steps: toy clips (model/toy.py) → tiny SD-shaped base fitted to toy frames (VAE + text-conditioned
image UNet, diffusers layout) → AVSyncD (frozen base, new temporal + audio layers, 20 % null audio)
and I2VD trained by `model.train` → held-out denoising loss with the true / another clip's / null
audio → held-out generations scored by event F1 (±1 frame) at η = 1, 4, 8, with I2VD and Static.
Writes JSON to --out/results.json and prints it. Status: not yet run to completion (see BENCHMARKS.md).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


def run(out: Path, quick: bool, seed: int = 0) -> dict:
    import torch
    from diffusers import DDPMScheduler

    from model.config import load_config
    from model.data import prompt_for
    from model.objective import HeldOut, held_out_loss
    from model.pipeline import AVSyncDPipeline, StaticAnimator
    from model.stable_diffusion import encode_frames, encode_prompts
    from model.toy import build_toy_base, event_sync_score, generate_for_clips, read_test_clips, write_toy_dataset
    from model.train import train

    sizes = dict(train=12, test=3, vae=20, unet=20, minutes=0.2, steps=4) if quick else \
        dict(train=48, test=12, vae=300, unet=400, minutes=4.0, steps=20)
    started = time.perf_counter()
    manifest = out / "data" / "clips.parquet"
    if not manifest.is_file():
        write_toy_dataset(manifest.parent, sizes["train"], sizes["test"], seed=seed)
    base = out / "base"
    result: dict = {"quick": quick, "seed": seed, "base": build_toy_base(base, manifest, vae_steps=sizes["vae"],
                                                                          unet_steps=sizes["unet"], progress=True)}
    common = [f"data.manifest={manifest}", f"model.pretrained={base}", "data.resolution=32", "data.hflip=false",
              f"train.max_minutes={sizes['minutes']}", "train.max_steps=100000", "train.eval_every=0",
              f"train.eval_clips={sizes['test']}", "train.batch_size=8", f"train.seed={seed}"]
    runs = {"avsyncd": train(load_config("tiny", overrides=common), out / "avsyncd"),
            "i2vd": train(load_config("tiny", overrides=common + ["model.audio_attention=false"]), out / "i2vd")}
    result["train_steps"] = {name: r.steps for name, r in runs.items()}
    clips = read_test_clips(manifest)
    avsyncd = AVSyncDPipeline.from_pretrained(runs["avsyncd"].final_pipeline)

    # held-out denoising loss with the true, another clip's (out of sync) and the null audio
    frames = torch.stack([torch.from_numpy(c.frames).permute(3, 0, 1, 2).float().div(127.5).sub(1) for c in clips])
    enc = avsyncd.audio_encoder
    held = HeldOut.build(encode_frames(avsyncd.vae, frames, generator=torch.Generator().manual_seed(0)),
                         encode_prompts(avsyncd.tokenizer, avsyncd.text_encoder, [prompt_for(c.label) for c in clips]),
                         enc.encode(torch.stack([torch.from_numpy(c.audio[:32000]) for c in clips])),
                         enc.encode_null(1), enc.frame_mask(12))
    scheduler = DDPMScheduler.from_config(avsyncd.scheduler.config)  # the training schedule of the same betas
    result["held_out_loss"] = {audio: held_out_loss(avsyncd.unet, scheduler, held, audio=audio)
                               for audio in ("real", "shuffled", "null")}

    table = {}
    for eta in (1.0, 4.0, 8.0):
        table[f"AVSyncD eta={eta:g}"] = event_sync_score(
            generate_for_clips(avsyncd, clips, eta, sizes["steps"], progress=True), clips)
    table["AVSyncD null audio"] = event_sync_score(
        generate_for_clips(avsyncd, clips, 0.0, sizes["steps"], progress=True), clips)
    i2vd = AVSyncDPipeline.from_pretrained(runs["i2vd"].final_pipeline)
    table["I2VD"] = event_sync_score(generate_for_clips(i2vd, clips, 1.0, sizes["steps"], with_audio=False,
                                                        progress=True), clips)
    table["Static"] = event_sync_score(generate_for_clips(StaticAnimator(12, 6.0, (32, 32)), clips), clips)
    table["Ground truth"] = event_sync_score([c.frames for c in clips], clips)
    result["event_sync"] = table
    result["seconds"] = round(time.perf_counter() - started, 1)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.toy_table1", description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("data/runs/toy_table1"))
    parser.add_argument("--quick", action="store_true", help="smoke size: checks the chain, numbers not meaningful")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    out = args.out / ("quick" if args.quick else f"seed{args.seed}")
    result = run(out, args.quick, args.seed)
    (out / "results.json").write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
