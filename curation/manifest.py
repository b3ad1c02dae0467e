"""Parquet manifests: the per-batch ledger, the final tables, and windows merged into clips.

Layout of a run's output folder, a local path or an fsspec URL such as `s3://bucket/prefix`
(schemas in docs/manifests.md):

    ledger/<batch>.windows.parquet   windows of one batch of videos, with their scores
    ledger/<batch>.videos.parquet    one row per video of that batch; written LAST, so its
                                     presence is the batch's commit marker; its footer holds
                                     the commit stamp that orders the ledger
    videos.parquet  windows.parquet  clips.parquet  avsync_ac.parquet  summary.json

Every file is written whole or not at all (`curation.store.atomic_writer`: temporary file and
rename on a disk, one upload on an object store), so a killed run leaves either a complete file
or none. The final tables are rebuilt from the ledger, keyed by `video_id` (and
`window_index`), so reruns never duplicate or lose rows.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import fsspec
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from curation import store

log = logging.getLogger(__name__)

VIDEO_SCHEMA = pa.schema(
    [
        ("video_id", pa.string()),
        ("label", pa.string()),
        ("split", pa.string()),
        ("path", pa.string()),
        ("url", pa.string()),
        ("status", pa.string()),  # "ok" | "failed"
        ("reason", pa.string()),  # short code when failed, e.g. "no_audio", "download_failed"
        ("detail", pa.string()),  # the underlying message (yt-dlp / FFmpeg error text)
        ("retryable", pa.bool_()),  # failed for a reason a rerun may fix (network timeout, 5xx)
        ("size_bytes", pa.int64()),
        ("duration_s", pa.float64()),
        ("fps", pa.float64()),
        ("width", pa.int32()),
        ("height", pa.int32()),
        ("video_codec", pa.string()),
        ("has_audio", pa.bool_()),
        ("audio_sample_rate", pa.int32()),
        ("audio_channels", pa.int32()),
        ("n_scenes", pa.int32()),
        ("n_windows", pa.int32()),
    ]
)

# Windows carry these columns, then one float64 column per metric output.
WINDOW_KEY_SCHEMA = pa.schema(
    [
        ("video_id", pa.string()),
        ("window_index", pa.int32()),
        ("scene_index", pa.int32()),
        ("start_s", pa.float64()),
        ("end_s", pa.float64()),
        ("label", pa.string()),
    ]
)

CLIP_COLUMNS = ["video_id", "clip_index", "label", "split", "path", "scene_index", "start_s", "end_s", "duration_s", "n_windows"]


def write_parquet_atomic(table: pa.Table | pd.DataFrame, path: str | os.PathLike) -> None:
    """Write `table` to `path` (a path or an fsspec URL) as a whole or not at all (`store.atomic_writer`)."""
    if isinstance(table, pd.DataFrame):
        table = pa.Table.from_pandas(table, preserve_index=False)
    with store.atomic_writer(*store.resolve(path)) as handle:
        pq.write_table(table, handle)


def write_json_atomic(data: dict, path: str | os.PathLike) -> None:
    """`data` as indented JSON at `path` (a path or an fsspec URL), whole or not at all."""
    text = json.dumps(data, indent=2, sort_keys=True)
    with store.atomic_writer(*store.resolve(path)) as handle:
        handle.write(text.encode("utf-8"))


def videos_table(rows: Iterable[dict]) -> pa.Table:
    rows = list(rows)
    return pa.Table.from_pylist([{name: row.get(name) for name in VIDEO_SCHEMA.names} for row in rows], schema=VIDEO_SCHEMA)


def windows_table(rows: Iterable[dict]) -> pa.Table:
    rows = list(rows)
    metric_columns = sorted({key for row in rows for key in row} - set(WINDOW_KEY_SCHEMA.names))
    schema = pa.schema(list(WINDOW_KEY_SCHEMA) + [(name, pa.float64()) for name in metric_columns])
    return pa.Table.from_pylist([{name: row.get(name) for name in schema.names} for row in rows], schema=schema)


# The commit stamp: when a batch committed (ns since the epoch), in its videos file's Parquet
# footer. The ledger is ordered by it (a later row of a video wins), not by modification times,
# which an object store neither lets us set nor keeps finer than 1 s.
STAMP_KEY = b"asva.committed_ns"
_stamp_lock = threading.Lock()
_last_stamp = 0


def commit_stamp() -> int:
    """Now in ns, strictly increasing within this process (two commits in one clock tick keep their
    order). Between machines the order is their clocks': it only decides between two rows of one
    video, and a video is committed by one run (one shard) at a time."""
    global _last_stamp
    with _stamp_lock:
        _last_stamp = max(time.time_ns(), _last_stamp + 1)
        return _last_stamp


def ledger_dir(out_dir: str | os.PathLike) -> Path:
    """The ledger folder of a local run folder (tools and tests; the library also takes URLs)."""
    return Path(out_dir) / "ledger"


def _ledger(out_dir: str | os.PathLike) -> tuple[fsspec.AbstractFileSystem, PurePosixPath]:
    """(filesystem, ledger folder in it) of a run folder given as a path or an fsspec URL."""
    fs, root = store.resolve(out_dir)
    return fs, PurePosixPath(root) / "ledger"


def _write_table(fs: fsspec.AbstractFileSystem, path: PurePosixPath, table: pa.Table) -> None:
    with store.atomic_writer(fs, str(path)) as handle:
        pq.write_table(table, handle)


def _stamped(table: pa.Table, stamp: int) -> pa.Table:
    return table.replace_schema_metadata({**(table.schema.metadata or {}), STAMP_KEY: str(stamp).encode()})


def write_batch(out_dir: str | os.PathLike, batch_key: str, video_rows: list[dict], window_rows: list[dict]) -> None:
    """Commit one batch to the ledger: windows first, videos (the commit marker, stamped) last."""
    fs, ledger = _ledger(out_dir)
    _write_table(fs, ledger / f"{batch_key}.windows.parquet", windows_table(window_rows))
    _write_table(fs, ledger / f"{batch_key}.videos.parquet", _stamped(videos_table(video_rows), commit_stamp()))


def _markers(out_dir: str | os.PathLike) -> tuple[fsspec.AbstractFileSystem, list[PurePosixPath]]:
    """The ledger's videos files (committed batches), in name order."""
    fs, ledger = _ledger(out_dir)
    return fs, [PurePosixPath(p) for p in store.list_files(fs, str(ledger), ".videos.parquet")]


def _commit_order(fs: fsspec.AbstractFileSystem, files: list[PurePosixPath]) -> list[tuple[int, PurePosixPath]]:
    """(stamp, file) of the videos files `files`, oldest first (ties: by name). A file from before
    stamps existed is dated by its modification time, as the ledger was ordered then."""
    arrow_fs = store.arrow_filesystem(fs)

    def stamp(path: PurePosixPath) -> int:
        metadata = pq.read_metadata(str(path), filesystem=arrow_fs).metadata or {}
        return int(metadata[STAMP_KEY]) if STAMP_KEY in metadata else store.modified_ns(fs, str(path))

    if store.is_local(fs):  # ~0.15 ms a file from the page cache: threads would only add overhead
        stamps = [stamp(path) for path in files]
    else:  # one request a file: many in flight
        with ThreadPoolExecutor(max_workers=max(1, min(16, len(files)))) as pool:
            stamps = list(pool.map(stamp, files))
    return sorted(zip(stamps, files), key=lambda pair: (pair[0], pair[1].name))


def _committed_batches(out_dir: str | os.PathLike) -> list[PurePosixPath]:
    """Videos files of committed batches, oldest commit first (later ones win on duplicate ids)."""
    fs, files = _markers(out_dir)
    return [path for _, path in _commit_order(fs, files)]


def _windows_file(videos_file: PurePosixPath) -> PurePosixPath:
    return videos_file.with_name(videos_file.name.replace(".videos.parquet", ".windows.parquet"))


def _read_files(fs: fsspec.AbstractFileSystem, files: list[PurePosixPath], columns: list[str] | None = None,
                schema: pa.Schema | None = None) -> pa.Table:
    """The rows of `files` in one `pyarrow.dataset` scan, plus `_batch`: the file's position in
    `files` (int32). Without `schema`, schemas are unified over all files (a batch without windows
    has no metric columns; they read as nulls there), which reads every footer once more."""
    import pyarrow.dataset as ds

    factory = ds.FileSystemDatasetFactory(store.arrow_filesystem(fs), [str(f) for f in files], ds.ParquetFileFormat())
    if schema is None and columns is None:
        schema = factory.inspect(fragments=None)
    dataset = factory.finish(schema)
    names = columns if columns is not None else dataset.schema.names
    table = dataset.to_table(columns=[*names, "__filename"])
    order = {str(f): i for i, f in enumerate(files)}
    filenames = table.column("__filename").dictionary_encode().combine_chunks()
    batch = pa.array([order[name] for name in filenames.dictionary.to_pylist()], pa.int32()).take(filenames.indices)
    return table.drop_columns(["__filename"]).append_column("_batch", batch)


def _latest_per_video(videos: pd.DataFrame) -> pd.DataFrame:
    """The row of each video from its latest batch (`_batch` is the commit order, oldest first)."""
    return videos.sort_values("_batch", kind="stable").drop_duplicates("video_id", keep="last")


def done_video_ids(out_dir: str | os.PathLike, include_retryable: bool = False) -> set[str]:
    """Ids whose latest committed row is final: ok, or failed for a permanent reason.

    Reads every committed batch in one scan: call it once per run (see `batch_done_ids` for the
    check a batch task makes)."""
    fs, files = _markers(out_dir)
    if not files:
        return set()
    files = [path for _, path in _commit_order(fs, files)]
    latest = _latest_per_video(_read_files(fs, files, ["video_id", "retryable"]).to_pandas())
    final = latest if include_retryable else latest[~latest["retryable"].fillna(False).astype(bool)]
    return set(final["video_id"])


def batch_done_ids(out_dir: str | os.PathLike, key_of: Callable[[Sequence[str]], str], video_ids: Sequence[str]) -> set[str]:
    """Of one batch's `video_ids`, those with a final row in the batch's OWN commit markers.

    A batch commits under `key_of(ids)`; a retry of it commits what was left under the key of the
    remaining ids, and so on. Following that chain reads one small file per earlier attempt and
    never the rest of the ledger, so the check costs the same in batch 1 and batch 25,000."""
    fs, ledger = _ledger(out_dir)
    done: set[str] = set()
    remaining = list(video_ids)
    while remaining:
        try:
            marker = store.read_bytes(fs, str(ledger / f"{key_of(remaining)}.videos.parquet"))
        except FileNotFoundError:
            break
        rows = pq.read_table(pa.BufferReader(marker), columns=["video_id", "retryable"]).to_pandas()
        final = set(rows.loc[~rows["retryable"].fillna(False).astype(bool), "video_id"]) & set(remaining)
        if not final:
            break
        done |= final
        remaining = [video_id for video_id in remaining if video_id not in final]
    return done


def read_ledger(out_dir: str | os.PathLike) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(videos, windows) of all committed batches; for a video processed more than once, the
    latest batch's rows win, its video row and its windows together.

    One `pyarrow.dataset` scan per table (not a read per file): 200k videos in ~25k batch files."""
    fs, files = _markers(out_dir)
    return _read_batches(fs, [path for _, path in _commit_order(fs, files)])


def _read_batches(fs: fsspec.AbstractFileSystem, files: list[PurePosixPath]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """`read_ledger` over the committed batches `files` (videos files, oldest commit first)."""
    if not files:
        empty_videos = VIDEO_SCHEMA.empty_table().to_pandas()
        return empty_videos, WINDOW_KEY_SCHEMA.empty_table().to_pandas()
    videos = _latest_per_video(_read_files(fs, files, schema=VIDEO_SCHEMA).to_pandas())  # one fixed schema
    windows = _read_files(fs, [_windows_file(f) for f in files]).to_pandas()
    windows = windows.merge(videos[["video_id", "_batch"]], on=["video_id", "_batch"], how="inner")
    videos = videos.drop(columns="_batch").sort_values("video_id", kind="stable").reset_index(drop=True)
    windows = windows.drop(columns="_batch").sort_values(["video_id", "window_index"], kind="stable").reset_index(drop=True)
    return videos, windows


def compact_ledger(out_dir: str | os.PathLike, videos: pd.DataFrame | None = None,
                   windows: pd.DataFrame | None = None) -> int:
    """Replace the committed per-batch files with one batch holding the latest rows of each video.

    Same commit protocol as any batch (windows written first, the videos marker last, both atomic);
    the old files are deleted only after, markers first. A kill at any point leaves a ledger that
    reads the same: the compacted batch is the newest, and it holds exactly the rows that won.
    `videos`/`windows`: `read_ledger`'s result when the caller has it. Returns the number of batch
    files replaced (0: nothing to do)."""
    fs, files = _markers(out_dir)
    if len(files) <= 1:
        return 0
    ordered = _commit_order(fs, files)
    if videos is None or windows is None:
        videos, windows = _read_batches(fs, [path for _, path in ordered])
    _replace_with_one_batch(out_dir, ordered, videos, windows)
    return len(files)


def compact_batches(out_dir: str | os.PathLike, keys: Iterable[str]) -> int:
    """Compact the committed batches named `keys` (those this run committed) into one batch, while
    other tasks go on committing: a 200k-video run then leaves tens of files, not 25,000, for
    finalize to read. Safe alongside other writers because the compacted batch takes the place
    in the ledger's order of the newest batch it replaces (its commit stamp), and a run's
    batches hold videos no concurrent writer touches (distinct videos per run and per shard).
    Returns the number of batches replaced."""
    fs, files = _markers(out_dir)
    names = {f"{key}.videos.parquet" for key in keys}
    files = [path for path in files if path.name in names]
    if len(files) <= 1:
        return 0
    ordered = _commit_order(fs, files)
    videos, windows = _read_batches(fs, [path for _, path in ordered])
    _replace_with_one_batch(out_dir, ordered, videos, windows)
    return len(files)


def _replace_with_one_batch(out_dir: str | os.PathLike, ordered: list[tuple[int, PurePosixPath]],
                            videos: pd.DataFrame, windows: pd.DataFrame) -> None:
    """Commit (videos, windows), the latest rows of the batches `ordered` ((stamp, file), oldest
    first), as one batch stamped like the newest of them, then delete those files (markers first)."""
    fs, ledger = _ledger(out_dir)
    key = "compacted-" + secrets.token_hex(6)
    metric_columns = [c for c in windows.columns if c not in WINDOW_KEY_SCHEMA.names]
    window_schema = pa.schema(list(WINDOW_KEY_SCHEMA) + [(name, pa.float64()) for name in metric_columns])
    _write_table(fs, ledger / f"{key}.windows.parquet",
                 pa.Table.from_pandas(windows[window_schema.names], schema=window_schema, preserve_index=False))
    # The newest replaced batch's stamp: a batch committed meanwhile (newer) still wins over it.
    newest = ordered[-1][0]
    _write_table(fs, ledger / f"{key}.videos.parquet", _stamped(
        pa.Table.from_pandas(videos[VIDEO_SCHEMA.names], schema=VIDEO_SCHEMA, preserve_index=False), newest))
    for _, path in ordered:
        store.remove(fs, str(path))
        store.remove(fs, str(_windows_file(path)))


def merge_windows_into_clips(windows: pd.DataFrame, videos: pd.DataFrame) -> pd.DataFrame:
    """Union the passing windows of each scene of each video into contiguous clips.

    Overlapping or touching windows of the same scene merge; windows of different scenes never
    do, so a clip never spans a cut (paper §3.1: "merge all 3-second clips from each video").
    Vectorised: in start order, a window opens a new clip when it starts after the furthest end
    of the earlier windows of its scene (+1 µs).
    """
    passing = windows[windows["passed"]].sort_values(["video_id", "scene_index", "start_s"])
    video_id = passing["video_id"].to_numpy()
    scene = passing["scene_index"].to_numpy()
    start = passing["start_s"].to_numpy(dtype=np.float64)
    end = passing["end_s"].to_numpy(dtype=np.float64)
    new_scene = np.ones(len(passing), dtype=bool)
    if len(passing):
        new_scene[1:] = (video_id[1:] != video_id[:-1]) | (scene[1:] != scene[:-1])
    scene_id = np.cumsum(new_scene)
    # Furthest end among the earlier windows of the same scene: the end of the clip being built.
    reach = pd.Series(end).groupby(scene_id).cummax().to_numpy()
    reach_before = np.empty_like(reach)
    if len(passing):
        reach_before[0], reach_before[1:] = np.nan, reach[:-1]
    opens = new_scene | ~(start <= reach_before + 1e-6)
    clip_id = np.cumsum(opens) - 1
    first = np.flatnonzero(opens)
    return _clip_table(pd.DataFrame({
        "video_id": video_id[first],
        "label": passing["label"].to_numpy()[first],
        "scene_index": scene[first],
        "start_s": start[first],
        "end_s": np.maximum.reduceat(end, first) if len(first) else end[:0],
        "n_windows": np.bincount(clip_id, minlength=len(first)) if len(first) else np.zeros(0, dtype=np.int64),
    }), videos)


def _clip_table(frame: pd.DataFrame, videos: pd.DataFrame) -> pd.DataFrame:
    """Clips (one row per clip, in video/scene/start order) with their per-video index, duration,
    split and path: the `CLIP_COLUMNS` table."""
    info = videos.set_index("video_id")[["split", "path"]]
    frame["clip_index"] = frame.groupby("video_id").cumcount().astype("int32")
    frame["duration_s"] = frame["end_s"] - frame["start_s"]
    frame["split"] = frame["video_id"].map(info["split"]) if len(frame) else pd.Series(dtype=object)
    frame["path"] = frame["video_id"].map(info["path"]) if len(frame) else pd.Series(dtype=object)
    frame["scene_index"] = frame["scene_index"].astype("int32")
    frame["n_windows"] = frame["n_windows"].astype("int32")
    return frame[CLIP_COLUMNS].reset_index(drop=True)


def balance_classes(clips: pd.DataFrame, min_clips_per_class: int) -> pd.DataFrame:
    """AVSync-AC style: keep only classes with at least `min_clips_per_class` clips."""
    counts = clips.groupby("label")["video_id"].transform("size")
    return clips[counts >= min_clips_per_class].reset_index(drop=True)


@dataclass(frozen=True)
class ClipRow:
    """A stretch of a video file that training and evaluation draw examples from (a manifest row)."""

    path: str
    start_s: float
    end_s: float
    video_id: str = ""
    label: str = ""

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


def read_clip_rows(path: str | os.PathLike, split: str | None = None, min_duration_s: float = 0.0,
                   need_label: bool = False) -> list[ClipRow]:
    """`read_clips` as `ClipRow`s (`label` required when `need_label`)."""
    required = ("path", "start_s", "end_s") + (("label",) if need_label else ())
    table = read_clips(path, required, split, min_duration_s)
    return [ClipRow(r.path, float(r.start_s), float(r.end_s), str(getattr(r, "video_id", "") or ""),
                    str(getattr(r, "label", "") or "")) for r in table.itertuples(index=False)]


def read_clips(path: str | os.PathLike, required: Iterable[str] = ("path", "start_s", "end_s"),
               split: str | None = None, min_duration_s: float = 0.0) -> pd.DataFrame:
    """The rows of a clip manifest (`clips.parquet`, `avsync_ac.parquet` or any table with the
    `required` columns) for training and evaluation: `path` made absolute (relative paths are
    relative to the manifest's folder), only `split` when the table has a split column, only
    `status` = ok rows when it has a status column (AVSync15 manifests keep failed rows), rows
    whose file is missing and rows shorter than `min_duration_s` dropped.

    Raises ValueError saying why when no row of `split` is left: the split column is all null (a
    local-folder curation without `train/` / `test/` folders), the split name is not in the
    manifest, every row of it failed (with the reasons), or none of its files exists."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"manifest not found: {path}")
    table = pd.read_parquet(path)
    missing = set(required) - set(table.columns)
    if missing:
        raise ValueError(f"{path}: manifest lacks columns {sorted(missing)} (needs {', '.join(required)})")
    if split is not None and "split" in table.columns:
        selected = table[table["split"] == split]
        if selected.empty and len(table):
            present = sorted(str(s) for s in table["split"].dropna().unique())
            if not present:
                raise ValueError(f"{path}: no row has a split (all {len(table)} are null), so there is no "
                                 f"'{split}' split: a local-folder curation has splits only when its videos are in "
                                 "<root>/train/<label>/ and <root>/test/<label>/; or build a split manifest with "
                                 "`python -m curation.review --run DIR --export data/avsync15.parquet`")
            raise ValueError(f"{path}: no row has split '{split}'; the manifest's splits are {present}")
        table = selected
    if "status" in table.columns and len(table):
        ok = table["status"].fillna("ok") == "ok"
        if not ok.any():
            reasons = table["reason"].fillna("?").value_counts().to_dict() if "reason" in table.columns else {}
            raise ValueError(f"{path}: all {len(table)} rows{f' of split {split!r}' if split else ''} failed "
                             f"(reasons {reasons}); see its status/reason/detail columns")
        if not ok.all():
            log.info("%s: %d of %d rows failed (status) and are skipped", path.name, int((~ok).sum()), len(table))
        table = table[ok]
    table = table.assign(path=[str(p if Path(p).is_absolute() else path.parent / p) for p in table["path"]])
    exists = table["path"].map(lambda p: Path(p).is_file()).astype(bool)
    if len(table) and not exists.any():
        raise ValueError(f"{path}: none of the {len(table)} files{f' of split {split!r}' if split else ''} exists, "
                         f"e.g. {table['path'].iloc[0]} (relative paths are relative to the manifest's folder)")
    if not exists.all():
        log.warning("%s: %d of %d files are missing and are skipped, e.g. %s", path.name, int((~exists).sum()),
                    len(table), table.loc[~exists, "path"].iloc[0])
        table = table[exists]
    long_enough = (table["end_s"] - table["start_s"]) + 1e-6 >= min_duration_s
    if not long_enough.all():
        log.info("%s: %d of %d rows are shorter than %.2f s and are skipped", path.name, int((~long_enough).sum()),
                 len(table), min_duration_s)
    return table[long_enough].reset_index(drop=True)
