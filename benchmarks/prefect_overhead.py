"""Prefect's share of the demo run's wall time.

Runs the same curation of the demo set twice over, alternating: once as the `curate-vggsound`
flow (embedded Prefect API, as `make demo` runs it: API start-up, task runs, artifacts, logs
included) and once as the plain library loop `curation.pipeline.run_curation`. Each run starts
from an empty output folder. Prefect's share = (flow − plain) / flow. Target: ≤ 5 %.

The flow runs in a fresh Python process each time, like `make demo`, so the embedded API's
start-up is counted; the plain loop runs in a fresh process too, so imports are counted alike.

    .venv/bin/python -m benchmarks.prefect_overhead [--videos data/demo/videos] [--repeats 2]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import REPO, machine, write_result

PLAIN = """
import sys
from curation.config import load_config
from curation.pipeline import run_curation
from curation.sources.collect import collect_items
run_curation(collect_items(videos=sys.argv[1]), sys.argv[2], load_config(sys.argv[3]))
"""


def _run(args: list[str]) -> float:
    env = dict(os.environ, PREFECT_SERVER_ANALYTICS_ENABLED="false")
    start = time.perf_counter()
    subprocess.run(args, check=True, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--videos", type=Path, default=REPO / "data/demo/videos")
    parser.add_argument("--config", type=Path, default=REPO / "configs/demo.yaml")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    if not args.videos.is_dir():
        raise SystemExit(f"{args.videos} missing: run `make demo` first")
    flow_times, plain_times = [], []
    with tempfile.TemporaryDirectory() as scratch:
        for i in range(args.repeats):
            out = Path(scratch) / f"flow{i}"
            flow_times.append(_run([sys.executable, "-m", "flows.curate", "--videos", str(args.videos),
                                    "--out", str(out), "--config", str(args.config)]))
            out = Path(scratch) / f"plain{i}"
            plain_times.append(_run([sys.executable, "-c", PLAIN, str(args.videos), str(out), str(args.config)]))
            shutil.rmtree(Path(scratch), ignore_errors=True)
            Path(scratch).mkdir(exist_ok=True)
    flow, plain = statistics.median(flow_times), statistics.median(plain_times)
    share = (flow - plain) / flow
    lines = [
        "| run | wall time, median of %d (s) |" % args.repeats,
        "|---|---|",
        f"| `python -m flows.curate` (Prefect flow, embedded API) | {flow:.1f} |",
        f"| same stages as a plain loop (`curation.pipeline.run_curation`) | {plain:.1f} |",
        f"| **Prefect's share of the flow's wall time** | **{100 * share:.1f} %** |",
    ]
    write_result("prefect_overhead", f"Machine: {machine()}\n\nDemo set: {args.videos}\n\n" + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
