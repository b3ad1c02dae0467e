"""Train-step time and peak memory of the tiny AVSyncD UNet, with and without gradient
checkpointing (issue 5). Each setting runs in its own process so its peak RSS is its own.

One step = UNet forward on a noisy 12-frame latent video with audio tokens, loss on frames
2..12, backward, AdamW step over the temporal/audio layers (the VAE/text/audio encoders are
outside the step, as their outputs do not need gradients).

    .venv/bin/python -m benchmarks.avsyncd_step_cost [--steps 6]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time

from benchmarks.common import REPO, machine, write_result

SETTINGS = [  # (resolution, batch)
    (64, 2),  # the tiny preset
    (128, 4),
]


def worker(resolution: int, batch: int, checkpointing: bool, steps: int, threads: int) -> dict:
    import torch

    from model.encoders.audio_tokens import frame_token_mask
    from model.objective import denoising_loss, noisy_video
    from model.stable_diffusion import build_tiny_stable_diffusion, load_stable_diffusion
    from model.unet import AVSyncUNet

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    base = build_tiny_stable_diffusion(tempfile.mkdtemp() + "/sd")
    parts = load_stable_diffusion(base)
    unet = AVSyncUNet.from_pretrained_2d(base / "unet", audio_dim=768)
    unet.freeze_pretrained()
    if checkpointing:
        unet.enable_gradient_checkpointing()
    unet.train()
    optimizer = torch.optim.AdamW([p for p in unet.parameters() if p.requires_grad], lr=1e-4)
    scheduler = parts.training_scheduler()
    side = resolution // 8
    latents = torch.randn(batch, 4, 12, side, side)
    text = torch.randn(batch, 77, parts.text_encoder.config.hidden_size)
    tokens, mask = torch.randn(batch, 229, 768), frame_token_mask(12)[None]

    def step() -> None:
        noise = torch.randn_like(latents)
        t = torch.randint(0, 1000, (batch,))
        loss = denoising_loss(unet(noisy_video(scheduler, latents, noise, t), t, text, tokens, mask).sample, noise)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # model, inputs loaded; no step yet
    step()  # warm-up (allocator, optimizer state)
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    times.sort()
    return {"resolution": resolution, "batch": batch, "checkpointing": checkpointing, "median_s": times[len(times) // 2],
            "peak_rss_mb": peak / 1024, "step_peak_mb": (peak - before) / 1024}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(**json.loads(args.worker))))
        return 0
    rows = []
    for resolution, batch in SETTINGS:
        for checkpointing in (False, True):
            spec = json.dumps({"resolution": resolution, "batch": batch, "checkpointing": checkpointing,
                               "steps": args.steps, "threads": args.threads})
            out = subprocess.run([sys.executable, "-m", "benchmarks.avsyncd_step_cost", "--worker", spec], cwd=REPO,
                                 capture_output=True, text=True, check=True)
            rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
            print(rows[-1], flush=True)
    lines = "\n".join(
        f"| {r['resolution']}² × 12 frames, batch {r['batch']} | {'on' if r['checkpointing'] else 'off'} | "
        f"{r['median_s']:.2f} | {r['peak_rss_mb']:.0f} | {r['step_peak_mb']:.0f} |" for r in rows)
    markdown = f"""### Train-step time and peak memory, tiny UNet (with / without gradient checkpointing)

Command: `.venv/bin/python -m benchmarks.avsyncd_step_cost --steps {args.steps}`; machine: {machine()};
{args.threads} torch thread(s), fp32, median of {args.steps} steps after one warm-up step, one process per row.
Peak memory = the process's peak RSS (ru_maxrss); "training steps add" = that peak minus the peak
before the first step (model and inputs loaded): activations, gradients and AdamW state.

| input | checkpointing | s / step | peak RSS (MB) | training steps add (MB) |
|---|---|---|---|---|
{lines}
"""
    write_result("avsyncd_step_cost", markdown)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
