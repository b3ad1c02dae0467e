"""Curation throughput on Ray with 1 vs 2 worker slots (issue 15): the same generated videos curated
by `curate-vggsound --task-runner ray` on a local Ray with `num_cpus` 1, then 2, in one process.

Unlike benchmarks.orchestration_overhead (tasks that do no work), every batch here decodes and
scores real generated videos (`make_demo_set`, 6–12 s each), so the figure is curation throughput.
Each run reports its flow wall time (Ray start-up included) and its steady state: videos per
second between the first and the last batch commit (a thread polls the ledger's commit markers,
before finalize merges them), which leaves out Ray's and the first worker's start-up.
Prints one Markdown table (header and one row).

    .venv/bin/python -m benchmarks.ray_throughput --videos-per-class 4 --batch-size 2
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

from benchmarks.common import machine  # noqa: E402


def _commit_times(ledger: Path, n_batches: int, stop: threading.Event, times: list[float]) -> None:
    """Append the time each new commit marker is first seen (polling every 20 ms)."""
    while not stop.is_set() and len(times) < n_batches:
        seen = len(list(ledger.glob("*.videos.parquet"))) if ledger.is_dir() else 0
        times.extend([time.perf_counter()] * (seen - len(times)))
        time.sleep(0.02)


def _run(flow, videos: Path, out: Path, config: Path, n_batches: int) -> tuple[float, float, int]:
    """(flow wall s, steady-state videos/s, videos) of one run."""
    stop, times = threading.Event(), []
    watcher = threading.Thread(target=_commit_times, args=(out / "ledger", n_batches, stop, times), daemon=True)
    watcher.start()
    start = time.perf_counter()
    summary = flow(videos=str(videos), out=str(out), config=str(config), max_in_flight=8, ray_cpus=1)
    wall = time.perf_counter() - start
    stop.set()
    watcher.join(timeout=10)
    if len(times) < 2:
        raise RuntimeError(f"saw {len(times)} batch commits: need at least 2 batches (more videos)")
    batch_videos = summary["videos"] / n_batches
    return wall, (len(times) - 1) * batch_videos / (times[-1] - times[0]), summary["videos"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--videos-per-class", type=int, default=4, help="generated videos per class (4 classes)")
    parser.add_argument("--batch-size", type=int, default=2)
    args = parser.parse_args(argv)
    from prefect.testing.utilities import prefect_test_harness

    from curation.sources.demo_set import make_demo_set
    from flows.curate import curate_vggsound, ray_task_runner

    with tempfile.TemporaryDirectory() as tmp, prefect_test_harness(server_startup_timeout=300):
        videos = Path(tmp) / "videos"
        make_demo_set(videos, seed=0, videos_per_class=args.videos_per_class, size=(128, 96))
        n_videos = len(list(videos.glob("*/*.mp4")))
        n_batches = -(-n_videos // args.batch_size)
        config = Path(tmp) / "config.yaml"
        config.write_text(f"batch_size: {args.batch_size}\nmin_clips_per_class: 1\n")
        results = {}
        for workers in (1, 2):
            flow = curate_vggsound.with_options(task_runner=ray_task_runner(num_cpus=workers))
            results[workers] = _run(flow, videos, Path(tmp) / f"ray{workers}", config, n_batches)
            print(f"{workers} worker(s): wall {results[workers][0]:.1f} s, {results[workers][1]:.2f} videos/s",
                  file=sys.stderr, flush=True)
    (wall1, rate1, n), (wall2, rate2, _) = results[1], results[2]
    print(f"| input | 1 worker: wall (s) / steady videos/s | 2 workers: wall (s) / steady videos/s "
          f"| ratio 2:1 (steady) |\n|---|---|---|---|\n"
          f"| {n} generated videos, batches of {args.batch_size} | {wall1:.1f} / {rate1:.2f} "
          f"| {wall2:.1f} / {rate2:.2f} | {rate2 / rate1:.2f}× |")
    print(f"\nMachine: {machine()}; shared with other jobs, measured under load (load average "
          f"{os.getloadavg()[0]:.1f} at the end; CPUs this process may use: {len(os.sched_getaffinity(0))}).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
