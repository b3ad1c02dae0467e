"""The `train-avsyncd` Prefect flow: train AVSyncD on a curated clip manifest, then animate one
held-out clip as a check. Wiring only; the work is `model.train.train` (through the shared
`flows.training.train_model` task) and `model.held_out.animate_held_out_clip`.

Runs downstream of curation on its `avsync15.parquet` / `clips.parquet`. Resumable through the
run folder's checkpoints (a rerun with the same `out` continues).

    python -m flows.train_avsyncd --manifest data/avsync15.parquet --pretrained pretrained/stable-diffusion-v1-5 \
        --set model.imagebind_checkpoint=imagebind_huge.pth --out data/runs/avsyncd
    python -m flows.train_avsyncd --preset tiny --manifest data/runs/synthetic/clips.parquet --max-steps 50 \
        --out data/runs/avsyncd-tiny
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact

from flows.training import train_model


@task(name="animate-held-out-clip")
def animate_held_out(pipeline_dir: str, manifest: str, split: str | None, out: str, steps: int) -> dict:
    """Animate the first frame of one held-out clip with its own sound (mp4 with audio)."""
    from model.held_out import animate_held_out_clip

    return animate_held_out_clip(pipeline_dir, manifest, out, split, steps)


@flow(name="train-avsyncd")
def train_avsyncd(
    manifest: str,
    out: str = "data/runs/avsyncd",
    preset: str = "paper",
    pretrained: str | None = None,
    config: str | None = None,
    max_steps: int | None = None,
    max_minutes: float | None = None,
    i2vd: bool = False,
    overrides: list[str] | None = None,
    sample_steps: int = 50,
) -> dict:
    """Train AVSyncD (or I2VD) and animate one held-out clip.

    Args:
        manifest: curation clip manifest (path, label, start_s, end_s[, split]).
        out: run folder (checkpoints/, logs/ for TensorBoard, final/ = the pipeline).
        preset: `paper` (SD-1.5 + ImageBind) or `tiny` (CPU, the project's tiny base).
        pretrained: Stable Diffusion 1.5 folder in diffusers layout (paper preset).
        config: YAML overriding any subset of the preset (see model/config.py).
        max_steps / max_minutes: stop after this many steps / this much wall time.
        i2vd: train the image-to-video variant (no audio).
        overrides: `section.key=value` strings, e.g. `model.imagebind_checkpoint=/path/imagebind_huge.pth`.
        sample_steps: PNDM steps of the check animation.
    """
    extra = [f"data.manifest={manifest}"] + list(overrides or [])
    for key, value in {"model.pretrained": pretrained, "train.max_steps": max_steps,
                       "train.max_minutes": max_minutes}.items():
        if value is not None:
            extra.append(f"{key}={value}")
    if i2vd:
        extra.append("model.audio_attention=false")
    trained = train_model("avsyncd", preset, out, extra, config)
    sample = animate_held_out(trained["final_pipeline"], manifest, "test", str(Path(out) / "sample.mp4"),
                              sample_steps)
    curve = "\n".join(f"| {row['step']} | {row['loss']:.4f} |" for row in trained["validation"])
    create_markdown_artifact(
        key="avsyncd-training",
        markdown=(f"# AVSyncD\n\nPipeline: `{Path(trained['final_pipeline']).resolve()}` ({trained['steps']} steps, "
                  f"{trained['seconds']:.0f} s)\n\n| step | held-out denoising loss |\n|---|---|\n{curve}\n\n"
                  f"Sample: `{Path(sample['mp4']).resolve()}` ({sample['prompt']})\n"),
    )
    get_run_logger().info("pipeline %s; sample %s", trained["final_pipeline"], sample["mp4"])
    return {"pipeline": trained["final_pipeline"], "steps": trained["steps"], "validation": trained["validation"],
            "sample": sample["mp4"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flows.train_avsyncd", description=train_avsyncd.__doc__.split("\n")[0])
    parser.add_argument("--manifest", required=True)
    parser.add_argument("--out", default="data/runs/avsyncd")
    parser.add_argument("--preset", default="paper", choices=["paper", "tiny"])
    parser.add_argument("--pretrained")
    parser.add_argument("--config")
    parser.add_argument("--max-steps", type=int)
    parser.add_argument("--max-minutes", type=float)
    parser.add_argument("--i2vd", action="store_true")
    parser.add_argument("--sample-steps", type=int, default=50)
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE")
    args = parser.parse_args(argv)
    result = train_avsyncd(manifest=args.manifest, out=args.out, preset=args.preset, pretrained=args.pretrained,
                           config=args.config, max_steps=args.max_steps, max_minutes=args.max_minutes, i2vd=args.i2vd,
                           overrides=args.set, sample_steps=args.sample_steps)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
