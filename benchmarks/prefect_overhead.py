"""Prefect's share of the demo run's wall time.

Runs `python -m flows.demo` (what `make demo` runs: the curate-vggsound flow on the embedded
Prefect API, with task runs, artifacts and logs) and `python -m flows.demo --without-prefect`
(the same steps as plain library calls), alternating, each in a fresh process and a fresh
output folder. Prefect's share = (with − without) / with. Target: ≤ 5 %.

Also reported: the embedded API's own start-up time (cold: new PREFECT_HOME; warm: reused),
which the demo overlaps with generating its videos.

    .venv/bin/python -m benchmarks.prefect_overhead [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import REPO, machine, write_result

API_START = "import time; t = time.perf_counter(); from prefect.server.api.server import SubprocessASGIServer; " \
            "s = SubprocessASGIServer(); s.start(); print(time.perf_counter() - t); s.stop()"


def _wall(args: list[str], env: dict) -> float:
    start = time.perf_counter()
    subprocess.run(args, check=True, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def _api_start(env: dict) -> float:
    out = subprocess.run([sys.executable, "-c", API_START], check=True, cwd=REPO, env=env, capture_output=True, text=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with_prefect, without = [], []
    with tempfile.TemporaryDirectory() as scratch:
        env = dict(os.environ, PREFECT_SERVER_ANALYTICS_ENABLED="false", PREFECT_HOME=f"{scratch}/prefect-home")
        env.pop("PREFECT_API_URL", None)
        cold = _api_start(env)
        warm = _api_start(env)
        for i in range(args.repeats):
            with_prefect.append(_wall([sys.executable, "-m", "flows.demo", "--out", f"{scratch}/a{i}"], env))
            without.append(_wall([sys.executable, "-m", "flows.demo", "--out", f"{scratch}/b{i}", "--without-prefect"], env))
    flow, plain = statistics.median(with_prefect), statistics.median(without)
    lines = [
        f"| run (median of {args.repeats}, fresh process and output each) | wall time (s) |",
        "|---|---|",
        f"| `python -m flows.demo` (Prefect flow on the embedded API) | {flow:.1f} |",
        f"| `python -m flows.demo --without-prefect` (same steps, plain calls) | {plain:.1f} |",
        f"| **Prefect's share of the demo's wall time** | **{100 * (flow - plain) / flow:.1f} %** |",
        f"| embedded API start-up alone, cold (new PREFECT_HOME) / warm | {cold:.1f} / {warm:.1f} |",
    ]
    write_result("prefect_overhead", f"Machine: {machine()}\n\n" + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
