"""`make demo`'s AVSyncD part: build the tiny base, train it briefly on generated sync clips, and
animate the authors' demo pair (a lion picture + a lion's roar) into an mp4 with sound.

    python -m model.demo --out data/demo/avsyncd        # ~2–3 minutes on 2 CPU cores

Steps: the tiny SD-shaped base (diffusers layout) → its tiny VAE fitted for a few hundred steps on
generated and real frames (a random VAE would decode to noise) → generated sync clips written as
mp4 + clips.parquet → `model.train` (tiny preset, time-bounded) → `model.animate` on
data/examples/lion_and_gun.png + lions_roaring.wav. Prints where the mp4 is.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "data" / "examples"  # the demo's assets and their origins (data/examples/README.md)
DEMO_IMAGE = EXAMPLES / "lion_and_gun.png"
DEMO_SOUND = EXAMPLES / "lions_roaring.wav"
REAL_FOOTAGE = EXAMPLES

log = logging.getLogger("model.demo")


def vae_fitting_frames(resolution: int, seed: int = 0) -> torch.Tensor:
    """(N, 3, S, S) in [−1, 1]: generated scenes plus frames of the real test footage."""
    from curation.config import MediaConfig
    from curation.media import MediaError, decode
    from curation.sources.synthetic import random_scenes, render_clip

    rng = np.random.default_rng(seed)
    frames = [render_clip(random_scenes(rng, duration_s=2.0), fps=6, size=(resolution, resolution), seed=i)[0]
              for i in range(12)]
    for path in sorted(REAL_FOOTAGE.glob("*.mp4")):
        try:
            media = decode(path, MediaConfig(fps=2, short_side=resolution, require_audio=False))
        except MediaError:
            continue
        h, w = media.frames.shape[1:3]
        top, left = (h - resolution) // 2, (w - resolution) // 2
        frames.append(media.frames[:, top : top + resolution, left : left + resolution])
    stack = np.concatenate(frames)
    return torch.from_numpy(stack).permute(0, 3, 1, 2).float().div(127.5).sub(1)


def run_demo(out: str | Path, train_minutes: float = 1.2, vae_steps: int = 120, resolution: int = 64,
             sample_steps: int = 25, guidance: float = 4.0, threads: int | None = None) -> Path:
    from model.animate import animate
    from model.config import load_config
    from model.stable_diffusion import ensure_tiny_stable_diffusion, fit_tiny_vae
    from model.synthetic_data import write_synthetic_manifest
    from model.train import train

    out = Path(out)
    if threads:
        torch.set_num_threads(threads)
    started = time.perf_counter()
    base = out / "tiny-sd"
    if not (base / "vae" / "fitted.json").is_file():
        ensure_tiny_stable_diffusion(base)
        mse = fit_tiny_vae(base, vae_fitting_frames(resolution), steps=vae_steps)
        (base / "vae" / "fitted.json").write_text(json.dumps({"steps": vae_steps, "mse": mse}) + "\n")
        log.info("tiny VAE fitted: reconstruction MSE %.4f (%.0f s)", mse, time.perf_counter() - started)
    manifest = out / "data" / "clips.parquet"
    if not manifest.is_file():
        write_synthetic_manifest(out / "data", train_videos=24, test_videos=3, duration_s=3.0, size=96, seed=1)
    config = load_config("tiny", overrides=[
        f"data.manifest={manifest}", f"model.pretrained={base}", f"data.resolution={resolution}",
        f"train.max_minutes={train_minutes}", "train.max_steps=100000", "train.eval_every=0", "train.eval_clips=3",
        "train.log_every=25"] + ([f"train.num_threads={threads}"] if threads else []))
    result = train(config, out / "run")
    summary = animate(result.final_pipeline, DEMO_IMAGE, DEMO_SOUND, out / "lion_roaring.mp4", prompt="lions roaring",
                      guidance_scale=guidance, steps=sample_steps)
    log.info("demo done in %.0f s", time.perf_counter() - started)
    return Path(summary["mp4"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m model.demo", description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="data/demo/avsyncd", help="demo folder (default: %(default)s)")
    parser.add_argument("--train-minutes", type=float, default=1.2)
    parser.add_argument("--vae-steps", type=int, default=120)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (default 1: tiny ops gain little from 2, and stall when the cores are shared)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    mp4 = run_demo(args.out, args.train_minutes, args.vae_steps, threads=args.threads)
    print(f"AVSyncD demo video (lion picture animated with a lion's roar, sound muxed in): {mp4.resolve()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
