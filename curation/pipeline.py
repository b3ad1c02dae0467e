"""The curation steps for one video and one batch of videos, and the run's final manifests.

Pure library (no Prefect): `flows/curate.py` wires these into tasks; tests and benchmarks call
them directly. Per video: probe → decode once → scenes → windows → metrics. Per batch: download
what is remote, analyse each video, commit the batch to the ledger. At the end: filters,
clips, class balancing, summary.
"""

from __future__ import annotations

import hashlib
import logging
import re
import tempfile
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa

from curation import manifest, store
from curation.config import CurationConfig
from curation.filters import apply_filters
from curation.media import DecodedMedia, MediaError, decode, probe
from curation.metrics import VideoWindows, compute_metrics, get_metric, metric_names
from curation.metrics.neural_scoring import ModelWeightsMissing, preflight
from curation.scenes import SceneCutter
from curation.sources import SourceItem
from curation.windows import Window, scene_windows

log = logging.getLogger(__name__)

class SetupError(ValueError):
    """The config cannot work for any video (a typo, an unknown option): refused before the first."""


# Errors that must stop the run rather than become one failed video: interrupts and setup mistakes
# such as a neural metric's missing weights (every video would fail the same way, and a permanent
# row would hide the video from the rerun with the fixed setup).
_FATAL = (KeyboardInterrupt, ModelWeightsMissing, SetupError)
# Reasons a rerun should try again, though retrying within the task would not help.
_RETRY_ON_RERUN = {"out_of_memory"}


def check_setup(config: CurationConfig) -> None:
    """Refuse a config that would fail every video, before the first one is touched: unknown metric
    names, `metric_options` for a metric not in `metrics` or with keys it does not take, filters on
    columns no configured metric produces, missing weights. Raises `SetupError` (or
    `ModelWeightsMissing`) naming the typo and the valid names."""
    valid = metric_names()
    unknown = [name for name in config.metrics if name not in valid]
    if unknown:
        raise SetupError(f"unknown metric(s) {unknown} in metrics; valid names: {valid}")
    metrics = {name: get_metric(name) for name in config.metrics}
    for name, options in config.metric_options.items():
        if name not in metrics:
            raise SetupError(f"metric_options.{name}: {name!r} is not in metrics {list(config.metrics)}")
        accepted = metrics[name].options
        bogus = sorted(set(options) - set(accepted)) if accepted is not None else []
        if bogus:
            raise SetupError(f"metric_options.{name}: unknown option(s) {bogus}; {name} takes {list(accepted) or 'none'}")
    produced = sorted({column for metric in metrics.values() for column in metric.columns})
    for rule in config.filters:
        if rule.metric not in produced:
            raise SetupError(f"filter on {rule.metric!r}, but no configured metric produces it; "
                             f"columns of {list(config.metrics)}: {produced}")
    preflight(config.metrics, config.metric_options)


@dataclass(frozen=True)
class VideoResult:
    video_row: dict
    window_rows: list[dict]
    transient: bool = False  # a retry of the task, seconds later, may fix it (network, a file appearing)

    @property
    def ok(self) -> bool:
        return self.video_row["status"] == "ok"


@dataclass(frozen=True)
class BatchReport:
    batch_key: str
    n_videos: int
    n_ok: int
    n_windows: int
    n_retryable: int = 0  # failures a retry of the task may fix (network timeouts, 5xx, a missing file)


def _printable(text: str | None) -> str | None:
    """`text` as valid UTF-8 for the manifest: undecodable bytes of a file name (surrogate escapes)
    become `\\xff` escapes."""
    if text is None:
        return None
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _has_undecodable_name(item: SourceItem) -> bool:
    return any(text is not None and _printable(text) != text for text in (item.video_id, item.label, item.path, item.url))


def _base_row(item: SourceItem, path: str | None) -> dict:
    return {"video_id": _printable(item.video_id), "label": _printable(item.label), "split": _printable(item.split),
            "path": _printable(path), "url": _printable(item.url)}


def failed_result(item: SourceItem, reason: str, detail: str = "", path: str | None = None,
                  retryable: bool = False, transient: bool = False) -> VideoResult:
    """A failed row. `retryable`: a rerun tries the video again; `transient`: so does a retry of
    the task (implies retryable)."""
    row = _base_row(item, path) | {"status": "failed", "reason": reason, "detail": _printable(detail[:2000]),
                                   "retryable": retryable or transient}
    return VideoResult(row, [], transient)


@dataclass
class _Decoded:
    """A video that decoded fine and waits for its metrics."""

    item: SourceItem
    path: str
    video_row: dict
    windows: list[Window]
    media: DecodedMedia


def _decode_for_analysis(item: SourceItem, path: str, config: CurationConfig) -> _Decoded | VideoResult:
    """Probe, decode once (scene detection rides along), and window one video."""
    try:
        info = probe(path, config.media)
        cutter = SceneCutter(info.fps, config.scenes)
        media = decode(path, config.media, info=info, frame_sink=cutter, sink_width=config.scenes.frame_width)
        scenes = cutter.scenes(media.duration_s)
        windows = scene_windows(scenes, config.windows)
    except MediaError as exc:
        # A file missing for a moment (a sync, a slow mount) is worth another look.
        return failed_result(item, exc.reason, exc.detail, path, transient=exc.reason == "missing_file")
    except _FATAL:
        raise
    except Exception as exc:  # a bug, an unforeseen file quirk, MemoryError: one failed row, not a dead batch
        return _error_result(item, exc, path)
    video_row = _base_row(item, path) | {
        "status": "ok",
        "retryable": False,
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
    return _Decoded(item, path, video_row, windows, media)


def _window_rows(video: _Decoded, scores: dict) -> list[dict]:
    return [
        {
            "video_id": video.item.video_id,
            "window_index": w.index,
            "scene_index": w.scene_index,
            "start_s": w.start_s,
            "end_s": w.end_s,
            "label": video.item.label,
        }
        | {column: float(values[i]) for column, values in scores.items()}
        for i, w in enumerate(video.windows)
    ]


def _score(group: list[_Decoded], config: CurationConfig) -> list[VideoResult]:
    """Metrics for a group of decoded videos in one call (neural metrics batch across them).
    If the group call fails, videos are scored one by one so only the culprit fails."""
    def inputs(videos: list[_Decoded]) -> list[VideoWindows]:
        return [VideoWindows(v.media, v.windows, v.item.label) for v in videos]

    try:
        scores = compute_metrics(config.metrics, inputs(group), config.metric_options)
        return [VideoResult(v.video_row, _window_rows(v, s)) for v, s in zip(group, scores)]
    except _FATAL:
        raise
    except Exception as exc:
        if len(group) == 1:
            return [_error_result(group[0].item, exc, group[0].path)]
    return [_score([video], config)[0] for video in group]


def _error_result(item: SourceItem, exc: Exception, path: str | None) -> VideoResult:
    """The failed row of an unexpected error in one video's analysis."""
    reason = "out_of_memory" if isinstance(exc, MemoryError) else "analysis_error"
    log.error("analysing %s failed", _printable(item.video_id), exc_info=exc)
    return failed_result(item, reason, f"{type(exc).__name__}: {exc}", path, retryable=reason in _RETRY_ON_RERUN)


def analyze_videos(items_and_paths: Sequence[tuple[SourceItem, str]], config: CurationConfig,
                   memory_budget_mb: float = 1024.0) -> list[VideoResult]:
    """Analyse local video files: decode each once, then score windows in groups whose decoded
    frames fit in `memory_budget_mb`. Bad input becomes a failed result; nothing is raised."""
    results: dict[str, VideoResult] = {}
    group: list[_Decoded] = []
    group_bytes = 0
    items_and_paths = list(items_and_paths)

    def flush() -> None:
        nonlocal group, group_bytes
        for video, result in zip(group, _score(group, config)):
            results[video.item.video_id] = result
        group, group_bytes = [], 0

    for item, path in items_and_paths:
        decoded = _decode_for_analysis(item, path, config)
        if isinstance(decoded, VideoResult):
            results[item.video_id] = decoded
            continue
        group.append(decoded)
        group_bytes += decoded.media.frames.nbytes + decoded.media.audio.nbytes
        if group_bytes > memory_budget_mb * 1e6:
            flush()
    if group:
        flush()
    return [results[item.video_id] for item, _ in items_and_paths]


def batch_key(items: Sequence[SourceItem]) -> str:
    """Deterministic name of a batch in the ledger."""
    return _batch_key_of_ids([item.video_id for item in items])


def _batch_key_of_ids(video_ids: Sequence[str]) -> str:
    digest = hashlib.sha1("\n".join(sorted(video_ids)).encode("utf-8", "surrogateescape")).hexdigest()
    return digest[:16]


def media_folder(out_dir: str | Path, media_dir: str | Path | None = None) -> Path:
    """The local folder downloads go to: `media_dir`, else `<out_dir>/media` for a local run
    folder (a path or a file:// URL), else (an object store URL such as s3://…: decoding needs
    local files) the scratch folder `<system temp>/asva-media/<out_dir as a name>`, the same for
    every run on that URL on this machine, so a rerun finds what it downloaded before."""
    if media_dir is not None:
        return Path(media_dir)
    if not store.is_url(out_dir):
        return Path(out_dir) / "media"
    fs, path = store.resolve(out_dir)
    if store.is_local(fs):
        return Path(path) / "media"
    return Path(tempfile.gettempdir()) / "asva-media" / re.sub(r"[^A-Za-z0-9_.-]+", "_", str(out_dir)).strip("_")


def download_archive(out_dir: str | Path, media_dir: str | Path | None = None) -> frozenset[str]:
    """video_ids in yt-dlp's archive in `media_folder(out_dir, media_dir)`: read once per run (or
    shard), then each batch gets `archived_in(batch, archive)`, not the file (~200k lines at scale)."""
    from curation.sources.download import read_archive

    return frozenset(read_archive(media_folder(out_dir, media_dir)))


def archived_in(items: Iterable[SourceItem], archive: Collection[str]) -> frozenset[str]:
    """The ids of `items` in `archive`: what one batch task needs of the run's snapshot (small to pickle)."""
    return frozenset(item.video_id for item in items if item.video_id in archive)


def fetch_batch(items: Sequence[SourceItem], out_dir: str | Path, config: CurationConfig,
                media_dir: str | Path | None = None,
                archived: Collection[str] | None = None) -> dict[str, VideoResult | str]:
    """Local path per item, downloading remote ones (to `media_folder(out_dir, media_dir)`); a
    failed download maps to its failed result. `archived`: the items' ids in the download archive
    (`archived_in`); None reads the archive."""
    resolved: dict[str, VideoResult | str] = {item.video_id: item.path for item in items if item.path}
    remote = [item for item in items if not item.path]
    if remote:
        from curation.sources.download import download_items  # yt-dlp only when something is remote

        for item, result in zip(remote, download_items(remote, media_folder(out_dir, media_dir), config.download,
                                                        workers=config.download.workers, archived=archived)):
            if result.ok:
                resolved[item.video_id] = str(result.path)
            else:
                if result.reason == "unsafe_id":
                    resolved[item.video_id] = failed_result(item, "unsafe_id", "id or start outside [A-Za-z0-9_-] / a number")
                else:
                    resolved[item.video_id] = failed_result(item, "download_failed", result.reason or "",
                                                            retryable=result.retry_on_rerun, transient=result.transient)
    return resolved


def process_batch(items: Sequence[SourceItem], out_dir: str | Path, config: CurationConfig,
                  media_dir: str | Path | None = None, archived: Collection[str] | None = None) -> BatchReport:
    """Download (if needed), analyse and commit one batch of videos to the ledger in `out_dir` (a
    path or an fsspec URL; downloads go to `media_folder(out_dir, media_dir)`). `archived`: as for
    `fetch_batch`."""
    if not items:
        return BatchReport("", 0, 0, 0)
    # A name that is not UTF-8 cannot be written to the manifest faithfully: that file fails alone.
    unnamed = {item.video_id: failed_result(item, "non_utf8_name", "file name or label is not valid UTF-8; rename it",
                                            item.path) for item in items if _has_undecodable_name(item)}
    sources = unnamed | fetch_batch([item for item in items if item.video_id not in unnamed], out_dir, config,
                                    media_dir, archived)
    local = [(item, sources[item.video_id]) for item in items if not isinstance(sources[item.video_id], VideoResult)]
    analysed = {item.video_id: result for (item, _), result in zip(local, analyze_videos(local, config))}
    results = [analysed.get(item.video_id) or sources[item.video_id] for item in items]
    key = batch_key(items)
    manifest.write_batch(out_dir, key, [r.video_row for r in results], [w for r in results for w in r.window_rows])
    if config.download.keep_media == "none":  # committed: the analysis no longer needs the files
        # Not those a rerun retries: their archive line would make yt-dlp skip the missing file.
        remove_downloads([sources[item.video_id] for item, result in zip(items, results)
                          if not item.path and not result.video_row["retryable"]], out_dir, media_dir)
    return BatchReport(key, len(results), sum(r.ok for r in results), sum(len(r.window_rows) for r in results),
                       sum(r.transient for r in results))


def remove_downloads(paths: Iterable[str | VideoResult], out_dir: str | Path, media_dir: str | Path | None = None) -> int:
    """Delete downloaded source files (only files under `media_folder(out_dir, media_dir)`, never
    a local source folder's); returns how many were removed."""
    media = media_folder(out_dir, media_dir).resolve()
    removed = 0
    for path in paths:
        if isinstance(path, str) and Path(path).resolve().is_relative_to(media) and Path(path).is_file():
            Path(path).unlink()
            removed += 1
    return removed


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


def pending_in_batch(items: Sequence[SourceItem], out_dir: str | Path) -> list[SourceItem]:
    """The items of one batch (from `pending_items`) still without a final row, checked in the
    batch's own commit markers only (a retry of its task redoes just these; cost independent of
    the ledger's size)."""
    done = manifest.batch_done_ids(out_dir, _batch_key_of_ids, [item.video_id for item in items])
    return [item for item in items if item.video_id not in done]


def shard_of(video_id: str, n_shards: int) -> int:
    """The shard (0 … n_shards-1) a video belongs to: a stable hash of its id, so every shard run
    (on any machine, in any order of the source list) agrees on the split."""
    digest = hashlib.sha1(video_id.encode("utf-8", "surrogateescape")).digest()
    return int.from_bytes(digest[:8], "big") % n_shards


def shard_items(items: Iterable[SourceItem], shard: int, n_shards: int) -> list[SourceItem]:
    """The items of shard `shard` of `n_shards` (source order kept); every item is in exactly one shard."""
    if n_shards < 1 or not 0 <= shard < n_shards:
        raise ValueError(f"shard {shard} of {n_shards}: need n_shards >= 1 and 0 <= shard < n_shards")
    return [item for item in items if shard_of(item.video_id, n_shards) == shard]


def make_batches(items: Sequence[SourceItem], batch_size: int) -> list[list[SourceItem]]:
    return [list(items[i : i + batch_size]) for i in range(0, len(items), batch_size)]


def finalize(out_dir: str | Path, config: CurationConfig, media_dir: str | Path | None = None) -> dict:
    """Rebuild the final manifests from the ledger, apply filters, merge clips, balance classes.

    Returns the run summary (also written to summary.json).
    """
    videos, windows = manifest.read_ledger(out_dir)
    manifest.compact_ledger(out_dir, videos, windows)  # the next run's resume check reads one file
    if len(windows):
        windows, bounds = apply_filters(windows, config.filters)
    else:
        windows = windows.assign(passed=pd.Series(dtype=bool), reasons=pd.Series(dtype=object))
        bounds = []
    clips = manifest.merge_windows_into_clips(windows, videos)
    balanced = manifest.balance_classes(clips, config.min_clips_per_class)
    if config.download.keep_media == "passing":
        removed = remove_downloads(videos.loc[~videos.video_id.isin(clips.video_id), "path"].dropna(), out_dir,
                                   media_dir)
        log.info("keep_media=passing: removed %d downloaded sources without a clip", removed)
    manifest.write_parquet_atomic(pa.Table.from_pandas(videos, schema=manifest.VIDEO_SCHEMA, preserve_index=False),
                                  store.join(out_dir, "videos.parquet"))
    manifest.write_parquet_atomic(windows, store.join(out_dir, "windows.parquet"))
    manifest.write_parquet_atomic(clips, store.join(out_dir, "clips.parquet"))
    manifest.write_parquet_atomic(balanced, store.join(out_dir, "avsync_ac.parquet"))
    summary = summarize(videos, windows, clips, balanced)
    summary["thresholds"] = [b.__dict__ for b in bounds]
    manifest.write_json_atomic(summary, store.join(out_dir, "summary.json"))
    return summary


def summarize(videos: pd.DataFrame, windows: pd.DataFrame, clips: pd.DataFrame, balanced: pd.DataFrame) -> dict:
    """Counts and pass rates of a run, overall and per class (one group-by per table, not a scan
    per class: 300 classes x 2.3M windows at VGGSound scale)."""
    reasons = windows.get("reasons", pd.Series(dtype=object)).astype(object)
    window_reasons = {str(k): int(v) for k, v in
                      reasons[reasons.fillna("").astype(bool)].str.split(";").explode().value_counts().items() if k}
    labels = sorted(videos.label.dropna().unique())
    per_video = videos.groupby("label").agg(videos=("status", "size"), videos_ok=("status", lambda s: int((s == "ok").sum())))
    if len(windows):
        per_window = windows.groupby("label").agg(windows=("passed", "size"), windows_passed=("passed", "sum"),
                                                  window_pass_rate=("passed", "mean"))
    else:
        per_window = pd.DataFrame(columns=["windows", "windows_passed", "window_pass_rate"])
    clip_counts = clips.groupby("label").size() if len(clips) else pd.Series(dtype=int)
    kept = set(balanced.label)
    per_class = []
    for label in labels:
        n_windows = int(per_window["windows"].get(label, 0))
        per_class.append({
            "label": label,
            "videos": int(per_video["videos"].get(label, 0)),
            "videos_ok": int(per_video["videos_ok"].get(label, 0)),
            "windows": n_windows,
            "windows_passed": int(per_window["windows_passed"].get(label, 0)) if n_windows else 0,
            "window_pass_rate": round(float(per_window["window_pass_rate"][label]), 4) if n_windows else 0.0,
            "clips": int(clip_counts.get(label, 0)),
            "kept_after_balancing": label in kept,
        })
    return run_totals(videos, windows, clips, balanced, per_class, window_reasons)


def run_totals(videos: pd.DataFrame, windows: pd.DataFrame, clips: pd.DataFrame, balanced: pd.DataFrame,
               per_class: list[dict], window_reasons: dict[str, int]) -> dict:
    """The summary dict around the per-class rows (`summarize`)."""
    failed = videos[videos.status != "ok"]
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
                 on_batch: Callable[[BatchReport, int, int], None] | None = None,
                 media_dir: str | Path | None = None) -> dict:
    """The whole curation without an orchestrator: pending batches in order, then finalize.

    Used by benchmarks and tests; `flows/curate.py` runs the same steps as Prefect tasks.
    """
    check_setup(config)
    batches = make_batches(pending_items(items, out_dir), config.batch_size)
    archive = download_archive(out_dir, media_dir)
    for done, batch in enumerate(batches, start=1):
        report = process_batch(batch, out_dir, config, media_dir, archived_in(batch, archive))
        if on_batch:
            on_batch(report, done, len(batches))
    return finalize(out_dir, config, media_dir)
