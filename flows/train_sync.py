"""The `train-sync-classifier` Prefect flow: train the sync classifier, evaluate it, publish.

Wiring only; the work is `sync_classifier.train.train` (through the shared
`flows.training.train_model` task) and `sync_classifier.evaluate`. Runs
after curation on its clip manifest (VGGSS-style `clips.parquet`), or on generated clips.
Resumable through the run folder's checkpoints (a rerun with the same `out` continues).

    python -m flows.train_sync --manifest data/runs/vggss/clips.parquet --out data/runs/sync
    python -m flows.train_sync --synthetic --preset tiny --max-steps 150 --out data/runs/sync-demo
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact

from curation.manifest import write_json_atomic
from flows.training import train_model


@task(name="evaluate-sync-model")
def evaluate_model(checkpoint: str, manifest: str | None, split: str | None, synthetic_videos: int) -> dict:
    from sync_classifier.evaluate import evaluate_checkpoint

    if manifest:
        return evaluate_checkpoint(checkpoint, manifest=manifest, split=split).as_dict()
    return evaluate_checkpoint(checkpoint, synthetic=synthetic_videos).as_dict()


@flow(name="train-sync-classifier")
def train_sync_classifier(
    out: str = "data/runs/sync",
    manifest: str | None = None,
    synthetic: bool = False,
    preset: str = "paper",
    config: str | None = None,
    max_steps: int | None = None,
    max_minutes: float | None = None,
    init_from: str | None = None,
    train_split: str | None = "train",
    eval_split: str | None = "test",
    eval_synthetic_videos: int = 100,
) -> dict:
    """Train the audio-visual sync classifier and report its VGGSoundSync-protocol accuracy.

    Args:
        out: run folder (checkpoints/, logs/ for TensorBoard, final/ = the model PSync uses).
        manifest: curation clip manifest (path, start_s, end_s[, split]); or set `synthetic`.
        synthetic: train on generated audio-visual clips instead of a manifest.
        preset: `paper` (authors' sizes) or `tiny` (CPU).
        config: YAML overriding any subset of the preset (see sync_classifier/config.py).
        max_steps / max_minutes: stop after this many steps / this much wall time.
        init_from: AVID-CMA checkpoint file for both encoders (paper preset).
        train_split / eval_split: manifest splits (ignored when the manifest has no split column).
        eval_synthetic_videos: held-out generated videos to evaluate on (synthetic runs).
    """
    if bool(manifest) == synthetic:
        raise ValueError("give exactly one of manifest or synthetic=True")
    values = {"data.synthetic": synthetic, "data.manifest": manifest, "data.split": train_split if manifest else None,
              "train.max_steps": max_steps, "train.max_minutes": max_minutes, "train.init_from": init_from}
    # JSON is valid YAML: paths with ':' or '#' survive the override parser.
    overrides = [f"{key}={json.dumps(value)}" for key, value in values.items() if value is not None]
    trained = train_model("sync-classifier", preset, out, overrides, config)
    accuracy = evaluate_model(trained["final_model"], manifest, eval_split, eval_synthetic_videos)
    write_json_atomic(accuracy, Path(out) / "accuracy.json")  # for callers that get no return value (run_deployment)
    create_markdown_artifact(
        key="sync-classifier",
        markdown=(
            f"# Sync classifier\n\nModel: `{Path(trained['final_model']).resolve()}` ({trained['steps']} steps, "
            f"{trained['seconds']:.0f} s)\n\n| protocol | A→V | V→A | videos |\n|---|---|---|---|\n"
            f"| ±5 of 31 offsets, 0.04 s apart | {100 * accuracy['a2v']:.1f} % | {100 * accuracy['v2a']:.1f} % | "
            f"{accuracy['videos']} |\n\nUse it for curation with `metric_options: {{psync: {{checkpoint: "
            f"{trained['final_model']}}}}}`.\n"
        ),
    )
    get_run_logger().info("held-out sync accuracy A→V %.3f, V→A %.3f", accuracy["a2v"], accuracy["v2a"])
    return {"model": trained["final_model"], "steps": trained["steps"], "accuracy": accuracy}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flows.train_sync", description=train_sync_classifier.__doc__.split("\n")[0])
    parser.add_argument("--out", default="data/runs/sync")
    parser.add_argument("--manifest")
    parser.add_argument("--synthetic", action="store_true")
    parser.add_argument("--preset", default="paper", choices=["tiny", "paper"])
    parser.add_argument("--config")
    parser.add_argument("--max-steps", type=int)
    parser.add_argument("--max-minutes", type=float)
    parser.add_argument("--init-from")
    parser.add_argument("--eval-videos", type=int, default=100, help="held-out generated videos (synthetic runs)")
    args = parser.parse_args(argv)
    result = train_sync_classifier(out=args.out, manifest=args.manifest, synthetic=args.synthetic, preset=args.preset,
                                   config=args.config, max_steps=args.max_steps, max_minutes=args.max_minutes,
                                   init_from=args.init_from, eval_synthetic_videos=args.eval_videos)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
