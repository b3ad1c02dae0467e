"""`make demo`'s model side, on the toy domain where event timing is only in the audio (issue 12 §3).

The pieces `flows/demo.py` chains (each a plain function, timed there):

1. `write_toy_sync_clips`: long toy clips (a lamp flashing with a click or tone at each flash,
   `model.toy`) at the sync classifier's 25 fps decode rate, written as mp4 + `clips.parquet`
   (train / test), plus an out-of-sync copy of each test clip (its sound delayed) for curation;
2. `SYNC_SETTINGS`: the small sync classifier trained on them (held-out accuracy: the
   VGGSoundSync protocol on the test clips);
3. `train_toy_avsyncd`: toy clips for AVSyncD (`model.toy.write_toy_dataset`), the toy base
   (VAE + text-conditioned image UNet fitted to toy frames), AVSyncD inflated from it and trained;
4. `animate_held_out`: held-out toy images animated with their held-out sounds, and the same model
   with the null audio (no sound), scored by event F1 against the sounds' onsets; a side-by-side mp4
   (real | AVSyncD | no audio, the held-out sound muxed in, a bar lit on each sound onset);
5. `authors_lion_example`: the authors' lion picture + roar animated by the authors' AVSyncD, when
   its converted folder is given (README "Use the authors' models"); otherwise skipped, with why.

    python -m model.demo --out data/demo/avsyncd            # steps 3–5 on their own
    python -m model.demo --out /tmp/d --quick               # seconds: the same code at smoke size
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "data" / "examples"  # the demo's assets and their origins (data/examples/README.md)
DEMO_IMAGE = EXAMPLES / "lion_and_gun.png"
DEMO_SOUND = EXAMPLES / "lions_roaring.wav"
# Where README "Use the authors' models" converts the AVSync15 AVSyncD; or point this variable elsewhere.
AUTHORS_MODEL_ENV = "ASVA_AVSYNCD_MODEL"
AUTHORS_MODEL_DEFAULT = REPO / "data" / "models" / "avsyncd-avsync15"

SYNC_FPS = 25.0  # toy sync clips are rendered at the sync classifier's decode rate (one frame per 0.04 s offset)
SYNC_SIZE = 32
OUT_OF_SYNC_S = 1.0  # the curation copies' sound is this much late: PSync should reject them
# The sync clips' lamp is small: a flash of the AVSyncD toy's big lamp (radius 0.36) changes the frame
# as much as a hard cut (PySceneDetect content_val ~110, against 64–100 at the demo set's cuts), so
# curation would cut every toy clip at every flash and keep no windows. At 0.1 a flash peaks at ~24.
SYNC_LAMP_RADIUS = 0.1

log = logging.getLogger("model.demo")


@dataclass(frozen=True)
class DemoSizes:
    """How big each step of the demo is. `FULL`: `make demo`; `QUICK`: the tests' smoke size."""

    sync_train_clips: int = 36
    sync_test_clips: int = 16
    sync_train_s: float = 10.0
    sync_test_s: float = 6.0
    sync_steps: int = 800  # 95 % / 94 % held-out accuracy on 64 test videos (600: 84 % / 78 %); BENCHMARKS.md
    sync_cpu_minutes: float = 12.0  # a safety cap in CPU time (all threads): a busy machine only takes longer
    toy_train_clips: int = 96
    toy_test_clips: int = 12
    base_vae_steps: int = 1200  # fewer lose the lamps' colours (BENCHMARKS.md "Toy Table 1")
    base_unet_steps: int = 400
    avsyncd_steps: int = 250  # in a second process, alongside the sync classifier; event F1 0.99 vs 0.43
    # without sound on 24 held-out clips, as 400 steps gave (0.97 / 0.45) in 2/3 of the time (BENCHMARKS.md)
    sample_steps: int = 10
    guidance: float = 4.0
    side_by_side_clips: int = 3


FULL = DemoSizes()
QUICK = DemoSizes(sync_train_clips=3, sync_test_clips=2, sync_train_s=5.0, sync_test_s=4.0, sync_steps=3,
                  sync_cpu_minutes=0.5, toy_train_clips=3, toy_test_clips=2, base_vae_steps=2, base_unet_steps=2,
                  avsyncd_steps=2, sample_steps=2, side_by_side_clips=2)


def sync_settings(sizes: DemoSizes) -> dict:
    """The toy sync classifier: the tiny preset's layers at half its widths on 32² crops, 11 clips
    (0.2 s apart) per example; the toy's flashes and clicks are strong, so this learns in minutes.
    64 mel bins (a click is broadband: half the bins lose nothing, and the step is ~15 % cheaper) and a
    cosine decay of the rate over the fixed step budget: 800 steps score as the constant rate's 1 000
    did (BENCHMARKS.md "Demo sizes")."""
    return {
        "model": {"audio_widths": [8, 16, 32, 64], "video_widths": [8, 16, 32, 64], "head_width": 64,
                  "image_size": SYNC_SIZE, "num_mel_bins": 64},
        "data": {"num_clips": 11, "decode_fps": SYNC_FPS},
        "train": {"max_steps": sizes.sync_steps, "max_cpu_minutes": sizes.sync_cpu_minutes, "warmup_steps": 20,
                  "lr_schedule": "cosine", "eval_every": 0, "log_every": 25, "checkpoint_every": 100_000,
                  "target_accuracy": 0.9},
    }


def flash_frames_every(rng: np.random.Generator, num_frames: int, fps: float, min_gap_s: float = 0.35,
                       max_gap_s: float = 1.1) -> tuple[int, ...]:
    """Flash frames (≥ 1) at irregular gaps of `min_gap_s`..`max_gap_s` through a long clip: every
    2 s excerpt holds ~2–5 events at a unique rhythm, which is what pins down an offset."""
    events, t = [], rng.uniform(0.1, max_gap_s)
    while t < num_frames / fps - 0.05:
        events.append(max(1, int(round(t * fps))))
        t += rng.uniform(min_gap_s, max_gap_s)
    return tuple(events)


def write_toy_sync_clips(root: str | Path, sizes: DemoSizes = FULL, seed: int = 0,
                         progress: bool = False, radius: float = SYNC_LAMP_RADIUS) -> Path:
    """Write `root/videos/<label>/<id>.mp4` (train and test clips, lamp classes cycling),
    `root/clips.parquet` (video_id, label, split, path, start_s, end_s) and, per test clip,
    `root/out_of_sync/<label>/<id>.mp4`: the same frames with the sound `OUT_OF_SYNC_S` late.
    `radius`: the lamp's size (the toy Table 1 scores AVSyncD's big-lamp clips). Returns the manifest."""
    import pandas as pd

    from curation.media import write_mp4
    from model.toy import TOY_CLASSES, TOY_SAMPLE_RATE, render_toy_clip

    root = Path(root)
    rng = np.random.default_rng(seed)
    labels = list(TOY_CLASSES)
    rows = []
    count = sizes.sync_train_clips + sizes.sync_test_clips
    indices = range(count)
    if progress:
        from tqdm import tqdm

        indices = tqdm(indices, desc="toy sync clips", unit="clip")
    for i in indices:
        split = "train" if i < sizes.sync_train_clips else "test"
        duration = sizes.sync_train_s if split == "train" else sizes.sync_test_s
        frames = round(duration * SYNC_FPS)
        label = labels[i % len(labels)]
        clip = render_toy_clip(rng, label, size=SYNC_SIZE, fps=SYNC_FPS, num_frames=frames,
                               events=flash_frames_every(rng, frames, SYNC_FPS), radius=radius)
        video_id = f"sync_{label}_{i:04d}"
        relative = Path("videos") / label / f"{video_id}.mp4"
        write_mp4(root / relative, clip.frames, SYNC_FPS, clip.audio, TOY_SAMPLE_RATE)
        if split == "test":
            late = np.concatenate([np.zeros(round(OUT_OF_SYNC_S * TOY_SAMPLE_RATE), np.float32), clip.audio])
            write_mp4(root / "out_of_sync" / label / f"{video_id}.mp4", clip.frames, SYNC_FPS,
                      late[: len(clip.audio)], TOY_SAMPLE_RATE)
        rows.append({"video_id": video_id, "label": label, "split": split, "path": str(relative),
                     "start_s": 0.0, "end_s": frames / SYNC_FPS})
    manifest = root / "clips.parquet"
    pd.DataFrame(rows).to_parquet(manifest, index=False)
    return manifest


def write_sync_settings(out: str | Path, settings: dict) -> Path:
    """`settings` as the YAML file a sync-classifier run reads (next to its run folder `out`, on record)."""
    import yaml

    out = Path(out)
    path = out.parent / f"{out.name}_settings.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(settings))
    return path


def train_toy_sync_classifier(out: str | Path, manifest: str | Path, settings: dict) -> tuple[Path, dict, int]:
    """The toy sync classifier (`sync_settings`) trained on the manifest's train split under `out`:
    (its model folder, held-out accuracy on the test split (±5 of 31 offsets), steps trained)."""
    from sync_classifier.config import load_config
    from sync_classifier.evaluate import evaluate_checkpoint
    from sync_classifier.train import train

    config = load_config("tiny", write_sync_settings(out, settings), [f"data.manifest={json.dumps(str(manifest))}", "data.split=train"])
    result = train(config, out)
    accuracy = evaluate_checkpoint(str(result.final_model), manifest=str(manifest), split="test").as_dict()
    return result.final_model, accuracy, result.steps


def training_progress(description: str) -> tuple[Callable[[dict], None], Callable[[], None]]:
    """A tqdm bar over a trainer's budget: (on_log callback for `model.train.train`, close)."""
    from tqdm import tqdm

    bar = tqdm(total=100, desc=description, unit="%", bar_format="{l_bar}{bar}| {n:.0f}/100 % [{elapsed}<{remaining}]")

    def on_log(row: dict) -> None:
        bar.update(100 * row["done"] - bar.n)
        bar.set_postfix(step=row["step"], loss=f"{row['loss']:.3f}")

    return on_log, bar.close


def train_toy_avsyncd(out: str | Path, sizes: DemoSizes = FULL, seed: int = 0, threads: int | None = None) -> dict:
    """Toy clips → toy base → AVSyncD (frozen base, new temporal and audio layers, 20 % null audio)
    under `out`. Returns {manifest, base (record), final_pipeline, steps, wall seconds of each part and in
    all, cpu_seconds}.
    `threads` also sets this process's torch threads, for the base fit and the animation after it."""
    import time

    import torch

    if threads:
        torch.set_num_threads(threads)

    from model.config import load_config
    from model.toy import build_toy_base, write_toy_dataset
    from model.train import train

    out = Path(out)
    started, cpu_started = time.perf_counter(), time.process_time()
    manifest = out / "toy" / "clips.parquet"
    if not manifest.is_file():
        write_toy_dataset(manifest.parent, sizes.toy_train_clips, sizes.toy_test_clips, seed=seed)
    base = build_toy_base(out / "base", manifest, vae_steps=sizes.base_vae_steps, unet_steps=sizes.base_unet_steps,
                          progress=True)
    based = time.perf_counter()
    config = load_config("tiny", overrides=[
        f"data.manifest={json.dumps(str(manifest))}", f"model.pretrained={json.dumps(str(out / 'base'))}",
        "data.resolution=32", "data.hflip=false", f"train.max_steps={sizes.avsyncd_steps}",
        "train.eval_every=0", f"train.eval_clips={sizes.toy_test_clips}", "train.batch_size=8", f"train.seed={seed}",
        "train.log_every=10"] + ([f"train.num_threads={threads}"] if threads else []))
    on_log, close = training_progress("AVSyncD on the toy base")
    try:
        result = train(config, out / "avsyncd", on_log=on_log)
    finally:
        close()
    return {"manifest": str(manifest), "base": base, "final_pipeline": str(result.final_pipeline),
            "steps": result.steps, "seconds_data_and_base": round(based - started, 1),
            "seconds_training": round(time.perf_counter() - based, 1),
            "seconds": round(time.perf_counter() - started, 1), "cpu_seconds": round(time.process_time() - cpu_started, 1)}


def _panel(frames: np.ndarray, scale: int) -> np.ndarray:
    """(F, h, w, 3) → (F, h·scale, w·scale, 3), nearest neighbour (the pixels stay visible)."""
    return frames.repeat(scale, axis=1).repeat(scale, axis=2)


def _label_strip(text: str, width: int, height: int = 16) -> np.ndarray:
    import cv2

    strip = np.zeros((height, width, 3), np.uint8)
    cv2.putText(strip, text, (3, height - 4), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA)
    return strip


def side_by_side_frames(real: np.ndarray, with_audio: np.ndarray, without_audio: np.ndarray,
                        sound_frames: list[int], scale: int = 4, gap: int = 4) -> np.ndarray:
    """One clip's comparison, (F, H, W, 3) uint8: real | AVSyncD with its sound | the same model with
    no sound, each labelled, over a bar that lights on every frame where the sound has an onset."""
    panels = [_panel(v, scale) for v in (real, with_audio, without_audio)]
    f, h, w, _ = panels[0].shape
    sep = np.full((f, h, gap, 3), 64, np.uint8)
    body = np.concatenate([panels[0], sep, panels[1], sep, panels[2]], axis=2)
    width = body.shape[2]
    gap_strip = np.full((16, gap, 3), 64, np.uint8)
    labels = np.concatenate([_label_strip("real clip", w), gap_strip, _label_strip("AVSyncD + sound", w), gap_strip,
                             _label_strip("same, no sound", w)], axis=1)
    bars = np.zeros((f, 8, width, 3), np.uint8)
    for k in sound_frames:
        if 0 <= k < f:
            bars[k, 2:6] = 255  # a sound onset on this frame
    return np.concatenate([np.repeat(labels[None], f, axis=0), body, bars], axis=1)


def write_side_by_side(path: str | Path, clips: list, with_audio: list[np.ndarray], without_audio: list[np.ndarray],
                       fps: float, sample_rate: int) -> Path:
    """The held-out clips' comparisons one after another, with their (held-out) sounds, as an mp4
    (`curation.media.write_mp4`)."""
    from curation.media import write_mp4

    frames, audio = [], []
    for clip, a, b in zip(clips, with_audio, without_audio):
        frames.append(side_by_side_frames(clip.frames[: len(a)], a, b, clip.event_frames))
        audio.append(clip.audio[: round(len(a) / fps * sample_rate)])
    return write_mp4(path, np.concatenate(frames), fps, np.concatenate(audio), sample_rate)


def animate_held_out(final_pipeline: str | Path, manifest: str | Path, out: str | Path, sizes: DemoSizes = FULL,
                     seed: int = 0) -> dict:
    """Animate each held-out toy clip's first frame with its own sound (η = `sizes.guidance`) and with
    the null audio (η = 0: the same model with no sound), score both by event F1 (±1 frame) against
    the sounds' onsets, and write the side-by-side mp4. Returns the scores and the mp4's path."""
    from model.pipeline import AVSyncDPipeline
    from model.toy import TOY_FPS, TOY_SAMPLE_RATE, event_sync_score, generate_for_clips, read_test_clips

    clips = read_test_clips(manifest, limit=sizes.toy_test_clips)
    pipeline = AVSyncDPipeline.from_pretrained(final_pipeline)
    with_audio = generate_for_clips(pipeline, clips, sizes.guidance, sizes.sample_steps, seed, progress=True)
    without_audio = generate_for_clips(pipeline, clips, 0.0, sizes.sample_steps, seed, progress=True)
    n = sizes.side_by_side_clips
    mp4 = write_side_by_side(Path(out) / "side_by_side.mp4", clips[:n], with_audio[:n], without_audio[:n],
                             TOY_FPS, TOY_SAMPLE_RATE)
    return {"event_with_audio": event_sync_score(with_audio, clips),
            "event_without_audio": event_sync_score(without_audio, clips),
            "event_real_clips": event_sync_score([c.frames for c in clips], clips),
            "test_clips": [c.video_id for c in clips], "guidance": sizes.guidance, "side_by_side_mp4": str(mp4)}


def authors_model_folder(given: str | Path | None = None) -> Path | None:
    """The converted authors' AVSyncD to animate the lion with: `given`, else $ASVA_AVSYNCD_MODEL, else
    README's conversion folder if it exists; None when there is none. A folder that was named
    explicitly but does not exist is an error."""
    named = given or os.environ.get(AUTHORS_MODEL_ENV)
    if named:
        folder = Path(named)
        if not folder.is_dir():
            raise FileNotFoundError(f"the authors' AVSyncD folder {folder} does not exist: convert it first "
                                    f"(README 'Use the authors' models': python -m model.convert_asva ... --out {folder})")
        return folder
    return AUTHORS_MODEL_DEFAULT if AUTHORS_MODEL_DEFAULT.is_dir() else None


def authors_lion_example(out: str | Path, model: str | Path | None = None, steps: int = 50) -> dict:
    """The authors' lion picture animated with a lion's roar by the authors' AVSyncD (η = 4), or why not."""
    folder = authors_model_folder(model)
    if folder is None:
        return {"lion_mp4": None, "lion_skipped": (
            f"no converted authors' AVSyncD: the lion + roar example needs their checkpoint-37000 converted as in "
            f"README 'Use the authors' models' (to {AUTHORS_MODEL_DEFAULT}, or set "
            f"{AUTHORS_MODEL_ENV}=FOLDER / --authors-model FOLDER)")}
    from model.animate import animate

    summary = animate(folder, DEMO_IMAGE, DEMO_SOUND, Path(out) / "lion_roaring.mp4", prompt="lions roaring",
                      guidance_scale=4.0, steps=steps)
    return {"lion_mp4": str(summary["mp4"]), "lion_model": str(folder)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m model.demo", description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="data/demo/avsyncd", help="demo folder (default: %(default)s)")
    parser.add_argument("--quick", action="store_true", help="smoke size (seconds; the numbers mean nothing)")
    parser.add_argument("--authors-model", help=f"converted authors' AVSyncD folder for the lion example "
                        f"(default: ${AUTHORS_MODEL_ENV}, else {AUTHORS_MODEL_DEFAULT.relative_to(REPO)} if present)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (default 1: tiny ops gain little from 2, and stall when the cores are shared)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    import torch

    torch.set_num_threads(args.threads)
    sizes = QUICK if args.quick else FULL
    trained = train_toy_avsyncd(args.out, sizes, threads=args.threads)
    result = animate_held_out(trained["final_pipeline"], trained["manifest"], args.out, sizes)
    result |= authors_lion_example(args.out, args.authors_model, steps=2 if args.quick else 50)
    print(json.dumps({"sizes": asdict(sizes), **trained, **result}, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
