"""Prefect's share of the demo run's wall time.

Runs `python -m flows.demo` (what `make demo` runs: the curate-vggsound flow on the embedded
Prefect API, with task runs, artifacts and logs) and `python -m flows.demo --without-prefect`
(the same steps as plain library calls), alternating, each in a fresh process and a fresh
output folder. Prefect's share = (with − without) / with. Target: ≤ 5 %.

Also reported: the embedded API's own start-up time (cold: new PREFECT_HOME; warm: reused),
which the demo overlaps with generating its videos, and the same demo against an already
running `prefect server` (the `make server` workflow), where no start-up is paid per run.

    .venv/bin/python -m benchmarks.prefect_overhead [--repeats 3]           # the demo's curation part
    .venv/bin/python -m benchmarks.prefect_overhead --full --repeats 1      # all of `make demo` (~11 min)
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
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


def _start_server(env: dict) -> tuple[subprocess.Popen, str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen([str(Path(sys.executable).parent / "prefect"), "server", "start", "--host", "127.0.0.1",
                               "--port", str(port)], env=env, start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=2):
                return server, f"http://127.0.0.1:{port}/api"
        except OSError:
            time.sleep(0.5)
    os.killpg(server.pid, signal.SIGKILL)
    raise TimeoutError("prefect server did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--full", action="store_true",
                        help="all of `make demo` (training, PSync, animation) instead of its curation part; "
                             "skips the running-server variant")
    args = parser.parse_args()
    demo = [sys.executable, "-m", "flows.demo"] + ([] if args.full else ["--curation-only"])
    with_prefect, without = [], []
    with tempfile.TemporaryDirectory() as scratch:
        env = dict(os.environ, PREFECT_SERVER_ANALYTICS_ENABLED="false", PREFECT_HOME=f"{scratch}/prefect-home")
        env.pop("PREFECT_API_URL", None)
        cold = _api_start(env)
        warm = _api_start(env)
        server, api_url = _start_server(env) if not args.full else (None, None)
        served = []
        try:
            for i in range(args.repeats):
                with_prefect.append(_wall([*demo, "--out", f"{scratch}/a{i}"], env))
                without.append(_wall([*demo, "--out", f"{scratch}/b{i}", "--without-prefect"], env))
                if server is not None:
                    served.append(_wall([*demo, "--out", f"{scratch}/c{i}"], dict(env, PREFECT_API_URL=api_url)))
        finally:
            if server is not None:
                os.killpg(server.pid, signal.SIGTERM)
                server.wait(timeout=30)
    flow, plain = statistics.median(with_prefect), statistics.median(without)
    shown = " ".join(["python", *demo[1:]])
    lines = [
        f"| run (median of {args.repeats}, fresh process and output each) | wall time (s) |",
        "|---|---|",
        f"| `{shown}` (Prefect flows on the embedded API) | {flow:.1f} |",
        f"| `{shown} --without-prefect` (same steps, plain calls) | {plain:.1f} |",
        f"| **Prefect's share of the wall time** | **{100 * (flow - plain) / flow:.1f} %** |",
    ]
    if served:
        on_server = statistics.median(served)
        lines += [f"| `{shown}` against a running `prefect server` (`make server`) | {on_server:.1f} |",
                  f"| Prefect's share with a running server | {100 * (on_server - plain) / on_server:.1f} % |"]
    lines.append(f"| embedded API start-up alone, cold (new PREFECT_HOME) / warm | {cold:.1f} / {warm:.1f} |")
    name = "prefect_overhead_full_demo" if args.full else "prefect_overhead"
    write_result(name, f"Command: `{' '.join(['python -m benchmarks.prefect_overhead', *sys.argv[1:]])}`. "
                       f"Machine: {machine()}\n\n" + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
