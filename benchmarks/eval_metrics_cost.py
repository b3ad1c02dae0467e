"""Cost of the FID and FVD feature extraction per clip on CPU (model.metrics), and of one Fréchet
distance per bootstrap resample: pytorch-fid's scipy sqrtm against model.metrics.frechet.

FID: the FID InceptionV3 is always real size (pytorch-fid's architecture; the tiny setup's stand-in
differs only in its random weights), so its cost per frame is the real network's. FVD: the tiny
setup's TorchScript I3D stand-in (tests/fixtures/asva_release/eval); StyleGAN-V's real I3D is not
available here. Clips of 12 frames, 64² (the reference clips) and 256² (the paper's size).

    .venv/bin/python benchmarks/eval_metrics_cost.py [--inception FILE] [--i3d FILE] [--repeats 3]
    .venv/bin/python benchmarks/eval_metrics_cost.py --part frechet [--repeats 3]

Fréchet part: random features of the shapes an evaluation resamples (tiny setup: 9 clips × 11 FID
frames; paper: 450 test clips × 11 frames of 2048-d FID features, 450 clips of 400-d FVD features);
each bootstrap draw is a paired resample of clips. The sqrtm path is timed once per shape (it is
the slow one), ours as the median of `--repeats` draws; both values are printed with their
relative difference.

The Inception file defaults to the copy the metric tests regenerate into the pytest cache
(run `.venv/bin/pytest tests/model/metrics -k asva_release` once).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.common import machine, median_time, write_result  # noqa: E402
from model.metrics.fid import fid_features, load_fid_inception  # noqa: E402
from model.metrics.frechet import bootstrap_frechet_distances, feature_statistics  # noqa: E402
from model.metrics.fvd import fvd_features, load_i3d  # noqa: E402

DEFAULT_INCEPTION = REPO / ".pytest_cache" / "d" / "asva_release_eval" / "pt_inception-2015-12-05-6726825d.pth"
DEFAULT_I3D = REPO / "tests" / "fixtures" / "asva_release" / "eval" / "i3d_standin_torchscript.pt"
FRAMES = 12
FVD_BATCH = 8


# (label, clips, rows per clip, feature dimension)
FRECHET_SHAPES = (("tiny setup FID: 9 clips × 11 frames, 2048-d", 9, 11, 2048),
                  ("paper FVD: 450 clips, 400-d", 450, 1, 400),
                  ("paper FID: 450 clips × 11 frames, 2048-d", 450, 11, 2048))


def sqrtm_bootstrap_draw(real: np.ndarray, generated: np.ndarray, index: np.ndarray) -> float:
    """One resample the way the evaluation did before: duplicated rows, pytorch-fid's sqrtm."""
    import warnings

    from pytorch_fid.fid_score import calculate_frechet_distance

    a, b = real[index].reshape(-1, real.shape[-1]), generated[index].reshape(-1, generated.shape[-1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(calculate_frechet_distance(*feature_statistics(a), *feature_statistics(b)))


def frechet_part(repeats: int) -> str:
    import time

    rng = np.random.default_rng(0)
    rows = []
    for label, clips, per_clip, dim in FRECHET_SHAPES:
        mixing = rng.standard_normal((dim, dim)) / np.sqrt(dim)
        real = rng.standard_normal((clips, per_clip, dim)) @ mixing  # (N, R, D): R rows per clip
        generated = rng.standard_normal((clips, per_clip, dim)) * 1.2 + 0.05
        index = np.random.default_rng(7).integers(0, clips, clips)  # the first draw of seed 7
        start = time.perf_counter()
        reference = sqrtm_bootstrap_draw(real, generated, index)
        sqrtm_s = time.perf_counter() - start
        ours_s = median_time(lambda: bootstrap_frechet_distances(real, generated, 1, seed=7), repeats)
        ours = float(bootstrap_frechet_distances(real, generated, 1, seed=7)[0])
        rows.append(f"| {label} | {sqrtm_s:.2f} s | {ours_s * 1000:.1f} ms | {sqrtm_s / ours_s:.0f}× | "
                    f"{abs(ours - reference) / abs(reference):.1e} |")
    return "\n".join([
        f"Machine: {machine()}; torch {torch.__version__} ({torch.get_num_threads()} threads), numpy {np.__version__}; "
        f"ours: median of {repeats} draws; sqrtm: one draw.",
        "",
        "| features per bootstrap draw | pytorch-fid sqrtm (before) | model.metrics.frechet (now) | speed-up | "
        "relative difference |",
        "|---|---:|---:|---:|---:|",
        *rows,
    ]) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--part", choices=["features", "frechet"], default="features")
    parser.add_argument("--inception", type=Path, default=DEFAULT_INCEPTION)
    parser.add_argument("--i3d", type=Path, default=DEFAULT_I3D)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if args.part == "frechet":
        write_result("frechet_bootstrap_cost", frechet_part(args.repeats))
        return
    inception, i3d = load_fid_inception(args.inception), load_i3d(args.i3d)
    rng = np.random.default_rng(0)
    rows = []
    for side in (64, 256):
        clip = rng.integers(0, 256, (FRAMES, side, side, 3), dtype=np.uint8)
        clips = rng.integers(0, 256, (FVD_BATCH, FRAMES, side, side, 3), dtype=np.uint8)
        fid_asva = median_time(lambda: fid_features(clip, inception, "asva", batch_size=FRAMES), args.repeats)
        fid_train = median_time(lambda: fid_features(clip, inception, "asva", "authors-train", FRAMES), args.repeats)
        fid_std = median_time(lambda: fid_features(clip, inception, "standard", batch_size=FRAMES), args.repeats)
        fvd = median_time(lambda: fvd_features(clips, i3d, batch_size=FVD_BATCH), args.repeats) / FVD_BATCH
        rows.append(f"| {side}² | {fid_asva:.2f} s ({fid_asva / FRAMES * 1000:.0f} ms) | "
                    f"{fid_train:.2f} s | {fid_std:.2f} s ({fid_std / FRAMES * 1000:.0f} ms) | {fvd * 1000:.0f} ms |")
    table = "\n".join([
        f"Machine: {machine()}; torch {torch.__version__}, {torch.get_num_threads()} threads, fp32, median of "
        f"{args.repeats}.",
        "",
        "| clip frames | FID asva 229², eval BN: per clip (per frame) | FID asva, authors-train BN | "
        "FID standard 299²: per clip (per frame) | FVD asva 224², I3D stand-in, per clip (batch 8) |",
        "|---|---|---|---|---|",
        *rows,
    ])
    write_result("eval_metrics_cost", table + "\n")


if __name__ == "__main__":
    main()
