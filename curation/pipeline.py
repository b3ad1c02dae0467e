"""The curation steps for one video and one batch of videos, and the run's final manifests.

Pure library (no Prefect): `flows/curate.py` wires these into tasks; tests and benchmarks call
them directly. Per video: probe → decode once → scenes → windows → metrics. Per batch: download
what is remote, analyse each video, commit the batch to the ledger. At the end: filters,
clips, class balancing, summary.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa

from curation import manifest
from curation.config import CurationConfig
from curation.filters import apply_filters
from curation.media import MediaError, decode, probe
from curation.metrics import compute_metrics
from curation.scenes import SceneCutter
from curation.sources import SourceItem
from curation.windows import scene_windows

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class VideoResult:
    video_row: dict
    window_rows: list[dict]

    @property
    def ok(self) -> bool:
        return self.video_row["status"] == "ok"


@dataclass(frozen=True)
class BatchReport:
    batch_key: str
    n_videos: int
    n_ok: int
    n_windows: int


def _base_row(item: SourceItem, path: str | None) -> dict:
    return {"video_id": item.video_id, "label": item.label, "split": item.split, "path": path, "url": item.url}


def failed_result(item: SourceItem, reason: str, detail: str = "", path: str | None = None,
                  retryable: bool = False) -> VideoResult:
    row = _base_row(item, path) | {"status": "failed", "reason": reason, "detail": detail[:2000], "retryable": retryable}
    return VideoResult(row, [])


def analyze_video(item: SourceItem, path: str, config: CurationConfig) -> VideoResult:
    """Probe, decode once, cut scenes, window and score one local video file.

    Any problem with the file becomes a failed result with a reason; nothing is raised for
    bad input.
    """
    try:
        info = probe(path, config.media)
        cutter = SceneCutter(info.fps, config.scenes)
        media = decode(path, config.media, info=info, frame_sink=cutter)
        scenes = cutter.scenes(media.duration_s)
        windows = scene_windows(scenes, config.windows)
        scores = compute_metrics(config.metrics, media, windows)
    except MediaError as exc:
        return failed_result(item, exc.reason, exc.detail, path)
    except (MemoryError, KeyboardInterrupt):
        raise
    except Exception as exc:  # a bug or an unforeseen file quirk: one failed row, not a dead run
        log.exception("analysis of %s failed", item.video_id)
        return failed_result(item, "analysis_error", f"{type(exc).__name__}: {exc}", path)
    video_row = _base_row(item, path) | {
        "status": "ok",
        "size_bytes": info.size_bytes,
        "duration_s": info.duration_s,
        "fps": info.fps,
        "width": info.width,
        "height": info.height,
        "video_codec": info.video_codec,
        "has_audio": info.has_audio,
        "audio_sample_rate": info.audio_sample_rate,
        "audio_channels": info.audio_channels,
        "n_scenes": len(scenes),
        "n_windows": len(windows),
    }
    window_rows = [
        {
            "video_id": item.video_id,
            "window_index": w.index,
            "scene_index": w.scene_index,
            "start_s": w.start_s,
            "end_s": w.end_s,
            "label": item.label,
        }
        | {column: float(values[i]) for column, values in scores.items()}
        for i, w in enumerate(windows)
    ]
    return VideoResult(video_row, window_rows)


def batch_key(items: Sequence[SourceItem]) -> str:
    """Deterministic name of a batch in the ledger."""
    digest = hashlib.sha1("\n".join(sorted(item.video_id for item in items)).encode()).hexdigest()
    return digest[:16]


def fetch_batch(items: Sequence[SourceItem], out_dir: Path, config: CurationConfig) -> dict[str, VideoResult | str]:
    """Local path per item, downloading remote ones; a failed download maps to its failed result."""
    resolved: dict[str, VideoResult | str] = {item.video_id: item.path for item in items if item.path}
    remote = [item for item in items if not item.path]
    if remote:
        from curation.sources.download import download_items  # yt-dlp only when something is remote

        for item, result in zip(remote, download_items(remote, out_dir / "media", config.download)):
            if result.ok:
                resolved[item.video_id] = str(result.path)
            else:
                reason = "unsafe_id" if result.reason == "unsafe_id" else "download_failed"
                resolved[item.video_id] = failed_result(item, reason, result.reason or "", retryable=result.transient)
    return resolved


def process_batch(items: Sequence[SourceItem], out_dir: str | Path, config: CurationConfig) -> BatchReport:
    """Download (if needed), analyse and commit one batch of videos to the ledger."""
    out_dir = Path(out_dir)
    sources = fetch_batch(items, out_dir, config)
    results = []
    for item in items:
        source = sources[item.video_id]
        results.append(source if isinstance(source, VideoResult) else analyze_video(item, source, config))
    key = batch_key(items)
    manifest.write_batch(out_dir, key, [r.video_row for r in results], [w for r in results for w in r.window_rows])
    return BatchReport(key, len(results), sum(r.ok for r in results), sum(len(r.window_rows) for r in results))


def pending_items(items: Iterable[SourceItem], out_dir: str | Path) -> list[SourceItem]:
    """Items not yet committed to the ledger (failures that a retry may fix count as pending)."""
    done = manifest.done_video_ids(out_dir, include_retryable=False)
    seen: set[str] = set()
    pending = []
    for item in items:
        if item.video_id not in done and item.video_id not in seen:
            pending.append(item)
        seen.add(item.video_id)
    return pending


def make_batches(items: Sequence[SourceItem], batch_size: int) -> list[list[SourceItem]]:
    return [list(items[i : i + batch_size]) for i in range(0, len(items), batch_size)]


def finalize(out_dir: str | Path, config: CurationConfig) -> dict:
    """Rebuild the final manifests from the ledger, apply filters, merge clips, balance classes.

    Returns the run summary (also written to summary.json).
    """
    out_dir = Path(out_dir)
    videos, windows = manifest.read_ledger(out_dir)
    if len(windows):
        windows, bounds = apply_filters(windows, config.filters)
    else:
        windows = windows.assign(passed=pd.Series(dtype=bool), reasons=pd.Series(dtype=object))
        bounds = []
    clips = manifest.merge_windows_into_clips(windows, videos)
    balanced = manifest.balance_classes(clips, config.min_clips_per_class)
    manifest.write_parquet_atomic(pa.Table.from_pandas(videos, schema=manifest.VIDEO_SCHEMA, preserve_index=False),
                                  out_dir / "videos.parquet")
    manifest.write_parquet_atomic(windows, out_dir / "windows.parquet")
    manifest.write_parquet_atomic(clips, out_dir / "clips.parquet")
    manifest.write_parquet_atomic(balanced, out_dir / "avsync_ac.parquet")
    summary = summarize(videos, windows, clips, balanced)
    summary["thresholds"] = [b.__dict__ for b in bounds]
    manifest.write_json_atomic(summary, out_dir / "summary.json")
    return summary


def summarize(videos: pd.DataFrame, windows: pd.DataFrame, clips: pd.DataFrame, balanced: pd.DataFrame) -> dict:
    """Counts and pass rates of a run, overall and per class."""
    failed = videos[videos.status != "ok"]
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
    n_windows = len(windows)
    return {
        "videos": len(videos),
        "videos_ok": int((videos.status == "ok").sum()),
        "videos_failed_by_reason": {k: int(v) for k, v in failed.reason.value_counts().sort_index().items()},
        "windows": n_windows,
        "windows_passed": int(windows["passed"].sum()) if n_windows else 0,
        "window_pass_rate": round(float(windows["passed"].mean()), 4) if n_windows else 0.0,
        "windows_failed_by_reason": dict(sorted(window_reasons.items())),
        "clips": len(clips),
        "clip_seconds": round(float(clips.duration_s.sum()), 2) if len(clips) else 0.0,
        "avsync_ac_clips": len(balanced),
        "avsync_ac_classes": int(balanced.label.nunique()),
        "per_class": per_class,
    }


def run_curation(items: Sequence[SourceItem], out_dir: str | Path, config: CurationConfig,
                 on_batch: Callable[[BatchReport, int, int], None] | None = None) -> dict:
    """The whole curation without an orchestrator: pending batches in order, then finalize.

    Used by benchmarks and tests; `flows/curate.py` runs the same steps as Prefect tasks.
    """
    batches = make_batches(pending_items(items, out_dir), config.batch_size)
    for done, batch in enumerate(batches, start=1):
        report = process_batch(batch, out_dir, config)
        if on_batch:
            on_batch(report, done, len(batches))
    return finalize(out_dir, config)
