"""Wall time of the whole DAG (`asva-pipeline`) on the demo-sized generated set with tiny presets,
per stage, and Prefect's share of it.

The demo set of `make demo` (flows.demo.build_demo_set: 4 classes × 3 generated videos, two real
clips, broken files) goes through `python -m flows.pipeline --preset tiny --auto-accept` on
Prefect's embedded API, in a fresh process with a fresh PREFECT_HOME. Per stage: the wall time in
its completion marker. Prefect's share: the run's wall time minus the time during which some task
run was running (the union of all task runs' start–end intervals, read from the API afterwards);
what is left is orchestration (API start, flow / task run bookkeeping, artifacts, logs) plus the
little library code that runs in flow bodies (config checks, listing pending videos), so it is an
upper bound. A second run on the same folder (every stage skipped) is timed too.

    flock /work/briefs/measure.lock .venv/bin/python -m benchmarks.pipeline_wall [--sync-steps 50]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import REPO, machine, write_result

# Runs in the child after the pipeline: the union of the task runs' intervals, from the same API.
_TASK_TIME = """
import json, sys
from prefect.client.orchestration import get_client
runs = []
with get_client(sync_client=True) as client:
    while page := client.read_task_runs(limit=200, offset=len(runs)):  # the API's largest page
        runs += page
spans = sorted((r.start_time.timestamp(), r.end_time.timestamp()) for r in runs if r.start_time and r.end_time)
busy, end = 0.0, float("-inf")
for start, stop in spans:
    if stop > end:
        busy += stop - max(start, end)
        end = stop
print(json.dumps({"task_runs": len(runs), "busy_s": busy}))
"""


def run_pipeline(videos: Path, out: Path, home: Path, extra: list[str]) -> dict:
    """One `python -m flows.pipeline` in a fresh process; wall time and the task-run union."""
    env = dict(os.environ, PREFECT_HOME=str(home), PREFECT_SERVER_ANALYTICS_ENABLED="false")
    code = ("import sys, time; t = time.perf_counter(); from flows.pipeline import main; rc = main(sys.argv[1:]); "
            "wall = time.perf_counter() - t\n" + _TASK_TIME.replace('print(json.dumps({', 'print(json.dumps({"wall_s": wall, '))
    args = [sys.executable, "-c", code, "--videos", str(videos), "--out", str(out), "--preset", "tiny", "--auto-accept",
            *extra]
    started = time.perf_counter()
    done = subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"pipeline failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["process_s"] = time.perf_counter() - started
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sync-steps", type=int, help="sync classifier steps (default: the tiny preset's)")
    args = parser.parse_args(argv)
    from curation import stages
    from flows.demo import build_demo_set

    with tempfile.TemporaryDirectory(prefix="pipeline-wall-") as tmp:
        root = Path(tmp)
        videos = build_demo_set(root / "demo")
        extra = [] if args.sync_steps is None else ["--set", f"sync.max_steps={args.sync_steps}"]
        load = os.getloadavg()
        first = run_pipeline(videos, root / "run", root / "home", extra)
        second = run_pipeline(videos, root / "run", root / "home", extra)
        markers = {name: json.loads(stages.RunLayout(root / "run").marker(name).read_text()) for name in stages.STAGES}
        n_files = sum(1 for p in videos.rglob("*.mp4"))
    wall = first["wall_s"]
    prefect_share = wall - first["busy_s"]
    rows = "\n".join(f"| {name} | {markers[name]['seconds']:.1f} | {100 * markers[name]['seconds'] / wall:.0f} % |"
                     for name in stages.STAGES)
    text = f"""Whole DAG, tiny presets, `--auto-accept`, on the demo set ({n_files} files under `{videos.name}/`: generated
videos, two real clips, broken files), embedded Prefect API, fresh PREFECT_HOME.

| stage | wall (s) | share of the run |
|---|---|---|
{rows}
| **whole run** (in-process, from `main()`) | **{wall:.1f}** | 100 % |
| process (imports + API start + run + exit) | {first['process_s']:.1f} | |

Prefect's share: {prefect_share:.1f} s = {100 * prefect_share / wall:.0f} % of the run (time with no task run
running, over {first['task_runs']} task runs; an upper bound: it includes the flow bodies' own small library calls).
Second run on the same folder (every stage skipped): {second['wall_s']:.1f} s in `main()`, {second['process_s']:.1f} s
as a process.

Load average at the start: {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (1 / 5 / 15 min; shared machine).
Machine: {machine()}.
"""
    write_result("pipeline_wall", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
