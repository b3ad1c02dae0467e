"""Prefect's and Ray's cost per batch task (issue 15): the same curation with the thread runner and
with `--task-runner ray` (local Ray, 1 or 2 worker slots), side by side in one process.

The input is N files that are not videos (each fails at the probe in milliseconds), one per batch,
so a task's wall time is almost all orchestration: the figure is the overhead per task, not
curation throughput. Each runner is timed once on its own output folder; a Ray row includes
starting and stopping its local Ray (what a run pays once), the thread row runs first and pays the
imports.

    flock /work/briefs/measure.lock .venv/bin/python -m benchmarks.orchestration_overhead --tasks 32
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

from benchmarks.common import machine, write_result  # noqa: E402


def _folder(root: Path, n: int) -> Path:
    for i in range(n):
        (root / "videos" / "junk").mkdir(parents=True, exist_ok=True)
        (root / "videos" / "junk" / f"v{i:05d}.mp4").write_bytes(b"\0" * 1000)
    return root / "videos"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=32)
    args = parser.parse_args(argv)
    from prefect.testing.utilities import prefect_test_harness

    from flows.curate import curate_vggsound, ray_task_runner

    rows = []
    with tempfile.TemporaryDirectory() as tmp, prefect_test_harness(server_startup_timeout=300):
        videos = _folder(Path(tmp), args.tasks)
        config = Path(tmp) / "config.yaml"
        config.write_text("batch_size: 1\nmin_clips_per_class: 1\n")
        for name, runner in (("threads (2)", None), ("ray, 1 worker", 1), ("ray, 2 workers", 2)):
            flow = curate_vggsound if runner is None else curate_vggsound.with_options(
                task_runner=ray_task_runner(num_cpus=runner))
            start = time.perf_counter()
            summary = flow(videos=str(videos), out=f"{tmp}/{name}", config=str(config), max_in_flight=64)
            seconds = time.perf_counter() - start
            assert summary["videos"] == args.tasks
            rows.append((name, seconds))
            print(name, round(seconds, 1), flush=True)
    lines = [f"{args.tasks} batch tasks of one non-video file each (orchestration cost only), one flow run per "
             "runner, in one process (Ray start-up included in the Ray rows):", "",
             "| runner | flow wall (s) | per task (s) | vs threads |", "|---|---|---|---|"]
    for name, seconds in rows:
        lines.append(f"| {name} | {seconds:.1f} | {seconds / args.tasks:.2f} | {seconds / rows[0][1]:.2f}× |")
    lines += ["", f"Machine: {machine()}; shared with other jobs (load average: {os.getloadavg()[0]:.1f} at the end)."]
    write_result("orchestration_overhead", "\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
