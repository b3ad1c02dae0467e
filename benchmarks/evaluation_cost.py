"""Evaluation cost per test clip on CPU, tiny setup: generation and each metric, and the speed-up
of a second evaluation that reuses the cached ground-truth features.

    .venv/bin/python -m benchmarks.evaluation_cost [--videos 4] [--steps 10] [--inception FILE]

Setup: generated sync videos (3 clips per test video, 12 frames at 6 fps, 32²), a 1-step tiny
AVSyncD (η = 4) and Static, a micro sync classifier, tiny ImageBind in the official layout, the
reference release's TorchScript I3D stand-in and its random FID Inception (real size, pytorch-fid
layout; the copy the metric tests regenerate into the pytest cache — run
`.venv/bin/pytest tests/model/metrics -k asva_release` once, or pass --inception). FID in both
protocols (asva 229², standard 299²); 100 bootstrap resamples for each FID / FVD.

Run 1 evaluates into out1 with a fresh cache; run 2 evaluates the same models into out2 (new
generations, so their features are new) with the same cache: only ground truth is reused.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch

from benchmarks.common import REPO, machine, write_result


def tiny_setup(root: Path, videos: int) -> dict:
    from model.config import load_config
    from model.encoders.imagebind_layout import write_random_checkpoint
    from model.stable_diffusion import build_tiny_stable_diffusion
    from model.synthetic_data import write_synthetic_manifest
    from model.train import train
    from sync_classifier.config import load_config as load_sync_config
    from sync_classifier.model import SyncClassifier

    manifest = write_synthetic_manifest(root / "data", train_videos=2, test_videos=videos, duration_s=3.0, size=48)
    base = build_tiny_stable_diffusion(root / "sd", seed=0)
    config = load_config("tiny", overrides=[f"data.manifest={manifest}", f"model.pretrained={base}",
                                            "data.resolution=32", "train.max_steps=1", "train.eval_clips=1",
                                            "train.eval_every=0", "train.num_threads=1"])
    model = train(config, root / "avsyncd").final_pipeline
    torch.manual_seed(0)
    sync = SyncClassifier(load_sync_config("tiny").model.model_copy(update=dict(
        audio_widths=(4, 8, 8, 16), video_widths=(4, 8, 8, 16), head_width=16, image_size=32))).eval()
    return {"manifest": manifest, "model": model, "sync": sync.save_pretrained(root / "sync"),
            "imagebind": write_random_checkpoint(root / "imagebind_tiny.pth", "tiny", other_modalities=False),
            "i3d": REPO / "tests" / "fixtures" / "asva_release" / "eval" / "i3d_standin_torchscript.pt"}


DEFAULT_INCEPTION = REPO / ".pytest_cache" / "d" / "asva_release_eval" / "pt_inception-2015-12-05-6726825d.pth"


def run(videos: int, steps: int, inception: Path) -> str:
    from model.evaluate import EvalConfig, evaluate

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        setup = tiny_setup(root, videos)

        def once(out: str) -> dict:
            return evaluate(EvalConfig(manifest=setup["manifest"], out=root / out, models=[setup["model"]],
                                       guidance=[4.0], static=True, inception=inception, i3d=setup["i3d"], imagebind=setup["imagebind"],
                                       imagebind_preset="tiny", sync_classifier=setup["sync"], steps=steps,
                                       resolution=(32, 32), bootstrap=1000, bootstrap_frechet=100,
                                       cache_dir=root / "cache", report_samples=3))

        first, second = once("out1"), once("out2")
    clips = first["clips"]
    generated = len(first["rows"]) - 1  # rows that generate (all but ground truth)
    lines = [f"| stage | run 1, ms per test clip | run 2 (cached ground truth), ms per test clip |", "|---|---:|---:|"]
    for tag, seconds in first["timings_s"]["generation"].items():
        lines.append(f"| generation: {tag} | {1000 * seconds / clips:.1f} | "
                     f"{1000 * second['timings_s']['generation'].get(tag, 0.0) / clips:.1f} |")
    for metric, seconds in first["timings_s"]["metrics"].items():
        lines.append(f"| {metric} (all {len(first['rows'])} rows) | {1000 * seconds / clips:.1f} | "
                     f"{1000 * second['timings_s']['metrics'].get(metric, 0.0) / clips:.1f} |")
    score_1 = sum(first["timings_s"]["metrics"].values())
    score_2 = sum(second["timings_s"]["metrics"].values())
    lines.append(f"| **total** | {1000 * first['timings_s']['total'] / clips:.1f} | "
                 f"{1000 * second['timings_s']['total'] / clips:.1f} |")
    return "\n".join([
        "## Evaluation cost per test clip (CPU, tiny setup)", "",
        f"Command: `.venv/bin/python -m benchmarks.evaluation_cost --videos {videos} --steps {steps}`. "
        f"Machine: {machine()}; shared with other jobs and loaded while this ran, so compare the two columns "
        "(measured side by side in one run), not absolute times.", "",
        f"{clips} test clips ({videos} videos × 3), rows: ground truth, Static, tiny AVSyncD η = 4 ({steps} denoising "
        f"steps, 32²); {generated} generated rows. Metrics: FID asva (229²) and standard (299²) with the real-size "
        "FID Inception (random weights), FVD (TorchScript I3D stand-in), IA/IT (tiny ImageBind), RelSync/AlignSync "
        "(micro sync classifier). 1000 bootstrap resamples for clip means, 100 for each FID / FVD (a full Fréchet "
        "distance each, model.metrics.frechet).", "",
        *lines, "",
        f"Scoring (feature extraction + statistics) took {score_1:.2f} s in run 1 and {score_2:.2f} s in run 2: "
        f"reusing the ground-truth features ({second['cache']['hits']} cache hits, {second['cache']['misses']} misses) "
        f"is a {score_1 / max(score_2, 1e-9):.2f}× speed-up of scoring (only the ground-truth row of three is reused: "
        "the best possible is 1.5× on feature extraction; the bootstrap statistics are recomputed).", "",
    ])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--videos", type=int, default=4)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--inception", type=Path, default=DEFAULT_INCEPTION)
    args = parser.parse_args()
    write_result("evaluation_cost", run(args.videos, args.steps, args.inception))


if __name__ == "__main__":
    main()
