"""The toy audio-visual domain of the CPU-sized Table 1 (issue 12): lamps that flash on a sound.

Each clip is one shot of a big lamp on a plain background (`curation.sources.synthetic`, the
project's one generator: a `blink` object) that flashes at random instants, each flash sounding a
click or tone at that instant. Between flashes the lamp is dim, so the **first frame cannot tell
when the flashes happen: the timing is only in the audio**. Flash times sit on frame times
(k / fps, k ≥ 1) at least two frames apart, so every event is one frame and the ground truth is
exact at the model's 6 fps.

Classes (folder label → prompt by `model.data.prompt_for`) differ in lamp hue and sound, so the
prompt matters too. Clips are written as real H.264 + AAC mp4 files with a `clips.parquet`
manifest (the columns `model.train` reads) and the flash frames of each clip in `events.json`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from curation.media import write_mp4
from curation.sources.synthetic import ObjectSpec, SceneSpec, render_clip

# label → (lamp hue 0..1, sound, tone pitch Hz)
TOY_CLASSES: dict[str, tuple[float, str, float]] = {
    "red_lamp_flashing": (0.0, "click", 440.0),
    "green_lamp_flashing": (0.33, "tone", 660.0),
    "blue_lamp_flashing": (0.62, "tone", 330.0),
}
TOY_FPS = 6.0
TOY_FRAMES = 12  # 2 s at 6 fps, AVSyncD's clip
TOY_SAMPLE_RATE = 16000
TOY_LAMP_RADIUS = 0.36  # of the frame's short side: a lamp AVSyncD's 32² frames show clearly
# A flash (and its sound) starts this long before its frame's time, so that frame shows it at full brightness.
FLASH_LEAD_S = 0.002


@dataclass(frozen=True)
class ToyClip:
    """A rendered toy clip: frames (F, H, W, 3) uint8, audio (S,) float32 at 16 kHz, the flash
    frames (indices ≥ 1, sorted) and its class label."""

    frames: np.ndarray
    audio: np.ndarray
    event_frames: tuple[int, ...]
    label: str


# Flashes per 2 s clip and their spacing. Sparse on purpose: event F1 matches within ±1 frame, so a
# video that flashes at random already covers (3 × flashes) of the 11 candidate frames. At up to 4
# flashes that "chance" F1 is ~0.5 (measured: I2VD 0.51, BENCHMARKS.md), and audio-driven timing
# could never score twice it; at 1–2 flashes ≥ 3 frames apart (the ±1 windows never overlap) it is ~0.4.
MAX_EVENTS = 2
MIN_GAP = 3


def flash_frames(rng: np.random.Generator, num_frames: int = TOY_FRAMES, min_gap: int = MIN_GAP,
                 max_events: int = MAX_EVENTS) -> tuple[int, ...]:
    """1..max_events random flash frames in 1..F−1 (never frame 0, the given image), ≥ min_gap apart."""
    count = int(rng.integers(1, max_events + 1))
    chosen: list[int] = []
    for candidate in rng.permutation(np.arange(1, num_frames)):
        if all(abs(int(candidate) - c) >= min_gap for c in chosen):
            chosen.append(int(candidate))
        if len(chosen) == count:
            break
    return tuple(sorted(chosen))


def toy_scene(rng: np.random.Generator, label: str, events: tuple[int, ...], fps: float = TOY_FPS,
              num_frames: int = TOY_FRAMES, radius: float = TOY_LAMP_RADIUS) -> SceneSpec:
    """The scene of one toy clip: a lamp of the class's hue, centred, flashing on `events` frames."""
    import colorsys

    hue, sound, pitch = TOY_CLASSES[label]
    # jittered hue wrapped into [0, 1): a red lamp (hue 0) jittered below 0 made colorsys return a negative green
    r, g, b = colorsys.hsv_to_rgb((hue + rng.uniform(-0.03, 0.03)) % 1.0, 1.0, 1.0)
    grey = int(rng.integers(20, 60))
    lamp = ObjectSpec(style="blink", sound=sound, color=(round(r * 255), round(g * 255), round(b * 255)),
                      x=float(rng.uniform(0.45, 0.55)), y=float(rng.uniform(0.45, 0.55)), radius=radius, shape="disc",
                      pitch_hz=pitch, loudness=float(rng.uniform(0.6, 0.9)),
                      event_times_s=tuple(k / fps - FLASH_LEAD_S for k in events))
    return SceneSpec("events", num_frames / fps, (grey, grey, grey), "flat", (lamp,), pixel_noise=1.0, room_noise=0.001)


def render_toy_clip(rng: np.random.Generator, label: str, size: int = 32, fps: float = TOY_FPS,
                    num_frames: int = TOY_FRAMES, events: tuple[int, ...] | None = None,
                    radius: float = TOY_LAMP_RADIUS) -> ToyClip:
    """One toy clip of class `label` (random flash frames unless `events` is given)."""
    events = flash_frames(rng, num_frames) if events is None else tuple(events)
    frames, audio, _ = render_clip([toy_scene(rng, label, events, fps, num_frames, radius)], fps, (size, size),
                                   TOY_SAMPLE_RATE, rng)
    return ToyClip(frames, audio, events, label)


def write_toy_dataset(root: str | Path, train_clips: int = 48, test_clips: int = 12, size: int = 32,
                      seed: int = 0) -> Path:
    """Write `root/videos/<label>/<id>.mp4`, `root/clips.parquet` (split train/test) and
    `root/events.json` ({video_id: flash frames}); returns the manifest. Classes cycle. (The sync
    classifier's longer toy clips: `model.demo.write_toy_sync_clips`.)"""
    import pandas as pd

    root = Path(root)
    rng = np.random.default_rng(seed)
    labels = list(TOY_CLASSES)
    rows, events = [], {}
    duration = TOY_FRAMES / TOY_FPS
    for i in range(train_clips + test_clips):
        label = labels[i % len(labels)]
        clip = render_toy_clip(rng, label, size)
        video_id = f"{label}_{i:04d}"
        relative = Path("videos") / label / f"{video_id}.mp4"
        write_mp4(root / relative, clip.frames, TOY_FPS, clip.audio, TOY_SAMPLE_RATE)
        events[video_id] = list(clip.event_frames)
        rows.append({"video_id": video_id, "clip_index": 0, "label": label,
                     "split": "train" if i < train_clips else "test", "path": str(relative), "scene_index": 0,
                     "start_s": 0.0, "end_s": duration, "duration_s": duration, "n_windows": 1})
    manifest = root / "clips.parquet"
    pd.DataFrame(rows).to_parquet(manifest, index=False)
    (root / "events.json").write_text(json.dumps(events) + "\n")
    return manifest


def read_toy_events(root: str | Path) -> dict[str, list[int]]:
    """{video_id: flash frames} written by `write_toy_dataset`."""
    return json.loads((Path(root) / "events.json").read_text())


def toy_frames(manifest: str | Path, split: str = "train", size: int = 32) -> tuple["torch.Tensor", list[str]]:  # noqa: F821
    """Every frame of the manifest's `split` clips, (N, 3, S, S) in [−1, 1], and each frame's prompt."""
    import torch

    from curation.config import MediaConfig
    from curation.media import decode
    from curation.manifest import read_clip_rows
    from model.data import prompt_for

    frames, prompts = [], []
    for row in read_clip_rows(manifest, split, need_label=True):
        media = decode(row.path, MediaConfig(fps=TOY_FPS, short_side=size, require_audio=False))
        frames.append(media.frames)
        prompts += [prompt_for(row.label)] * len(media.frames)
    stack = torch.from_numpy(np.concatenate(frames)).permute(0, 3, 1, 2).float().div(127.5).sub(1)
    return stack, prompts


def pretrain_image_unet(base_dir: str | Path, images: "torch.Tensor", prompts: list[str], steps: int = 600,  # noqa: F821
                        batch_size: int = 32, lr: float = 1e-3, seed: int = 0, progress: bool = False) -> float:
    """Train the base's text-conditioned 2D UNet as an image latent diffusion model (ε-prediction,
    the base's DDPM schedule) on `images` (N, 3, S, S) in [−1, 1] with their prompts, and save it
    back to `base_dir/unet`: the stand-in for SD-1.5's pretraining, so that AVSyncD starts from a
    base that knows the domain. Returns the mean loss of the last 50 steps."""
    import torch
    from diffusers import UNet2DConditionModel

    from model.stable_diffusion import encode_frames, encode_prompts, load_stable_diffusion

    base_dir = Path(base_dir)
    parts = load_stable_diffusion(base_dir)
    unet = UNet2DConditionModel.from_pretrained(base_dir / "unet").train()
    scheduler = parts.training_scheduler()
    generator = torch.Generator().manual_seed(seed)
    latents = encode_frames(parts.vae, images[:, :, None], generator=generator)[:, :, 0]  # (N, 4, h, w)
    unique = sorted(set(prompts))
    text = encode_prompts(parts.tokenizer, parts.text_encoder, unique)
    prompt_index = torch.tensor([unique.index(p) for p in prompts])
    optimizer = torch.optim.AdamW(unet.parameters(), lr=lr, weight_decay=0.0)
    losses: list[float] = []
    steps_iter = range(steps)
    if progress:
        from tqdm import tqdm

        steps_iter = tqdm(steps_iter, desc="base image model", unit="step")
    for _ in steps_iter:
        pick = torch.randint(0, len(latents), (batch_size,), generator=generator)
        noise = torch.randn(latents[pick].shape, generator=generator)
        t = torch.randint(0, scheduler.config.num_train_timesteps, (batch_size,), generator=generator)
        noisy = scheduler.add_noise(latents[pick], noise, t)
        loss = torch.nn.functional.mse_loss(unet(noisy, t, text[prompt_index[pick]]).sample, noise)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(unet.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(float(loss.detach()))
    unet.eval().save_pretrained(base_dir / "unet")
    return float(np.mean(losses[-50:]))


def build_toy_base(base_dir: str | Path, manifest: str | Path, size: int = 32, vae_steps: int = 1600,
                   unet_steps: int = 300, progress: bool = False) -> dict:
    """The tiny SD-shaped base (diffusers layout) fitted to the toy domain: VAE, then image UNet.
    Skipped when `base_dir/toy_base.json` records it done. Returns that record.

    Defaults (BENCHMARKS.md "Toy Table 1"): 1 600 VAE steps reconstruct the toy frames (MSE 0.004,
    per-channel error 0.0015, every flash kept); 400 steps (MSE 0.05) still decode a red lamp as
    grey-green. ~4 min with one torch thread on a loaded 2-core machine (two threads on a shared
    machine were ~5× slower: they spin waiting for each other)."""
    from model.stable_diffusion import build_tiny_stable_diffusion, fit_tiny_vae

    base_dir = Path(base_dir)
    record_path = base_dir / "toy_base.json"
    if record_path.is_file():
        return json.loads(record_path.read_text())
    import time

    started = time.perf_counter()
    build_tiny_stable_diffusion(base_dir)
    images, prompts = toy_frames(manifest, "train", size)
    vae_mse = fit_tiny_vae(base_dir, images, steps=vae_steps)
    unet_loss = pretrain_image_unet(base_dir, images, prompts, steps=unet_steps, progress=progress)
    record = {"vae_steps": vae_steps, "vae_mse": vae_mse, "unet_steps": unet_steps, "unet_loss": unet_loss,
              "frames": len(images), "seconds": round(time.perf_counter() - started, 1)}
    record_path.write_text(json.dumps(record, indent=1) + "\n")
    return record


@dataclass
class ToyTestClip:
    video_id: str
    label: str
    first_frame: np.ndarray  # (H, W, 3) uint8
    audio: np.ndarray  # (S,) float32, 16 kHz
    frames: np.ndarray  # (F, H, W, 3) uint8, the real clip
    event_frames: list[int]


def read_test_clips(manifest: str | Path, split: str = "test", size: int = 32, limit: int | None = None) -> list[ToyTestClip]:
    """The held-out toy clips, decoded through `curation.media.decode`, with their flash frames."""
    from curation.config import MediaConfig
    from curation.manifest import read_clip_rows
    from curation.media import decode

    events = read_toy_events(Path(manifest).parent)
    clips = []
    for row in read_clip_rows(manifest, split, need_label=True)[:limit]:
        media = decode(row.path, MediaConfig(fps=TOY_FPS, short_side=size, sample_rate=TOY_SAMPLE_RATE))
        clips.append(ToyTestClip(row.video_id, row.label, media.frames[0], media.audio, media.frames[:TOY_FRAMES],
                                 events[row.video_id]))
    return clips


def generate_for_clips(animator, clips: list[ToyTestClip], guidance: float = 4.0, steps: int = 20, seed: int = 0,
                       with_audio: bool = True, progress: bool = False) -> list[np.ndarray]:
    """Animate each held-out clip's first frame with its own sound (or none): [(F, H, W, 3) uint8].
    `animator`: an `AVSyncDPipeline` or `StaticAnimator`."""
    from model.data import prompt_for

    items = clips
    if progress:
        from tqdm import tqdm

        items = tqdm(clips, desc=f"generating (η={guidance:g}{'' if with_audio else ', no audio'})", unit="clip")
    return [animator(clip.first_frame, clip.audio if with_audio else None, prompt=prompt_for(clip.label),
                     guidance_scale=guidance, num_inference_steps=steps, seed=seed + i).frames
            for i, clip in enumerate(items)]


def event_sync_score(videos: list[np.ndarray], clips: list[ToyTestClip], tolerance: int = 1) -> dict:
    """Pooled event precision / recall / F1 / timing error of generated videos vs their clips' sounds."""
    from model.toy_events import combine, score_video

    return combine([score_video(v, c.event_frames, tolerance) for v, c in zip(videos, clips)]).as_dict()
