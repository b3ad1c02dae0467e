"""`make install`'s package step into a new venv: pip byte-compiling as it installs (one core) vs
`pip install --no-compile` then `python -m compileall -j 0` (every core), interleaved.

    python -m benchmarks.install_time --rounds 1     # ~5 min per round, pip's cache off

Each variant gets a fresh venv under a temporary folder with the Makefile's pip / setuptools pins,
then installs this checkout with the `ml` and `dev` extras (what `make install` does). Writes
benchmarks/results/install_time.md.
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

VARIANTS = {
    "pip compiles (before)": [["pip", "install", "-q", "-e", f"{REPO}[ml,dev]"]],
    "--no-compile + compileall -j 0 (make install)": [
        ["pip", "install", "-q", "--no-compile", "-e", f"{REPO}[ml,dev]"],
        ["python", "-m", "compileall", "-q", "-j", "0", "lib"]],  # exit status 1: py2 leftovers, as pip ignores
}


def timed_install(commands: list[list[str]], root: Path) -> float:
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "--upgrade", "pip<27", "setuptools<81", "wheel"],
                   check=True, capture_output=True)
    env = os.environ | {"PIP_NO_CACHE_DIR": "1"}
    start = time.perf_counter()
    for program, *args in commands:
        result = subprocess.run([str(venv / "bin" / program), *args], cwd=venv, env=env, capture_output=True, text=True)
        if program == "pip" and result.returncode:
            raise RuntimeError(f"pip failed:\n{result.stderr[-2000:]}")
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.install_time", description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args(argv)
    seconds: dict[str, list[float]] = {name: [] for name in VARIANTS}
    load_before = os.getloadavg()
    for round_ in range(args.rounds):
        for name, commands in VARIANTS.items():
            with tempfile.TemporaryDirectory() as root:
                seconds[name].append(timed_install(commands, Path(root)))
            print(f"round {round_ + 1} {name}: {seconds[name][-1]:.0f} s", flush=True)
    before = statistics.median(seconds["pip compiles (before)"])
    lines = [f"`python -m benchmarks.install_time --rounds {args.rounds}` — {machine()}; pip's cache off; "
             f"load average before / after: {' '.join(f'{x:.1f}' for x in load_before)} / "
             f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}.", "",
             "| variant | seconds per round | median | vs before |", "|---|---|---:|---:|"]
    for name, values in seconds.items():
        median = statistics.median(values)
        lines.append(f"| {name} | {' / '.join(f'{v:.0f}' for v in values)} | {median:.0f} | {before / median:.2f}× |")
    write_result("install_time", "\n".join(lines) + "\n")  # also prints it
    return 0


if __name__ == "__main__":
    sys.exit(main())
