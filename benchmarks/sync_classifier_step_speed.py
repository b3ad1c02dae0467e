"""Seconds per tiny sync-classifier training step, before and after the speed work (issue 12 §1).

A step is what `python -m sync_classifier.train --preset tiny --synthetic` does per step: draw a
batch of 4 generated videos × 21 clips from the DataLoader, forward, contrastive loss, backward,
gradient clipping, AdamW. Variants differ in what the fix changed:

- precision: the old default (`bf16` everywhere) vs `auto` (`curation/precision.py`: fp32 unless
  the CPU has native bf16 and bf16 measures faster);
- data: a fresh synthetic video rendered, and its log-mel and frames computed, per example (old)
  vs videos rendered and analysed once and examples cut from them (`data.synthetic_pool`, new;
  the pool is filled before timing, as it is after the first steps of a run);
- threads: torch's default (all cores) vs the idle cores (`threads_for_this_machine`, new): on
  shared cores, extra threads wait for each other on every small op.

An AVX2-only CPU (the issue's machine) is emulated on an AVX-512/AMX machine by capping torch's and
oneDNN's instruction sets (`ATEN_CPU_CAPABILITY=avx2`, `ONEDNN_MAX_CPU_ISA=AVX2`). Every variant
runs in its own process; the variants are interleaved over rounds so that others' load on a shared
machine falls on all of them alike.

    python -m benchmarks.sync_classifier_step_speed            # writes benchmarks/results/sync_classifier_step_speed.md
    python -m benchmarks.sync_classifier_step_speed --steps 4 --rounds 2
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

from benchmarks.common import machine, write_result

AVX2_ENV = {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2"}

# name → (emulate AVX2?, precision, DataLoader workers, synthetic pool (0: a fresh video per example), threads)
OLD_AVX2, NEW_AVX2, OLD_NATIVE, NEW_NATIVE = "avx2 old: bf16", "avx2 new", "native old: bf16", "native new"
POOL = 16
VARIANTS = {
    OLD_AVX2: (True, "bf16", 0, 0, "default"),
    "avx2 old: fp32": (True, "no", 0, 0, "default"),
    "avx2 new: auto precision only": (True, "auto", 0, 0, "default"),
    NEW_AVX2: (True, "auto", 0, POOL, "auto"),
    OLD_NATIVE: (False, "bf16", 0, 0, "default"),
    NEW_NATIVE: (False, "auto", 0, POOL, "auto"),
}


def run_variant(precision: str, workers: int, pool: int, threads: str, steps: int) -> dict:
    """Time `steps` training steps (after one warm-up step) in this process."""
    import torch
    from torch.utils.data import DataLoader

    from curation.precision import resolve_precision
    from sync_classifier.config import load_config
    from sync_classifier.contrastive import sync_contrastive_loss
    from sync_classifier.data import SyntheticTrainingSet, collate_examples
    from sync_classifier.model import SyncClassifier
    from sync_classifier.train import threads_for_this_machine

    if threads == "auto":
        torch.set_num_threads(threads_for_this_machine()[0])
    config = load_config("tiny", None, ["data.synthetic=true", f"data.synthetic_pool={pool}"])
    torch.manual_seed(0)
    model = SyncClassifier(config.model)
    choice = resolve_precision(precision, "cpu")
    dtype_enabled = choice.mixed_precision == "bf16"
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    dataset = SyntheticTrainingSet(config.model, config.data, seed=0)
    for which in range(pool):  # fill the pool first: the steady state of a run
        dataset._pooled(which)
    batches = iter(DataLoader(dataset, batch_size=config.train.batch_size, collate_fn=collate_examples,
                              num_workers=workers, persistent_workers=workers > 0))
    times, data_times = [], []
    for _ in range(steps + 1):
        start = time.perf_counter()
        batch = next(batches)
        data_times.append(time.perf_counter() - start)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype_enabled):
            scores = model(batch["audio"], batch["video"])
        loss = sync_contrastive_loss(scores, config.train.tau).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.train.grad_clip)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        times.append(time.perf_counter() - start)
    return {"seconds": times[1:], "data_seconds": data_times[1:], "precision": choice.mixed_precision, "reason": choice.reason,
            "capability": str(torch.backends.cpu.get_cpu_capability()), "threads": torch.get_num_threads()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.sync_classifier_step_speed", description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=4, help="timed steps per variant and round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--avx2-only", action="store_true", help="only the AVX2-emulated variants")
    parser.add_argument("--variant", help=argparse.SUPPRESS)  # internal: run one variant, print JSON
    args = parser.parse_args(argv)
    if args.variant:
        _, precision, workers, pool, threads = VARIANTS[args.variant]
        print(json.dumps(run_variant(precision, workers, pool, threads, args.steps)))
        return 0

    variants = {name: v for name, v in VARIANTS.items() if v[0] or not args.avx2_only}
    results: dict[str, list[float]] = {name: [] for name in variants}
    data: dict[str, list[float]] = {name: [] for name in variants}
    info: dict[str, dict] = {}
    start_load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    for round_index in range(args.rounds):
        for name, (avx2, *_rest) in variants.items():
            env = os.environ | (AVX2_ENV if avx2 else {})
            run = subprocess.run([sys.executable, "-m", "benchmarks.sync_classifier_step_speed", "--variant", name,
                                  "--steps", str(args.steps)], capture_output=True, text=True, env=env, check=True)
            row = json.loads(run.stdout.strip().splitlines()[-1])
            results[name] += row["seconds"]
            data[name] += row["data_seconds"]
            info[name] = row
            print(f"round {round_index + 1} {name}: {statistics.median(row['seconds']):.2f} s/step "
                  f"({row['precision']}, torch {row['capability']})", flush=True)

    median = {name: statistics.median(values) for name, values in results.items()}
    flags = sorted({f for f in open("/proc/cpuinfo").read().split() if f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16")})
    lines = [
        "## Sync classifier: seconds per tiny training step (issue 12 §1)", "",
        f"`python -m benchmarks.sync_classifier_step_speed --steps {args.steps} --rounds {args.rounds}"
        f"{' --avx2-only' if args.avx2_only else ''}` — "
        f"{machine()}; CPU flags {' '.join(flags)}. A shared machine (other helpers' jobs running): variants "
        "interleaved, medians over all rounds. Step = DataLoader batch (4 generated videos × 21 clips) + forward + "
        "loss + backward + clip + AdamW, tiny preset. \"avx2\" rows cap torch/oneDNN at AVX2 "
        "(`ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2`), the issue's kind of CPU. "
        f"Load average before / after: {start_load} / {' '.join(f'{x:.1f}' for x in os.getloadavg())}.", "",
        "| variant | precision chosen | data | torch threads | torch kernels | s/step (median) | of which waiting "
        "for data | speed-up vs the old default on that CPU |",
        "|---|---|---|---:|---|---:|---:|---:|",
    ]
    for name, (_, _, _, pool, _) in variants.items():
        base = median[OLD_AVX2 if name.startswith("avx2") else OLD_NATIVE]
        source = f"pool of {pool} videos" if pool else "fresh video per example"
        lines.append(f"| {name} | {info[name]['precision']} | {source} | {info[name]['threads']} | "
                     f"{info[name]['capability']} | {median[name]:.2f} | {statistics.median(data[name]):.2f} | "
                     f"{base / median[name]:.1f}× |")
    lines += ["", f"Precision decisions: AVX2 — {info[NEW_AVX2]['reason']}"
              + (f"; native — {info[NEW_NATIVE]['reason']}." if NEW_NATIVE in info else "."), ""]
    write_result("sync_classifier_step_speed", "\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
