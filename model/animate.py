"""Animate an image with a sound; `python -m model.animate`.

    python -m model.animate --model data/runs/avsyncd-demo/final --image lion.png --audio roar.wav \
        --prompt "lions roaring" --out lion.mp4 [--guidance 4] [--steps 50] [--seed 0] [--static] \
        [--height H --width W]

Writes an H.264 mp4 with the (2 s, centre-cut) audio muxed in as AAC. `--model` is a folder
written by `model.train` (its `final/`) or `AVSyncDPipeline.save_pretrained`; `--static` writes the
Static baseline (the image repeated) instead. The frames are height × width as the model folder
records (its model_index.json `resolution`, e.g. 128 × 256 for TheGreatestHits) unless
`--height/--width` say otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from curation.media import MediaError, read_audio
from model.encoders.imagebind_audio import SAMPLE_RATE


class InputError(ValueError):
    """An unreadable --image or --audio: found before any model loads."""


def read_inputs(image: str | Path, audio: str | Path, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Check that `image` is a readable image and read `audio` → (S,) float32 mono at `sample_rate`
    (the whole track; the pipeline cuts its clip from it). Raises InputError naming the argument."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(image) as opened:
            opened.verify()
    except (OSError, UnidentifiedImageError) as exc:
        raise InputError(f"--image {image}: not a readable image ({exc})") from exc
    try:
        return read_audio(audio, sample_rate)
    except MediaError as exc:
        raise InputError(f"--audio {audio}: {exc}") from exc


def animate(model: str | Path | None, image: str | Path, audio: str | Path, out: str | Path, prompt: str = "",
            guidance_scale: float = 4.0, steps: int = 50, seed: int = 0, static: bool = False,
            device: str = "cpu", height: int | None = None, width: int | None = None) -> dict:
    """Generate and write the mp4; returns a small summary (path, frames, seconds).

    The image and the audio are checked (and the audio read, once) before any model loads;
    `static` with a `model` reads only the model's clip format (model_index.json), no weights."""
    from model.pipeline import AVSyncDPipeline, StaticAnimator

    if not static and not model:
        raise ValueError("--model is required (a trained pipeline folder), or pass --static")
    wave = read_inputs(image, audio)
    if static:
        pipeline = StaticAnimator.like_pipeline(model) if model else StaticAnimator()
    else:
        pipeline = AVSyncDPipeline.from_pretrained(model, device=device)
    result = pipeline(image, wave, prompt=prompt, guidance_scale=guidance_scale, num_inference_steps=steps, seed=seed,
                      audio_sample_rate=SAMPLE_RATE, height=height, width=width)
    path = result.write_mp4(out)
    return {"mp4": str(path), "frames": len(result.frames), "size": list(result.frames.shape[1:3]),
            "fps": result.fps, "seconds": result.duration_s}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m model.animate", description=__doc__.split("\n")[0])
    parser.add_argument("--image", required=True, help="the first frame (any image format PIL reads)")
    parser.add_argument("--audio", required=True, help="the sound (wav, mp3, or a video with audio)")
    parser.add_argument("--out", required=True, help="output .mp4")
    parser.add_argument("--model", help="trained AVSyncD pipeline folder (model.train's final/)")
    parser.add_argument("--prompt", default="", help='class prompt, e.g. "lions roaring"')
    parser.add_argument("--guidance", type=float, default=4.0, help="audio guidance η (default: %(default)s)")
    parser.add_argument("--steps", type=int, default=50, help="PNDM steps (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--static", action="store_true", help="the Static baseline: repeat the image")
    parser.add_argument("--height", type=int, help="frame height (default: the model's; 256 for --static alone)")
    parser.add_argument("--width", type=int, help="frame width (default: the model's; 256 for --static alone)")
    parser.add_argument("--device", default="cpu")
    return parser


def argument_error(args: argparse.Namespace) -> str | None:
    """What is wrong with the numbers and the output path (None: nothing); `animate` checks the
    image and the audio itself, also before any model loads."""
    import math

    if args.steps < 1:
        return f"--steps must be at least 1 (got {args.steps})"
    for name in ("height", "width"):
        value = getattr(args, name)
        if value is not None and (value < 8 or value % 8):
            return f"--{name} must be a positive multiple of 8 (got {value})"
    if not math.isfinite(args.guidance):
        return f"--guidance must be a finite number (got {args.guidance})"
    out = Path(args.out)
    if out.is_dir() or (out.parent.exists() and not out.parent.is_dir()):
        return f"--out {args.out}: not a writable file path"
    return None


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if problem := argument_error(args):
        parser.error(problem)  # one line, exit code 2
    try:
        summary = animate(args.model, args.image, args.audio, args.out, args.prompt, args.guidance, args.steps,
                          args.seed, args.static, args.device, args.height, args.width)
    except InputError as exc:
        parser.error(str(exc))
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
