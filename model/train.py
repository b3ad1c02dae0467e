"""Train AVSyncD's temporal and audio layers with accelerate; `python -m model.train`.

Reads a curation clip manifest (train split), samples 2 s windows (12 frames at 6 fps, height ×
width — `--height/--width`, square `data.resolution` by default — and 16 kHz audio) through
`curation.media.decode`, and trains the new layers of the inflated UNet on the
first-frame-conditioned denoising loss with 20 % null-audio dropout (`objective.py`). AdamW,
constant lr, gradient clipping, mixed precision and gradient accumulation through accelerate;
runs unchanged under `accelerate launch` (each process draws its own examples).

Run folder:
    config.yaml                 the resolved config (a resume must use the same model section)
    checkpoints/step-000100/    trainable.safetensors (new layers only), optimizer.pt, config.yaml,
                                state.json (written last: marks the checkpoint complete)
    final/                      the full pipeline (AVSyncDPipeline.save_pretrained) + metrics.json
    logs/                       TensorBoard
    tiny-sd/                    the tiny base model (tiny preset only)

A rerun with the same --out resumes from the latest checkpoint.

    python -m model.train --preset tiny --manifest data/runs/synthetic/clips.parquet --out data/runs/avsyncd-tiny
    accelerate launch -m model.train --preset paper --manifest data/avsync15.parquet \
        --pretrained pretrained/stable-diffusion-v1-5 --set model.imagebind_checkpoint=imagebind_huge.pth --out runs/avsyncd
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import yaml

from curation.layered_config import config_error_message
from curation.precision import resolve_precision
from model.config import TINY_BASE, AVSyncDConfig, ModelConfig, load_config

log = logging.getLogger("model.train")

CHECKPOINTS, FINAL, STATE_FILE = "checkpoints", "final", "state.json"


@dataclass
class TrainResult:
    out_dir: Path
    final_pipeline: Path
    steps: int
    resumed_from: int
    seconds: float
    history: list[dict] = field(default_factory=list)  # logged rows: step, loss, lr, seconds_per_step
    validation: list[dict] = field(default_factory=list)  # rows: step, loss (held-out denoising loss)


def latest_checkpoint(out_dir: str | Path) -> Path | None:
    """The newest complete checkpoint folder (its state file is written last)."""
    folder = Path(out_dir) / CHECKPOINTS
    done = sorted(p for p in folder.glob("step-*") if (p / STATE_FILE).is_file()) if folder.is_dir() else []
    return done[-1] if done else None


def resolve_base(model_cfg: ModelConfig, out_dir: Path) -> Path:
    """The SD folder to start from: the tiny one (built in the run folder) or a checked real one."""
    from model.stable_diffusion import check_stable_diffusion, ensure_tiny_stable_diffusion

    if model_cfg.pretrained is None:
        raise ValueError("no base model: pass --pretrained with a local Stable Diffusion 1.5 folder (diffusers "
                         "layout), or use --preset tiny")
    if model_cfg.pretrained == TINY_BASE:
        return ensure_tiny_stable_diffusion(out_dir / "tiny-sd", seed=model_cfg.tiny_seed)
    return check_stable_diffusion(model_cfg.pretrained)


def build_audio_encoder(model_cfg: ModelConfig):
    """The frozen audio token encoder the config names (None for I2VD)."""
    if not model_cfg.audio_attention:
        return None
    if model_cfg.audio_encoder == "stand-in":
        from model.audio_conditioning import StandInAudioEncoder

        return StandInAudioEncoder(seed=model_cfg.tiny_seed).eval()
    from model.encoders import load_imagebind_audio_encoder  # the ImageBind issue's encoder

    reference = imagebind_reference(model_cfg)
    return load_imagebind_audio_encoder(reference["checkpoint"], reference["preset"]).eval()


def imagebind_reference(model_cfg: ModelConfig) -> dict | None:
    """Where the ImageBind weights are (a pipeline folder records this, never the weights)."""
    if not model_cfg.audio_attention or model_cfg.audio_encoder != "imagebind":
        return None
    if not model_cfg.imagebind_checkpoint:
        raise ValueError("audio_encoder=imagebind needs model.imagebind_checkpoint=/path/to/imagebind_huge.pth "
                         "(or model.audio_encoder=stand-in)")
    checkpoint = Path(model_cfg.imagebind_checkpoint).resolve()
    if not checkpoint.is_file():
        raise FileNotFoundError(f"ImageBind checkpoint not found: {checkpoint}")
    return {"checkpoint": str(checkpoint), "preset": model_cfg.imagebind_preset}


def build_unet(model_cfg: ModelConfig, base: Path, audio_encoder) -> "AVSyncUNet":  # noqa: F821
    from model.unet import AVSyncUNet

    audio_dim = audio_encoder.token_dim if audio_encoder is not None else 768
    unet = AVSyncUNet.from_pretrained_2d(base / "unet", audio_dim=audio_dim, **model_cfg.unet_options())
    unet.freeze_pretrained()
    return unet


def _flat(config: AVSyncDConfig) -> dict:
    return {f"{section}.{key}": value if isinstance(value, (int, float, str, bool)) else str(value)
            for section, values in config.model_dump().items() for key, value in values.items()}


def _check_resume_config(out_dir: Path, config: AVSyncDConfig, resuming: bool) -> None:
    saved = out_dir / "config.yaml"
    if resuming and saved.is_file():
        before = AVSyncDConfig.model_validate(yaml.safe_load(saved.read_text()))
        if before.model != config.model or before.data.size != config.data.size:
            raise ValueError(f"{out_dir} was trained with a different model config; resume needs the same one")


def train(config: AVSyncDConfig, out_dir: str | Path, resume: bool = True,
          on_log: Callable[[dict], None] | None = None) -> TrainResult:
    """Train (or resume) into `out_dir`; returns the final pipeline folder and the logged curves."""
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState
    from accelerate.utils import set_seed
    from safetensors.torch import load_file, save_file
    from torch.utils.data import DataLoader

    from curation.manifest import read_clip_rows
    from model.data import StepBatches, TrainingWindows, collate_windows, validation_windows
    from model.objective import (HeldOut, apply_audio_drop, denoising_loss, held_out_loss, noisy_video,
                                 sample_audio_drop)
    from model.pipeline import AVSyncDPipeline
    from model.stable_diffusion import encode_frames, encode_prompts, load_stable_diffusion

    out_dir = Path(out_dir)
    tc, dc, mc = config.train, config.data, config.model
    if dc.manifest is None:
        raise ValueError("no training data: pass --manifest (a curation clips.parquet)")
    if tc.num_threads:
        torch.set_num_threads(tc.num_threads)
    previous = latest_checkpoint(out_dir)
    if previous is not None and not resume:
        raise FileExistsError(f"{out_dir} already holds checkpoints; use another --out or allow resuming")
    _check_resume_config(out_dir, config, previous is not None)
    precision = resolve_precision(tc.mixed_precision).mixed_precision
    # One process may train several times (flows, tests): start from a fresh accelerate state.
    AcceleratorState._reset_state(reset_partial_state=True)
    accelerator = Accelerator(mixed_precision=precision, gradient_accumulation_steps=tc.grad_accum,
                              log_with="tensorboard", project_dir=str(out_dir))
    device = accelerator.device
    if accelerator.is_main_process:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "config.yaml").write_text(yaml.safe_dump(json.loads(config.model_dump_json()), sort_keys=False))
    set_seed(tc.seed)

    # --- models: frozen base + audio encoder, inflated UNet with only the new layers trainable
    with accelerator.main_process_first():
        base = resolve_base(mc, out_dir)
    parts = load_stable_diffusion(base, device)
    audio_encoder = build_audio_encoder(mc)
    if audio_encoder is not None:
        audio_encoder.to(device)
    unet = build_unet(mc, base, audio_encoder)
    if tc.gradient_checkpointing:
        unet.enable_gradient_checkpointing()
    if previous is not None:
        unet.load_trainable_state_dict(load_file(str(previous / "trainable.safetensors")))
    trainable = [p for p in unet.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=tc.lr, weight_decay=tc.weight_decay)
    if previous is not None:
        optimizer.load_state_dict(torch.load(previous / "optimizer.pt", map_location="cpu", weights_only=True))
    unet, optimizer = accelerator.prepare(unet, optimizer)
    start_step = json.loads((previous / STATE_FILE).read_text())["step"] if previous is not None else 0
    if previous is not None:
        log.info("resumed from %s (step %d)", previous, start_step)
    scheduler = parts.training_scheduler()
    n_train = sum(p.numel() for p in trainable)
    log.info("UNet: %.2f M parameters, %.2f M trainable", sum(p.numel() for p in unet.parameters()) / 1e6, n_train / 1e6)

    # --- data: deterministic examples per (step, micro-batch, process)
    train_rows = read_clip_rows(dc.manifest, dc.split, need_label=True)
    dataset = TrainingWindows(train_rows, dc, seed=tc.seed)
    batches = StepBatches(start_step, tc.max_steps, tc.batch_size, tc.grad_accum, accelerator.process_index,
                          accelerator.num_processes)
    loader = DataLoader(dataset, batch_sampler=batches, collate_fn=collate_windows, num_workers=dc.num_workers,
                        persistent_workers=False)
    text_cache: dict[str, torch.Tensor] = {}

    def text_for(prompts: list[str]) -> torch.Tensor:
        for prompt in set(prompts) - set(text_cache):
            text_cache[prompt] = encode_prompts(parts.tokenizer, parts.text_encoder, [prompt])[0]
        return torch.stack([text_cache[p] for p in prompts])

    null_tokens = mask = None
    if audio_encoder is not None:
        null_tokens = audio_encoder.encode_null(1)
        mask = audio_encoder.frame_mask(dc.num_frames)

    # --- fixed held-out set (validation split; the train rows if the manifest has none)
    try:
        val_rows = read_clip_rows(dc.manifest, dc.val_split, need_label=True) if dc.val_split else []
    except ValueError as exc:  # no usable held-out rows (read_clips says why): not fatal for training
        log.info("%s", exc)
        val_rows = []
    if not val_rows or dc.val_split == dc.split:
        log.info("no '%s' rows in the manifest: the validation loss uses training rows", dc.val_split)
        val_rows = train_rows
    val = validation_windows(val_rows, dc, tc.eval_clips)
    held = HeldOut.build(
        encode_frames(parts.vae, val["frames"].to(device), generator=torch.Generator(device).manual_seed(0)),
        text_for(val["prompt"]),
        audio_encoder.encode(val["audio"].to(device)) if audio_encoder is not None else None,
        null_tokens, mask, num_train_timesteps=scheduler.config.num_train_timesteps)

    def validate(step: int) -> dict:
        unet.eval()
        loss = held_out_loss(unet, scheduler, held, batch_size=tc.batch_size * 2, autocast=accelerator.autocast)
        unet.train()
        accelerator.log({"val/loss": loss}, step=step)
        log.info("step %d held-out denoising loss %.4f", step, loss)
        return {"step": step, "loss": loss}

    def save_checkpoint(step: int) -> None:
        accelerator.wait_for_everyone()
        if not accelerator.is_main_process:
            return
        folder = out_dir / CHECKPOINTS / f"step-{step:06d}"
        folder.mkdir(parents=True, exist_ok=True)
        state = {k: v.contiguous().cpu() for k, v in accelerator.unwrap_model(unet).trainable_state_dict().items()}
        save_file(state, str(folder / "trainable.safetensors"))
        torch.save(optimizer.state_dict(), folder / "optimizer.pt")
        shutil.copy(out_dir / "config.yaml", folder / "config.yaml")
        (folder / STATE_FILE).write_text(json.dumps({"step": step}) + "\n")  # last: marks it complete
        for old in sorted((out_dir / CHECKPOINTS).glob("step-*"))[: -tc.keep_checkpoints]:
            shutil.rmtree(old, ignore_errors=True)

    accelerator.init_trackers("logs", config=_flat(config))
    history, validation = [], []
    if start_step == 0:
        validation.append(validate(0))
    started = tick = time.perf_counter()
    step, micro, window_loss, window_n = start_step, 0, 0.0, 0
    unet.train()
    for batch in loader:
        # One generator per (step, micro-batch, process): a resumed run repeats the same noise.
        generator = torch.Generator().manual_seed(_step_seed(tc.seed, step, micro, accelerator.process_index))
        with torch.no_grad():
            latents = encode_frames(parts.vae, batch["frames"].to(device), generator=generator)
            text = text_for(batch["prompt"])
            tokens = None
            if audio_encoder is not None:
                tokens = audio_encoder.encode(batch["audio"].to(device))
                drop = sample_audio_drop(len(tokens), tc.audio_drop_prob, generator)
                tokens = apply_audio_drop(tokens, null_tokens, drop)
        noise = torch.randn(latents.shape, generator=generator).to(device)
        timesteps = torch.randint(0, scheduler.config.num_train_timesteps, (len(latents),), generator=generator).to(device)
        with accelerator.accumulate(unet):
            with accelerator.autocast():
                prediction = unet(noisy_video(scheduler, latents, noise, timesteps), timesteps, text, tokens,
                                  None if mask is None else mask[None]).sample
            loss = denoising_loss(prediction, noise)
            accelerator.backward(loss)
            if accelerator.sync_gradients:
                accelerator.clip_grad_norm_(trainable, tc.grad_clip)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
        window_loss += loss.item()
        window_n += 1
        micro += 1
        if micro < tc.grad_accum:
            continue
        micro, step = 0, step + 1
        out_of_time = tc.max_minutes is not None and time.perf_counter() - started > 60 * tc.max_minutes
        if step % tc.log_every == 0 or step == tc.max_steps or out_of_time:
            row = {"step": step, "loss": window_loss / window_n, "lr": optimizer.param_groups[0]["lr"],
                   "seconds_per_step": (time.perf_counter() - tick) * tc.grad_accum / window_n}
            accelerator.log({"train/loss": row["loss"], "train/lr": row["lr"]}, step=step)
            log.info("step %d loss %.4f (%.2f s/step)", step, row["loss"], row["seconds_per_step"])
            history.append(row)
            if on_log is not None:
                minutes = (time.perf_counter() - started) / 60
                on_log(row | {"done": min(1.0, max(step / tc.max_steps, minutes / tc.max_minutes if tc.max_minutes else 0))})
            window_loss, window_n, tick = 0.0, 0, time.perf_counter()
        if tc.eval_every and step % tc.eval_every == 0 and step < tc.max_steps:
            validation.append(validate(step))
        if step % tc.checkpoint_every == 0 and step < tc.max_steps and not out_of_time:
            save_checkpoint(step)
        if out_of_time:
            log.info("stopping at step %d: max_minutes=%s reached", step, tc.max_minutes)
            break

    if step > start_step:
        save_checkpoint(step)
    validation.append(validate(step))
    final = out_dir / FINAL
    if accelerator.is_main_process:
        pipeline = AVSyncDPipeline(parts.vae, parts.text_encoder, parts.tokenizer, accelerator.unwrap_model(unet),
                                   _inference_scheduler(parts.scheduler_config), audio_encoder, dc.num_frames, dc.fps,
                                   dc.size, imagebind_reference(mc))
        pipeline.save_pretrained(final)
        (final / "metrics.json").write_text(json.dumps({"steps": step, "history": history[-5:],
                                                        "validation": validation}, indent=2) + "\n")
    accelerator.end_training()
    seconds = time.perf_counter() - started
    log.info("done: %d steps in %.0f s; pipeline in %s", step, seconds, final)
    return TrainResult(out_dir, final, step, start_step, seconds, history, validation)


def _step_seed(*keys: int) -> int:
    """A 64-bit seed from (seed, step, micro-batch, process)."""
    return int(np.random.SeedSequence(list(keys)).generate_state(1, np.uint64)[0] >> 1)


def _inference_scheduler(scheduler_config: dict):
    from diffusers import PNDMScheduler

    return PNDMScheduler.from_config(scheduler_config)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m model.train", description=__doc__.split("\n")[0])
    parser.add_argument("--manifest", help="Parquet clip manifest (path, label, start_s, end_s[, split])")
    parser.add_argument("--out", default="data/runs/avsyncd", help="run folder (default: %(default)s)")
    parser.add_argument("--preset", default="paper", choices=["paper", "tiny"], help="default: %(default)s")
    parser.add_argument("--config", help="YAML file overriding any subset of the preset")
    parser.add_argument("--pretrained", help="Stable Diffusion 1.5 folder in diffusers layout ('tiny': the project's)")
    parser.add_argument("--split", help="manifest split to train on (default: train)")
    parser.add_argument("--max-steps", type=int)
    parser.add_argument("--max-minutes", type=float)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--lr", type=float)
    parser.add_argument("--height", type=int, help="frame height, pixels (default: data.resolution)")
    parser.add_argument("--width", type=int, help="frame width, pixels (default: data.resolution)")
    parser.add_argument("--threads", type=int, help="torch CPU threads")
    parser.add_argument("--i2vd", action="store_true", help="the image-to-video variant (no audio)")
    parser.add_argument("--no-resume", action="store_true", help="fail if --out already has checkpoints")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="any config override, e.g. --set model.first_frame_attention=false (repeatable)")
    return parser


def config_from_args(args: argparse.Namespace) -> AVSyncDConfig:
    """preset < --config file < the named flags < --set (the same precedence as `sync_classifier.train`)."""
    flags = {"data.manifest": args.manifest, "model.pretrained": args.pretrained, "data.split": args.split,
             "train.max_steps": args.max_steps, "train.max_minutes": args.max_minutes,
             "train.batch_size": args.batch_size, "train.lr": args.lr, "train.num_threads": args.threads,
             "data.height": args.height, "data.width": args.width,
             "model.audio_attention": False if args.i2vd else None}
    return load_config(args.preset, args.config, args.set, flags)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        config = config_from_args(args)
    except (ValueError, KeyError, FileNotFoundError) as exc:  # a bad --config / --set: one line, exit 2
        parser.error(f"config: {config_error_message(exc)}")
    result = train(config, args.out, resume=not args.no_resume)
    print(json.dumps({"final_pipeline": str(result.final_pipeline), "steps": result.steps,
                      "seconds": round(result.seconds, 1), "last": result.history[-1] if result.history else None,
                      "validation": result.validation}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
