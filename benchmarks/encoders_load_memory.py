"""Peak memory of loading a full-size ImageBind checkpoint: asva's loader vs plain torch.load.

Writes random weights in the official imagebind_huge.pth layout (all six modalities, 1,311 keys,
~4.5 GB) to a scratch folder, then loads its vision + text + audio branches in fresh processes:

    asva:   `model.encoders.imagebind.load_imagebind` (model on the meta device, torch.load with
            mmap=True, load_state_dict(assign=True))
    plain:  ImageBind built on the CPU + torch.load(file) + load_state_dict (the usual recipe)

Reported per process: peak RSS (VmHWM: everything resident, file-backed pages of the mapped
checkpoint included) and peak anonymous memory (sampled RssAnon: private memory that cannot be
given back without swap), after loading and after one forward of each branch. The file is
deleted at the end.

    .venv/bin/python -m benchmarks.encoders_load_memory [--scratch /tmp]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


class AnonPeak:
    """Samples RssAnon every few ms in a thread (the kernel keeps no peak for it)."""

    def __init__(self, interval: float = 0.005):
        self.peak_kb, self._stop = 0, threading.Event()
        self._thread = threading.Thread(target=self._run, args=(interval,), daemon=True)

    def _run(self, interval: float) -> None:
        while not self._stop.is_set():
            self.peak_kb = max(self.peak_kb, _status_kb("RssAnon"))
            time.sleep(interval)

    def __enter__(self) -> "AnonPeak":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_kb = max(self.peak_kb, _status_kb("RssAnon"))


def child(method: str, path: str) -> dict:
    """Load in this (fresh) process and report memory, MB."""
    import torch

    from model.encoders.imagebind import MODALITIES, ImageBind, load_imagebind, select_modalities

    base = {"rss_start_mb": _status_kb("VmRSS") / 1024}
    with AnonPeak() as anon:
        start = time.perf_counter()
        if method == "asva":
            model = load_imagebind(path, "huge")
        else:
            model = ImageBind("huge").eval()
            state = torch.load(path, map_location="cpu", weights_only=True)
            kept, _ = select_modalities(state, MODALITIES)
            model.load_state_dict(kept, strict=True)
            del state, kept
        load_s = time.perf_counter() - start
    loaded = {"load_s": load_s, "peak_rss_load_mb": _status_kb("VmHWM") / 1024, "peak_anon_load_mb": anon.peak_kb / 1024}
    with AnonPeak() as anon, torch.inference_mode():  # touches every weight once
        ids = torch.zeros(1, 77, dtype=torch.long)
        ids[0, :3] = torch.tensor([49406, 320, 49407])
        model.embed("vision", torch.zeros(1, 3, 224, 224))
        model.embed("text", ids)
        model.embed("audio", torch.zeros(1, 3, 1, 128, 204))
    return base | loaded | {"peak_rss_forward_mb": _status_kb("VmHWM") / 1024,
                            "peak_anon_forward_mb": max(anon.peak_kb, 0) / 1024,
                            "params_m": sum(p.numel() for p in model.parameters()) / 1e6}


def run_child(method: str, path: Path) -> dict:
    out = subprocess.run([sys.executable, "-m", "benchmarks.encoders_load_memory", "--child", method, str(path)],
                         capture_output=True, text=True, check=True, cwd=Path(__file__).resolve().parents[1])
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scratch", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument("--child", nargs=2, metavar=("METHOD", "PATH"), help=argparse.SUPPRESS)
    parser.add_argument("--save", action="store_true", help="also write benchmarks/results/encoders_load_memory.md")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(*args.child)))
        return

    from benchmarks.common import machine, write_result

    path = args.scratch / f"asva_imagebind_huge_random_{os.getpid()}.pth"
    try:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import sys; from model.encoders.imagebind_layout import "
                        "write_random_checkpoint as w; w(sys.argv[1], 'huge', other_modalities=True)", str(path)],
                       check=True, cwd=Path(__file__).resolve().parents[1])
        size_gb = path.stat().st_size / 1e9
        print(f"wrote {path} ({size_gb:.2f} GB) in {time.perf_counter() - start:.0f} s", flush=True)
        results = {}
        for method in ("asva", "plain", "asva"):  # asva twice: cold-ish and warm page cache
            results.setdefault(method, []).append(run_child(method, path))
            print(method, results[method][-1], flush=True)
    finally:
        path.unlink(missing_ok=True)
    lines = [f"Machine: {machine()}. Checkpoint: random weights in the official layout, 1,311 keys, "
             f"{size_gb:.2f} GB; loaded: vision + text + audio ({results['asva'][0]['params_m']:.0f} M parameters).", "",
             "| loader | load (s) | peak RSS after load (MB) | peak anonymous after load (MB) "
             "| peak RSS after a forward of each branch (MB) | peak anonymous in that forward (MB) |",
             "|---|---|---|---|---|---|"]
    names = {"asva": "asva: meta device + mmap + assign", "plain": "plain torch.load + load_state_dict"}
    for method in ("asva", "plain"):
        r = results[method][-1]
        lines.append(f"| {names[method]} | {r['load_s']:.1f} | {r['peak_rss_load_mb']:.0f} | {r['peak_anon_load_mb']:.0f} "
                     f"| {r['peak_rss_forward_mb']:.0f} | {r['peak_anon_forward_mb']:.0f} |")
    markdown = "\n".join(lines) + "\n"
    if args.save:
        write_result("encoders_load_memory", markdown)
    else:
        print(markdown)


if __name__ == "__main__":
    main()
