"""Which demo sizes reach the demo's targets in the least time (issue 12 §3).

`make demo` runs two long steps side by side, one torch thread each: the toy sync classifier
(`model.demo.sync_settings`; target ≥ 90 % held-out accuracy) and AVSyncD on the toy base
(`model.demo.train_toy_avsyncd`; its held-out animations should follow the sound: event F1 with the
sound well above without). Whichever is slower sets the demo's length. This trains variants of each
on the demo's own toy data (same seeds) and scores them on larger held-out sets than the demo's
(64 sync test videos instead of 16, 24 animated clips instead of 12), so that one video more or less
does not decide a comparison. Each variant runs in its own process on one thread, AVX2 kernels only
(the issue's kind of CPU), as many at a time as there are cores; a finished variant is not run again.

    python -m benchmarks.demo_settings                  # every variant; results/demo_settings.md
    python -m benchmarks.demo_settings --variants "sync: demo before, 1000 steps, constant lr"
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

from benchmarks.common import machine, write_result

AVX2_ENV = {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "OMP_NUM_THREADS": "1"}
SYNC_HELD_OUT_VIDEOS = 64
ANIMATED_CLIPS = 24

_COSINE_64 = {"train.lr_schedule": "cosine", "model.num_mel_bins": 64}
# "sync: …" → {dotted key: value} over `model.demo.sync_settings(FULL)` as it was before this study
# (1000 steps, constant lr after warm-up, lr 1e-3, 128 mel bins)
SYNC_VARIANTS: dict[str, dict] = {
    "sync: demo before, 1000 steps, constant lr": {"train.max_steps": 1000, "train.lr_schedule": "constant",
                                                   "train.lr": 1e-3, "model.num_mel_bins": 128},
    "sync: 600 steps, cosine": {"train.max_steps": 600, "train.lr_schedule": "cosine", "model.num_mel_bins": 128},
    "sync: 400 steps, cosine": {"train.max_steps": 400, "train.lr_schedule": "cosine", "model.num_mel_bins": 128},
    "sync: 600 steps, cosine, 7 clips per example": {"train.max_steps": 600, "train.lr_schedule": "cosine",
                                                     "model.num_mel_bins": 128, "data.num_clips": 7},
    "sync: 600 steps, cosine, 64 mel bins": {"train.max_steps": 600, **_COSINE_64},
    "sync: 1200 steps of 2 videos, cosine, 64 mel bins": {"train.max_steps": 1200, "train.batch_size": 2, **_COSINE_64},
    "sync: 800 steps, constant lr, 64 mel bins": {"train.max_steps": 800, "train.lr_schedule": "constant",
                                                  "model.num_mel_bins": 64},
    "sync: 800 steps, cosine, 64 mel bins": {"train.max_steps": 800, **_COSINE_64},
    "sync: 600 steps, cosine, 64 mel bins, lr 2e-3": {"train.max_steps": 600, "train.lr": 2e-3, **_COSINE_64},
    "sync: 700 steps, cosine, 64 mel bins, lr 2e-3": {"train.max_steps": 700, "train.lr": 2e-3, **_COSINE_64},
    "sync: 800 steps, cosine, 64 mel bins, lr 2e-3": {"train.max_steps": 800, "train.lr": 2e-3, **_COSINE_64},
}
# "avsyncd: …" → `model.demo.DemoSizes` fields over FULL
AVSYNCD_VARIANTS: dict[str, dict] = {
    "avsyncd: demo before, base 1200 + 400, 400 steps": {"base_vae_steps": 1200, "base_unet_steps": 400,
                                                          "avsyncd_steps": 400},
    "avsyncd: base 1200 + 400, 250 steps": {"base_vae_steps": 1200, "base_unet_steps": 400, "avsyncd_steps": 250},
    "avsyncd: base 800 + 300, 250 steps": {"base_vae_steps": 800, "base_unet_steps": 300, "avsyncd_steps": 250},
}
VARIANTS = list(SYNC_VARIANTS) + list(AVSYNCD_VARIANTS)


def sync_settings_for(changes: dict) -> dict:
    from curation.layered_config import merge, nest
    from model.demo import FULL, sync_settings

    settings = sync_settings(FULL)
    for key, value in (changes | {"train.num_threads": 1, "train.max_cpu_minutes": None}).items():
        settings = merge(settings, nest(key.split("."), value))
    return settings


def run_sync(name: str, data: Path, out: Path) -> dict:
    """Train sync variant `name` on `data`'s train split; held-out accuracy on its test split."""
    from model.demo import train_toy_sync_classifier

    _, accuracy, steps = train_toy_sync_classifier(out, data / "clips.parquet", sync_settings_for(SYNC_VARIANTS[name]))
    return {"steps": steps, **accuracy}


def run_avsyncd(name: str, out: Path) -> dict:
    """Train AVSyncD variant `name` as the demo does; event F1 of `ANIMATED_CLIPS` held-out clips."""
    import torch

    from model.demo import FULL, animate_held_out, train_toy_avsyncd

    torch.set_num_threads(1)
    sizes = replace(FULL, toy_test_clips=ANIMATED_CLIPS, **AVSYNCD_VARIANTS[name])
    trained = train_toy_avsyncd(out, sizes, threads=1)
    animated = animate_held_out(trained["final_pipeline"], trained["manifest"], out, sizes)
    return {"steps": trained["steps"], "train_s": trained["seconds"],
            **{f"f1_{k}": animated[f"event_{k}"]["f1"] for k in ("with_audio", "without_audio", "real_clips")}}


def write_sync_data(data: Path) -> None:
    from model.demo import FULL, write_toy_sync_clips

    if not (data / "clips.parquet").is_file():
        write_toy_sync_clips(data, replace(FULL, sync_test_clips=SYNC_HELD_OUT_VIDEOS), progress=True)


def run_folder(work: Path, name: str) -> Path:
    return work / "runs" / re.sub(r"[^A-Za-z0-9.+-]+", "_", name).strip("_")


def run_in_subprocess(name: str, work: Path) -> dict:
    result = run_folder(work, name).with_suffix(".json")
    if not result.is_file():
        subprocess.run([sys.executable, "-m", "benchmarks.demo_settings", "--one", name, "--work", str(work)],
                       check=True, env=os.environ | AVX2_ENV)
    return json.loads(result.read_text())


def report(results: list[dict], load_before: tuple, load_after: tuple) -> str:
    lines = [
        "## Demo sizes: held-out results vs time (issue 12 §3)",
        "",
        f"`python -m benchmarks.demo_settings` — {machine()}, finished {time.strftime('%H:%M')} UTC. Each variant in "
        "its own process, one torch thread, AVX2 kernels only, as many variants at a time as cores. Load average "
        f"before / after: {' '.join(f'{x:.1f}' for x in load_before)} / {' '.join(f'{x:.1f}' for x in load_after)}.",
        "",
        f"Sync classifier on the demo's toy sync clips (seed 0, 36 train clips of 10 s); held-out accuracy on "
        f"{SYNC_HELD_OUT_VIDEOS} test videos, ±5 of 31 offsets (target 0.9):",
        "",
        "| variant | steps | wall s | CPU s | A→V | V→A | A→V exact | V→A exact |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        if r["variant"] in SYNC_VARIANTS:
            lines.append(f"| {r['variant'].removeprefix('sync: ')} | {r['steps']} | {r['wall_s']:.0f} | {r['cpu_s']:.0f} | "
                         f"{r['a2v']:.3f} | {r['v2a']:.3f} | {r['a2v_exact']:.3f} | {r['v2a_exact']:.3f} |")
    lines += ["", f"AVSyncD on the toy base as the demo trains it (96 toy clips, seed 0), then {ANIMATED_CLIPS} held-out "
              "clips animated with their sound (η = 4) and with none (10 sampling steps); event F1 (±1 frame):", "",
              "| variant | AVSyncD steps | training wall s | all wall s | F1 with sound | F1 without | F1 of the real clips |",
              "|---|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        if r["variant"] in AVSYNCD_VARIANTS:
            lines.append(f"| {r['variant'].removeprefix('avsyncd: ')} | {r['steps']} | {r['train_s']:.0f} | "
                         f"{r['wall_s']:.0f} | {r['f1_with_audio']:.3f} | {r['f1_without_audio']:.3f} | "
                         f"{r['f1_real_clips']:.3f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", nargs="*", default=VARIANTS, choices=VARIANTS)
    parser.add_argument("--work", type=Path, default=Path("data/benchmarks/demo_settings"),
                        help="toy data and runs (a finished variant is not run again)")
    parser.add_argument("--parallel", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: run this variant in this process
    args = parser.parse_args(argv)
    if args.one:
        out = run_folder(args.work, args.one)
        started, cpu_started = time.perf_counter(), time.process_time()
        if args.one in SYNC_VARIANTS:
            result = run_sync(args.one, args.work / "sync_data", out)
        else:
            result = run_avsyncd(args.one, out)
        result |= {"variant": args.one, "wall_s": time.perf_counter() - started,
                   "cpu_s": time.process_time() - cpu_started}
        out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
        return 0
    write_sync_data(args.work / "sync_data")
    load_before = os.getloadavg()
    with ThreadPoolExecutor(args.parallel) as pool:
        results = list(pool.map(lambda name: run_in_subprocess(name, args.work), args.variants))
    markdown = report(results, load_before, os.getloadavg())
    print(markdown)
    write_result("demo_settings", markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
