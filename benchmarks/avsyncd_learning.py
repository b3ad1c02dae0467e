"""AVSyncD learns on synthetic sync data (issue 5): held-out denoising loss before/after training,
and whether samples depend on the audio.

Trains the `tiny` preset (tiny SD-shaped base, stand-in audio encoder, 64² frames) on generated
clips in which every visual event (bounce / strike / blink) makes a sound at that instant, then
reports on held-out clips:
- the denoising loss (frames 2..12, fixed noise and timesteps) at step 0 and at the end;
- the end model's loss with each clip's own audio vs the null audio vs another clip's audio;
- samples (PNDM, 25 steps) with the audio (η = 1) vs without (η = 0, null audio): mean absolute
  pixel difference of frames 2..12, for the untrained and the trained model.

    .venv/bin/python -m benchmarks.avsyncd_learning [--minutes 15] [--out data/runs/bench-avsyncd]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import time
from pathlib import Path

import numpy as np
import torch

from benchmarks.common import machine, write_result


def sample_metrics(pipeline, clips: list[dict], steps: int) -> dict[str, float]:
    """Samples of held-out clips (their first frame and sound, same seed with and without audio):
    - audio_vs_null: mean |video(η=1, audio) − video(η=0, null)| over frames 2..F, 0–255 pixels;
    - latent_mse: MSE between sampled (η=1) and true latents of frames 2..F (VAE posterior mean),
      next to copy_first_mse, the MSE of simply repeating frame 1's latent (a static video)."""

    diffs, mse, copy = [], [], []
    for i, clip in enumerate(clips):
        image = ((clip["frames"][:, 0].permute(1, 2, 0).numpy() + 1) * 127.5).round().astype(np.uint8)
        with_audio = pipeline(image, clip["audio"].numpy(), clip["prompt"], guidance_scale=1.0,
                              num_inference_steps=steps, seed=i)
        without = pipeline(image, clip["audio"].numpy(), clip["prompt"], guidance_scale=0.0,
                           num_inference_steps=steps, seed=i)
        diffs.append(np.abs(with_audio.frames[1:].astype(float) - without.frames[1:].astype(float)).mean())
        truth = pipeline.vae.encode(clip["frames"].transpose(0, 1)).latent_dist.mean * pipeline.vae.config.scaling_factor
        truth = truth.transpose(0, 1)[None]  # (1, C, F, h, w)
        mse.append(((with_audio.latents[:, :, 1:] - truth[:, :, 1:]) ** 2).mean().item())
        copy.append(((truth[:, :, :1] - truth[:, :, 1:]) ** 2).mean().item())
    return {"audio_vs_null": float(np.mean(diffs)), "latent_mse": float(np.mean(mse)),
            "copy_first_mse": float(np.mean(copy))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=15.0, help="training wall-time budget")
    parser.add_argument("--max-steps", type=int, default=5000)
    parser.add_argument("--out", default="data/runs/bench-avsyncd", help="a fresh folder (an existing run resumes)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: the 2 cores are shared)")
    parser.add_argument("--sample-clips", type=int, default=4)
    parser.add_argument("--sample-steps", type=int, default=25)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    torch.set_num_threads(args.threads)

    from model.config import load_config
    from curation.manifest import read_clip_rows
    from model.data import validation_windows
    from model.objective import HeldOut, held_out_loss
    from model.pipeline import AVSyncDPipeline
    from model.stable_diffusion import encode_frames, encode_prompts
    from model.synthetic_data import write_synthetic_manifest
    from model.train import train

    out = Path(args.out)
    manifest = out / "data" / "clips.parquet"
    if not manifest.is_file():
        write_synthetic_manifest(out / "data", train_videos=48, test_videos=16, duration_s=3.0, size=96, fps=12.0, seed=7)
    config = load_config("tiny", overrides=[
        f"data.manifest={manifest}", f"train.max_steps={args.max_steps}", f"train.max_minutes={args.minutes}",
        f"train.num_threads={args.threads}", "train.eval_every=250", "train.eval_clips=16", "train.checkpoint_every=500",
        "train.log_every=25"])
    started = time.perf_counter()
    result = train(config, out / "run")
    train_seconds = time.perf_counter() - started

    trained = AVSyncDPipeline.from_pretrained(result.final_pipeline)
    untrained_unet = type(trained.unet).from_pretrained_2d(out / "run" / "tiny-sd" / "unet", audio_dim=768,
                                                           **config.model.unet_options()).eval()
    from model.train import build_audio_encoder

    untrained = AVSyncDPipeline.from_base(out / "run" / "tiny-sd", untrained_unet, build_audio_encoder(config.model),
                                          trained.num_frames, trained.fps, trained.resolution)
    data = config.data
    val = validation_windows(read_clip_rows(manifest, "test", need_label=True), data, config.train.eval_clips)
    enc = trained.audio_encoder
    held = HeldOut.build(encode_frames(trained.vae, val["frames"], generator=torch.Generator().manual_seed(0)),
                         encode_prompts(trained.tokenizer, trained.text_encoder, val["prompt"]),
                         enc.encode(val["audio"]), enc.encode_null(1), enc.frame_mask(data.num_frames))
    scheduler = __import__("diffusers").DDPMScheduler.from_config(trained.scheduler.config)
    # The same clip's sound moved by half a second (circularly): right sounds, wrong times.
    shifted = dataclasses.replace(held, tokens=enc.encode(val["audio"].roll(data.sample_rate // 2, dims=1))
                                  .repeat_interleave(len(held.latents) // len(val["audio"]), 0))
    losses = {}
    for name, pipe in (("untrained", untrained), ("trained", trained)):
        for audio in ("real", "null", "shuffled"):
            losses[(name, audio)] = held_out_loss(pipe.unet, scheduler, held, audio=audio)
        losses[(name, "shifted")] = held_out_loss(pipe.unet, scheduler, shifted)
    clips = [{k: v[i] for k, v in val.items()} for i in range(args.sample_clips)]
    with torch.no_grad():
        samples = {name: sample_metrics(pipe, clips, args.sample_steps)
                   for name, pipe in (("untrained", untrained), ("trained", trained))}
    curve = result.validation
    summary = {"steps": result.steps, "train_seconds": round(train_seconds), "validation_curve": curve,
               "held_out_loss": {f"{k[0]}/{k[1]}": round(v, 4) for k, v in losses.items()},
               "samples": samples}
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    rows = "\n".join(f"| {r['step']} | {r['loss']:.4f} |" for r in curve)
    markdown = f"""### Learning on synthetic sync data (tiny preset)

Command: `.venv/bin/python -m benchmarks.avsyncd_learning --minutes {args.minutes:g}`; machine: {machine()}.
{len(read_clip_rows(manifest, 'train', need_label=True))} generated train clips, {len(read_clip_rows(manifest, 'test', need_label=True))} held-out;
{result.steps} steps of batch {config.train.batch_size} in {train_seconds / 60:.1f} min ({args.threads} thread).

Held-out denoising loss (frames 2..12, {len(held.latents)} items: {config.train.eval_clips} clips × 4 fixed timesteps, fixed noise):

| step | loss |
|---|---|
{rows}

| model | own audio | null audio | another clip's audio | own audio shifted 0.5 s |
|---|---|---|---|---|
| untrained (step 0) | {losses[('untrained', 'real')]:.4f} | {losses[('untrained', 'null')]:.4f} | {losses[('untrained', 'shuffled')]:.4f} | {losses[('untrained', 'shifted')]:.4f} |
| trained | {losses[('trained', 'real')]:.4f} | {losses[('trained', 'null')]:.4f} | {losses[('trained', 'shuffled')]:.4f} | {losses[('trained', 'shifted')]:.4f} |

Samples of {args.sample_clips} held-out clips (their first frame and sound; PNDM {args.sample_steps} steps, same seed):

| model | mean abs pixel difference, with (η = 1) vs without audio (η = 0), frames 2..12 (0–255) | latent MSE to the true frames 2..12 (η = 1) | latent MSE of repeating frame 1 (static) |
|---|---|---|---|
| untrained | {samples['untrained']['audio_vs_null']:.2f} | {samples['untrained']['latent_mse']:.4f} | {samples['untrained']['copy_first_mse']:.4f} |
| trained | {samples['trained']['audio_vs_null']:.2f} | {samples['trained']['latent_mse']:.4f} | {samples['trained']['copy_first_mse']:.4f} |
"""
    write_result("avsyncd_learning", markdown)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
