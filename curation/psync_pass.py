"""The PSync pass (DAG stage 3): score with a trained sync classifier the windows that passed an
earlier curation's filters, then filter on PSync and keep classes with enough clips (AVSync-AC).

It reuses that curation's ledger: nothing is downloaded again and no other metric is computed
again. Each video is decoded once more (the classifier needs its frames and sound), only its
passing windows are scored, and the video's rows are committed — with every column the earlier
run had plus `psync`, `sync_score`, `sync_offset_s` — to the PSync pass's own ledger
(`PASS_DIR/ledger/`, the same commit-marker protocol), so a killed pass resumes where it
stopped. `pipeline.finalize` then rebuilds windows / clips / avsync_ac / summary from it with
the earlier filters plus the PSync filter. Pure library (no Prefect); `flows/pipeline.py` wires it.

    config = psync_pass_config(load_config(...), checkpoint="runs/sync/final")
    for batch in make_batches(pending_videos(curated, out), config.batch_size):
        score_batch(batch, curated, out, config)
    summary = finalize(out, config)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pyarrow.parquet as pq

from curation import manifest
from curation.config import CurationConfig, FilterRule
from curation.media import MediaError, decode
from curation.metrics import VideoWindows, compute_metrics
from curation.metrics.neural_scoring import ModelWeightsMissing
from curation.pipeline import BatchReport, SetupError, batch_key, check_setup, failed_result, finalize, pending_items
from curation.sources import SourceItem
from curation.windows import Window

PSYNC_COLUMNS = ("psync", "sync_score", "sync_offset_s")
_BOOKKEEPING = ("passed", "reasons")

__all__ = ["PSYNC_COLUMNS", "finalize", "pending_videos", "psync_pass_config", "score_batch", "source_items"]


def psync_pass_config(base: CurationConfig, checkpoint: str | Path, min_quantile: float | None = 0.1,
                      minimum: float | None = None, fps: float = 12.0, device: str = "auto",
                      min_clips_per_class: int | None = None, batch_size: int | None = None) -> CurationConfig:
    """The earlier curation's config plus PSync: the metric (decoding at `fps`: ≥ 12 resolves its
    0.2 s shifts), its options, and a filter `psync ≥ minimum` (absolute) or `≥ the
    min_quantile of the scored windows`, reason `not_synchronized`."""
    if (minimum is None) == (min_quantile is None):
        raise SetupError("the PSync filter needs exactly one of an absolute minimum or a min_quantile")
    options = dict(base.metric_options) | {"psync": {"checkpoint": str(Path(checkpoint).resolve()), "device": device}}
    rule = FilterRule(metric="psync", min=minimum, min_quantile=min_quantile, low_reason="not_synchronized")
    update = {
        "media": base.media.model_copy(update={"fps": fps}),
        "metrics": [m for m in base.metrics if m != "psync"] + ["psync"],
        "metric_options": options,
        "filters": [f for f in base.filters if f.metric not in PSYNC_COLUMNS] + [rule],
    }
    if min_clips_per_class is not None:
        update["min_clips_per_class"] = min_clips_per_class
    if batch_size is not None:
        update["batch_size"] = batch_size
    config = base.model_copy(update=update)
    check_setup(config)  # a missing checkpoint or a bad filter fails here, before any video
    return config


def source_items(curated_dir: str | Path) -> list[SourceItem]:
    """Every video of the earlier run (its `videos.parquet`), as the pass's work items."""
    videos = pq.read_table(Path(curated_dir) / "videos.parquet", columns=["video_id", "label", "path", "split"])
    return [SourceItem(**row) for row in videos.to_pylist()]


def pending_videos(curated_dir: str | Path, out_dir: str | Path) -> list[SourceItem]:
    """The earlier run's videos without a final row in the pass's ledger yet."""
    return pending_items(source_items(curated_dir), out_dir)


def _earlier_rows(curated_dir: Path, video_ids: Sequence[str]) -> tuple[dict[str, dict], dict[str, list[dict]]]:
    """(video row by id, window rows with `passed` by id, in window order) of these videos in the
    earlier run's final tables (read through pyarrow: nulls stay None, ints stay ints)."""
    keep = [("video_id", "in", list(video_ids))]
    videos = {row["video_id"]: row for row in pq.read_table(curated_dir / "videos.parquet", filters=keep).to_pylist()}
    windows: dict[str, list[dict]] = {}
    for row in pq.read_table(curated_dir / "windows.parquet", filters=keep).to_pylist():
        windows.setdefault(row["video_id"], []).append(row)
    for rows in windows.values():
        rows.sort(key=lambda r: r["window_index"])
    return videos, windows


def _score_video(item: SourceItem, windows: list[dict], config: CurationConfig) -> list[dict] | tuple[str, str]:
    """The video's window rows with the PSync columns added (NaN where the window had failed
    before), or (reason, detail) when it cannot be decoded or scored."""
    passing = [Window(r["window_index"], r["scene_index"], r["start_s"], r["end_s"]) for r in windows if r["passed"]]
    scores: dict[int, dict[str, float]] = {}
    if passing:
        try:
            media = decode(item.path, config.media)
            options = {"psync": config.metric_options.get("psync", {})}
            columns = compute_metrics(["psync"], [VideoWindows(media, passing, item.label)], options)[0]
        except MediaError as exc:
            return exc.reason, f"decoding again for PSync: {exc.detail}"
        except (KeyboardInterrupt, ModelWeightsMissing):
            raise
        except Exception as exc:  # one bad video fails alone, with a row
            return "analysis_error", f"PSync: {type(exc).__name__}: {exc}"
        scores = {w.index: {c: float(columns[c][i]) for c in PSYNC_COLUMNS} for i, w in enumerate(passing)}
    nan = {c: float("nan") for c in PSYNC_COLUMNS}
    return [{k: v for k, v in r.items() if k not in _BOOKKEEPING} | scores.get(r["window_index"], nan) for r in windows]


def score_batch(items: Sequence[SourceItem], curated_dir: str | Path, out_dir: str | Path,
                config: CurationConfig) -> BatchReport:
    """Score one batch of the earlier run's videos and commit it to the pass's ledger.

    Videos that failed before keep their row; a video whose file can no longer be decoded
    becomes a failed row with that reason (retryable when the file is missing)."""
    if not items:
        return BatchReport("", 0, 0, 0)
    videos, windows = _earlier_rows(Path(curated_dir), [item.video_id for item in items])
    video_rows, window_rows = [], []
    for item in items:
        row = videos[item.video_id]
        if row["status"] == "ok":
            scored = _score_video(item, windows.get(item.video_id, []), config)
            if isinstance(scored, tuple):
                reason, detail = scored
                row = failed_result(item, reason, detail, item.path, retryable=reason == "missing_file").video_row
            else:
                window_rows += scored
        video_rows.append(row)
    manifest.write_batch(out_dir, batch_key(items), video_rows, window_rows)
    ok = sum(r["status"] == "ok" for r in video_rows)
    return BatchReport(batch_key(items), len(items), ok, len(window_rows))
