"""Ledger bookkeeping and finalize at VGGSound scale (issue 15, part 1): before vs after.

Generates ledgers shaped like a real curation's (`curation.manifest.write_batch`, batches of 8,
the default metrics' four columns, 1-3 scenes per 10 s clip, 3 s windows every 0.5 s, ~10 % failed
videos, ~2 % retried in a later batch) at N videos, then measures, each step in its own process
(peak RSS = that process's ru_maxrss):

- resume bookkeeping over a whole run. Before: every batch task re-read the whole ledger
  (`pending_items`), so a run's total is sum_k check(k committed batches); measured at the full
  ledger and multiplied by n_batches/2 (the check grows linearly with committed batches, issue 15).
  After: one `pending_items` per run + `pending_in_batch` (the task's own markers) for every batch,
  all measured.
- finalize: before = the per-file `read_ledger` + per-group Python merge (kept here verbatim as the
  baseline); after = `curation.pipeline.finalize` (one dataset scan, vectorised merge, compaction).
  Both produce the same clips (checked here on every ledger, and in tests/curation/test_ledger_scaling.py).

    .venv/bin/python -m benchmarks.ledger_scaling --videos 1000 10000 50000 [--old-max 50000]
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from benchmarks.common import REPO, machine, write_result
from curation import manifest, pipeline
from curation.config import CurationConfig
from curation.sources import SourceItem

COMPACT_EVERY = 500  # the flow's default `compact_every`


# --- the implementations before issue 15 (the baseline; not used by the project) -------------

def legacy_read_ledger(out_dir) -> tuple[pd.DataFrame, pd.DataFrame]:
    """`manifest.read_ledger` before issue 15: one `pq.read_table` per batch file."""
    video_parts, window_parts = [], []
    for order, path in enumerate(manifest._committed_batches(out_dir)):
        videos = pq.read_table(path).to_pandas()
        videos["_batch"] = order
        video_parts.append(videos)
        windows = pq.read_table(manifest._windows_file(path)).to_pandas()
        windows["_batch"] = order
        window_parts.append(windows)
    if not video_parts:
        return manifest.VIDEO_SCHEMA.empty_table().to_pandas(), manifest.WINDOW_KEY_SCHEMA.empty_table().to_pandas()
    videos = pd.concat(video_parts, ignore_index=True).drop_duplicates("video_id", keep="last")
    windows = pd.concat(window_parts, ignore_index=True)
    windows = windows.merge(videos[["video_id", "_batch"]], on=["video_id", "_batch"], how="inner")
    videos = videos.drop(columns="_batch").sort_values("video_id", kind="stable").reset_index(drop=True)
    windows = windows.drop(columns="_batch").sort_values(["video_id", "window_index"], kind="stable").reset_index(drop=True)
    return videos, windows


def legacy_done_video_ids(out_dir) -> set[str]:
    """`manifest.done_video_ids` before issue 15: one read per batch file, every call."""
    latest: dict[str, bool] = {}
    for path in manifest._committed_batches(out_dir):
        table = pq.read_table(path, columns=["video_id", "retryable"]).to_pandas()
        latest.update(zip(table.video_id, table.retryable.fillna(False).astype(bool)))
    return {video_id for video_id, retryable in latest.items() if not retryable}


def legacy_merge_windows_into_clips(windows: pd.DataFrame, videos: pd.DataFrame) -> pd.DataFrame:
    """`manifest.merge_windows_into_clips` before issue 15: a Python loop per (video, scene)."""
    passing = windows[windows["passed"]].sort_values(["video_id", "scene_index", "start_s"])
    clips: list[dict] = []
    for (video_id, scene_index), group in passing.groupby(["video_id", "scene_index"], sort=True):
        current: dict | None = None
        for row in group.itertuples(index=False):
            if current is not None and row.start_s <= current["end_s"] + 1e-6:
                current["end_s"] = max(current["end_s"], row.end_s)
                current["n_windows"] += 1
                continue
            if current is not None:
                clips.append(current)
            current = {"video_id": video_id, "label": row.label, "scene_index": int(scene_index),
                       "start_s": row.start_s, "end_s": row.end_s, "n_windows": 1}
        clips.append(current)
    frame = pd.DataFrame(clips, columns=["video_id", "label", "scene_index", "start_s", "end_s", "n_windows"])
    return manifest._clip_table(frame, videos)  # the unchanged tail, shared


def legacy_summarize(videos: pd.DataFrame, windows: pd.DataFrame, clips: pd.DataFrame, balanced: pd.DataFrame) -> dict:
    """`pipeline.summarize` before issue 15: a scan of the windows per class."""
    window_reasons: dict[str, int] = {}
    for reasons in windows.get("reasons", pd.Series(dtype=object)):
        for reason in filter(None, str(reasons).split(";")):
            window_reasons[reason] = window_reasons.get(reason, 0) + 1
    per_class = []
    for label in sorted(videos.label.dropna().unique()):
        class_windows = windows[windows.label == label]
        per_class.append({
            "label": label,
            "videos": int((videos.label == label).sum()),
            "videos_ok": int(((videos.label == label) & (videos.status == "ok")).sum()),
            "windows": len(class_windows),
            "windows_passed": int(class_windows["passed"].sum()) if len(class_windows) else 0,
            "window_pass_rate": round(float(class_windows["passed"].mean()), 4) if len(class_windows) else 0.0,
            "clips": int((clips.label == label).sum()),
            "kept_after_balancing": bool((balanced.label == label).any()),
        })
    return pipeline.run_totals(videos, windows, clips, balanced, per_class, window_reasons)  # the unchanged tail


# --- generated ledgers ----------------------------------------------------------------------

def generated_items(n_videos: int) -> list[SourceItem]:
    """VGGSound-like sources: `<ytid>_<start>` ids, 300 classes, a train/test split."""
    rng = np.random.default_rng(0)
    alphabet = np.array(list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"))
    items = []
    for i in range(n_videos):
        ytid = "".join(rng.choice(alphabet, 11))
        start = int(rng.integers(0, 300))
        label = f"class {int(rng.integers(0, 300)):03d}"
        video_id = f"{ytid}_{start:06d}"
        items.append(SourceItem(video_id=video_id, label=label, split="test" if i % 10 == 0 else "train",
                                path=f"media/{video_id}.mp4"))
    return items


def _video_rows(item: SourceItem, rng: np.random.Generator, retryable_failure: bool) -> tuple[dict, list[dict]]:
    base = {"video_id": item.video_id, "label": item.label, "split": item.split, "path": item.path, "url": None}
    if retryable_failure or rng.random() < 0.08:
        reason = "download_failed" if retryable_failure else str(rng.choice(["no_audio", "not_a_video", "too_long"]))
        return base | {"status": "failed", "reason": reason, "detail": "generated", "retryable": retryable_failure}, []
    duration = 10.0
    cuts = np.sort(rng.uniform(0.5, duration - 0.5, int(rng.choice([0, 1, 2], p=[0.6, 0.3, 0.1]))))
    bounds = [0.0, *cuts.tolist(), duration]
    windows, index = [], 0
    for scene, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:])):
        start = lo
        while start + 3.0 <= hi + 1e-9:
            windows.append({"video_id": item.video_id, "window_index": index, "scene_index": scene, "start_s": start,
                            "end_s": start + 3.0, "label": item.label,
                            "audio_max_amplitude": float(rng.uniform(0.0, 1.0)),
                            "audio_rms_db": float(rng.uniform(-60.0, 0.0)),
                            "pixel_diff_max": float(rng.uniform(0.0, 80.0)),
                            "pixel_diff_mean": float(rng.uniform(0.0, 45.0))})
            index += 1
            start += 0.5
    row = base | {"status": "ok", "retryable": False, "size_bytes": 1_500_000, "duration_s": duration, "fps": 25.0,
                  "width": 640, "height": 360, "video_codec": "h264", "has_audio": True, "audio_sample_rate": 44100,
                  "audio_channels": 2, "n_scenes": len(bounds) - 1, "n_windows": len(windows)}
    return row, windows


def generate_ledger(out_dir: Path, n_videos: int, batch_size: int = 8) -> list[SourceItem]:
    """Write a run's ledger for `n_videos` generated sources the way the pipeline does (batch
    keys, retries of retryable failures in a later batch); returns the sources."""
    rng = np.random.default_rng(1)
    items = generated_items(n_videos)
    retry: list[SourceItem] = []
    for batch in pipeline.make_batches(items, batch_size):
        results = []
        for item in batch:
            failing = rng.random() < 0.02
            results.append(_video_rows(item, rng, failing))
            if failing:
                retry.append(item)
        manifest.write_batch(out_dir, pipeline.batch_key(batch), [r[0] for r in results], [w for r in results for w in r[1]])
        if len(retry) >= batch_size:  # the rerun's batch of the retried videos: now they pass
            results = [_video_rows(item, rng, False) for item in retry]
            manifest.write_batch(out_dir, pipeline.batch_key(retry), [r[0] for r in results],
                                 [w for r in results for w in r[1]])
            retry = []
    return items


# --- measured steps (each in a fresh process) -----------------------------------------------

def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _step(step: str, out: Path, n_videos: int) -> dict:
    config = CurationConfig()
    batches = pipeline.make_batches(generated_items(n_videos), config.batch_size)
    n_batches = len(batches)
    start = time.perf_counter()
    if step == "check-old":
        legacy_done_video_ids(out)  # what each task paid, at the full ledger
        one = time.perf_counter() - start
        return {"seconds": one * n_batches / 2, "per_check_s": one, "extrapolated": True}
    if step == "check-new":
        pending = pipeline.pending_items([item for batch in batches for item in batch], out)
        once = time.perf_counter() - start
        for batch in batches:
            pipeline.pending_in_batch(batch, out)
        total = time.perf_counter() - start
        return {"seconds": total, "per_check_s": (total - once) / n_batches, "run_check_s": once, "pending": len(pending)}
    in_run = {}
    if step == "finalize-old":
        manifest.read_ledger, manifest.merge_windows_into_clips = legacy_read_ledger, legacy_merge_windows_into_clips
        pipeline.summarize = legacy_summarize
        manifest.compact_ledger = lambda *args, **kwargs: 0
    else:  # what the flow does during the run: compact every COMPACT_EVERY finished batches (oldest first)
        keys = [f.name.removesuffix(".videos.parquet") for f in manifest._committed_batches(out)]
        for i in range(0, len(keys) - COMPACT_EVERY + 1, COMPACT_EVERY):
            manifest.compact_batches(out, keys[i:i + COMPACT_EVERY])
        in_run = {"in_run_compaction_s": time.perf_counter() - start,
                  "files_left": len(manifest._committed_batches(out))}
        start = time.perf_counter()
    summary = pipeline.finalize(out, config)
    seconds = time.perf_counter() - start
    clips = pd.read_parquet(out / "clips.parquet")
    pd.to_pickle(clips, out / f"{step}.clips.pkl")
    return {"seconds": seconds, "windows": summary["windows"], "clips": summary["clips"]} | in_run


def _run_step(step: str, out: Path, n_videos: int) -> dict:
    result = subprocess.run([sys.executable, "-m", "benchmarks.ledger_scaling", "--step", step, "--ledger", str(out),
                             "--videos", str(n_videos)], cwd=REPO, check=True, capture_output=True, text=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def _kept_ledger(keep: Path, n_videos: int) -> Path:
    """DIR/<n_videos>: a generated ledger, written once (a `.complete` file marks it done)."""
    folder = keep / str(n_videos)
    if not (folder / ".complete").is_file():
        shutil.rmtree(folder, ignore_errors=True)
        generate_ledger(folder, n_videos)
        (folder / ".complete").touch()
    return folder


def _exponent(sizes: list[int], values: list[float]) -> str:
    if len(sizes) < 2 or min(values) <= 0:
        return "–"
    return f"{np.polyfit(np.log(sizes), np.log(values), 1)[0]:.2f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--videos", type=int, nargs="+", default=[1000, 10000, 50000])
    parser.add_argument("--old-max", type=int, default=50000, help="largest size to run the old finalize at")
    parser.add_argument("--step", choices=["check-old", "check-new", "finalize-old", "finalize-new"])
    parser.add_argument("--ledger", type=Path)
    parser.add_argument("--keep", type=Path, metavar="DIR",
                        help="keep generated ledgers in DIR/<videos> and reuse them (each measured on a copy)")
    parser.add_argument("--generate-only", action="store_true",
                        help="with --keep: only write the ledgers (e.g. under nice, before a measured run)")
    args = parser.parse_args(argv)
    if args.step:
        result = _step(args.step, args.ledger, args.videos[0])
        print(json.dumps(result | {"peak_rss_mb": _peak_rss_mb()}))
        return 0
    if args.generate_only:
        for n in args.videos:
            _kept_ledger(args.keep, n)
        return 0
    rows = []
    for n in args.videos:
        work = Path(tempfile.mkdtemp(prefix=f"ledger{n}-"))
        try:
            start = time.perf_counter()
            if args.keep:
                shutil.copytree(_kept_ledger(args.keep, n), work, dirs_exist_ok=True)
            else:
                generate_ledger(work, n)
            files = len(list(manifest.ledger_dir(work).glob("*.videos.parquet")))
            print(f"{n} videos: ledger of {files} batches written in {time.perf_counter() - start:.0f} s", flush=True)
            row = {"videos": n, "batches": files, "check-old": _run_step("check-old", work, n),
                   "check-new": _run_step("check-new", work, n)}
            if n <= args.old_max:
                row["finalize-old"] = _run_step("finalize-old", work, n)
            row["finalize-new"] = _run_step("finalize-new", work, n)
            row["rerun-check"] = _run_step("check-new", work, n)  # after compaction: one file
            if "finalize-old" in row:
                old, new = (pd.read_pickle(work / f"{s}.clips.pkl") for s in ("finalize-old", "finalize-new"))
                pd.testing.assert_frame_equal(old, new)  # identical clips, or no figure
                row["identical_clips"] = True
            print(json.dumps(row), flush=True)
            rows.append(row)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    parts = "" if args.videos == parser.get_default("videos") else "_" + "_".join(map(str, args.videos))
    write_result(f"ledger_scaling{parts}", _report(rows))
    return 0


def _fmt(step: dict | None, key: str = "seconds") -> str:
    if step is None:
        return "not run"
    value = step[key]
    return f"{value:,.1f}" if value >= 10 else f"{value:.3g}"


def _report(rows: list[dict]) -> str:
    sizes = [r["videos"] for r in rows]
    lines = [
        "| videos | batch files | resume checks, old (s) | new (s) | ratio | finalize old (s) | new (s) | ratio "
        "| peak RSS old (MB) | new (MB) | rerun check after compaction (s) | clips identical |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        old_f, new_f = r.get("finalize-old"), r["finalize-new"]
        ratio_f = f"{old_f['seconds'] / new_f['seconds']:.1f}×" if old_f else "–"
        lines.append(
            f"| {r['videos']:,} | {r['batches']:,} | {_fmt(r['check-old'])} (extrapolated) | {_fmt(r['check-new'])} "
            f"| {r['check-old']['seconds'] / r['check-new']['seconds']:.0f}× | {_fmt(old_f)} | {_fmt(new_f)} | {ratio_f} "
            f"| {_fmt(old_f, 'peak_rss_mb') if old_f else '–'} | {_fmt(new_f, 'peak_rss_mb')} "
            f"| {_fmt(r['rerun-check'], 'run_check_s')} | {'yes' if r.get('identical_clips') else 'not compared'} |")
    old_sizes = [r["videos"] for r in rows if "finalize-old" in r]
    lines += [
        "",
        f"Growth exponents (log-log fit over {', '.join(f'{s:,}' for s in sizes)} videos): resume checks over a run "
        f"old {_exponent(sizes, [r['check-old']['seconds'] for r in rows])}, "
        f"new {_exponent(sizes, [r['check-new']['seconds'] for r in rows])}; finalize old "
        f"{_exponent(old_sizes, [r['finalize-old']['seconds'] for r in rows if 'finalize-old' in r])}, new "
        f"{_exponent(sizes, [r['finalize-new']['seconds'] for r in rows])}; per-task check old "
        f"{_exponent(sizes, [r['check-old']['per_check_s'] for r in rows])}, new "
        f"{_exponent(sizes, [r['check-new']['per_check_s'] for r in rows])}.",
        "",
        f"Machine: {machine()}; the 2 cores were shared with other jobs while measuring (compare ratios).",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
