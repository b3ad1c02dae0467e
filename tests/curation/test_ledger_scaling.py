"""Issue 15 part 1: the scan-once ledger, the vectorised clip merge and compaction give exactly the
manifests of the per-file implementation, and resume still works after compaction."""

import shutil

import pandas as pd
import pytest

from benchmarks.ledger_scaling import (generate_ledger, legacy_done_video_ids, legacy_merge_windows_into_clips,
                                       legacy_read_ledger, legacy_summarize)
from curation import manifest, pipeline
from curation.config import CurationConfig
from curation.filters import apply_filters
from curation.sources import SourceItem
from curation.sources.collect import collect_items

MANIFESTS = ("videos.parquet", "windows.parquet", "clips.parquet", "avsync_ac.parquet")


def _items(folder):
    return collect_items(videos=str(folder))


def _read(out):
    return {name: pd.read_parquet(out / name) for name in MANIFESTS}


def test_generated_ledger_reads_and_merges_exactly_like_the_per_file_implementation(tmp_path):
    generate_ledger(tmp_path, 400)  # 50+ batches, retried videos, failed videos, batches without windows
    videos, windows = manifest.read_ledger(tmp_path)
    old_videos, old_windows = legacy_read_ledger(tmp_path)
    pd.testing.assert_frame_equal(videos, old_videos)
    pd.testing.assert_frame_equal(windows, old_windows)
    assert manifest.done_video_ids(tmp_path) == legacy_done_video_ids(tmp_path)
    filtered, _ = apply_filters(windows, CurationConfig().filters)
    assert 0 < filtered.passed.mean() < 1
    clips = manifest.merge_windows_into_clips(filtered, videos)
    assert len(clips) > 100 and (clips.n_windows > 1).any() and (clips.scene_index > 0).any()
    pd.testing.assert_frame_equal(clips, legacy_merge_windows_into_clips(filtered, videos))
    balanced = manifest.balance_classes(clips, 3)
    assert 0 < balanced.label.nunique() < clips.label.nunique()
    summary = pipeline.summarize(videos, filtered, clips, balanced)
    assert summary == legacy_summarize(videos, filtered, clips, balanced) and summary["windows_failed_by_reason"]
    empty = (filtered.iloc[:0], clips.iloc[:0], balanced.iloc[:0])
    assert pipeline.summarize(videos, *empty) == legacy_summarize(videos, *empty)


def test_merge_edge_cases_match_the_loop():
    rows = [("a", 0, 0, 0.0, 3.0, True), ("a", 1, 0, 3.0 + 5e-7, 6.0, True),  # touches within 1 µs: merges
            ("a", 2, 0, 1.0, 2.0, True),  # inside an earlier window: merges, end stays 6.0
            ("a", 3, 0, 6.1, 9.1, True), ("a", 4, 1, 9.1, 12.1, True), ("b", 0, 0, 0.0, 3.0, False),
            ("c", 0, 2, 4.0, 7.0, True)]
    windows = pd.DataFrame(rows, columns=["video_id", "window_index", "scene_index", "start_s", "end_s", "passed"])
    windows["label"] = "l"
    videos = pd.DataFrame({"video_id": ["a", "b", "c"], "split": ["train", None, "test"], "path": ["x", "y", "z"]})
    clips = manifest.merge_windows_into_clips(windows, videos)
    pd.testing.assert_frame_equal(clips, legacy_merge_windows_into_clips(windows, videos))
    assert clips[["video_id", "start_s", "end_s", "n_windows"]].values.tolist() == [
        ["a", 0.0, 6.0, 3], ["a", 6.1, 9.1, 1], ["a", 9.1, 12.1, 1], ["c", 4.0, 7.0, 1]]
    none_pass = manifest.merge_windows_into_clips(windows.assign(passed=False), videos)
    # No passing window: the same empty table, now with typed columns (the loop's were object).
    pd.testing.assert_frame_equal(none_pass, legacy_merge_windows_into_clips(windows.assign(passed=False), videos),
                                  check_dtype=False, check_index_type=False)
    assert len(none_pass) == 0 and none_pass.start_s.dtype == "float64"


def test_real_run_compacts_and_a_rerun_resumes_with_identical_manifests(tmp_path, video_folder):
    out = tmp_path / "out"
    config = CurationConfig(batch_size=1)
    pipeline.run_curation(_items(video_folder), out, config)
    first = _read(out)
    markers = list(manifest.ledger_dir(out).glob("*.videos.parquet"))
    assert len(markers) == 1 and markers[0].name.startswith("compacted-")  # 3 batches became one
    assert sorted(p.name for p in manifest.ledger_dir(out).iterdir()) == sorted(
        [markers[0].name, markers[0].name.replace(".videos.", ".windows.")])
    legacy_clips = legacy_merge_windows_into_clips(first["windows.parquet"], first["videos.parquet"])
    pd.testing.assert_frame_equal(first["clips.parquet"], legacy_clips)
    assert len(first["clips.parquet"]) >= 2
    assert pipeline.pending_items(_items(video_folder), out) == []  # resume state survives compaction
    assert manifest.compact_ledger(out) == 0  # idempotent: one batch is already compact
    pipeline.run_curation(_items(video_folder), out, config)
    assert list(manifest.ledger_dir(out).glob("*.videos.parquet")) == markers
    for name, frame in first.items():
        pd.testing.assert_frame_equal(pd.read_parquet(out / name), frame)
    # A new video after compaction: only it is curated, and its batch wins over nothing old.
    shutil.copy(video_folder / "hits" / "metal.mp4", video_folder / "hits" / "metal2.mp4")
    assert [i.video_id for i in pipeline.pending_items(_items(video_folder), out)] == ["metal2"]
    summary = pipeline.run_curation(_items(video_folder), out, config)
    assert summary["videos"] == 4 and len(list(manifest.ledger_dir(out).glob("*.videos.parquet"))) == 1


def test_compaction_killed_before_deleting_reads_the_same_and_recompacts(tmp_path):
    generate_ledger(tmp_path, 120)
    before = manifest.read_ledger(tmp_path)
    saved_run = tmp_path.parent / f"{tmp_path.name}-saved"
    saved = manifest.ledger_dir(saved_run)
    shutil.copytree(manifest.ledger_dir(tmp_path), saved)
    assert manifest.compact_ledger(tmp_path) > 10
    compacted = manifest.read_ledger(tmp_path)
    for got, want in zip(compacted, before):
        pd.testing.assert_frame_equal(got, want)
    # As if killed after the compacted batch was committed but before the old files went:
    for path in saved.iterdir():
        shutil.copy2(path, manifest.ledger_dir(tmp_path) / path.name)
    for got, want in zip(manifest.read_ledger(tmp_path), before):
        pd.testing.assert_frame_equal(got, want)
    assert manifest.compact_ledger(tmp_path) > 10 and manifest.compact_ledger(tmp_path) == 0
    for got, want in zip(manifest.read_ledger(tmp_path), before):
        pd.testing.assert_frame_equal(got, want)
    assert manifest.done_video_ids(tmp_path) == legacy_done_video_ids(saved_run)


def test_a_batch_task_checks_only_its_own_markers(tmp_path):
    items = [SourceItem(video_id=v, label="l", path=f"/{v}.mp4") for v in ("a", "b", "c")]
    ok = {"label": "l", "status": "ok", "retryable": False}
    retry = {"label": "l", "status": "failed", "reason": "download_failed", "retryable": True}
    manifest.write_batch(tmp_path, pipeline.batch_key(items), [{"video_id": "a"} | ok, {"video_id": "b"} | retry,
                                                              {"video_id": "c"} | retry], [])
    # An unreadable file of another batch: a whole-ledger read would fail, the task's own check does not.
    (manifest.ledger_dir(tmp_path) / "ffffffffffffffff.videos.parquet").write_bytes(b"not parquet")
    assert [i.video_id for i in pipeline.pending_in_batch(items, tmp_path)] == ["b", "c"]
    # The retry committed b and c under their own key; b is now final, c still retryable.
    manifest.write_batch(tmp_path, pipeline.batch_key(items[1:]), [{"video_id": "b"} | ok, {"video_id": "c"} | retry], [])
    assert [i.video_id for i in pipeline.pending_in_batch(items, tmp_path)] == ["c"]
    manifest.write_batch(tmp_path, pipeline.batch_key(items[2:]), [{"video_id": "c"} | ok], [])
    assert pipeline.pending_in_batch(items, tmp_path) == []
    with pytest.raises(Exception):
        manifest.done_video_ids(tmp_path)


def test_compacting_a_runs_batches_while_others_commit_reads_the_same(tmp_path):
    """The flow compacts its finished batches every N (compact_batches) while later batches keep
    committing: a batch committed after the compacted ones, holding a newer row of one of their
    videos, still wins; the ledger reads exactly as before, from a handful of files."""
    items = generate_ledger(tmp_path, 400)
    files = manifest._committed_batches(tmp_path)
    keys = [f.name.removesuffix(".videos.parquet") for f in files]
    # Committed "meanwhile": a newer row for a video of the first chunk (a rerun's retry).
    first = pd.read_parquet(files[0])
    video_id = first.loc[first.status == "ok", "video_id"].iloc[0]
    manifest.write_batch(tmp_path, "ffffffffffffffff", [{"video_id": video_id, "label": "l", "status": "failed",
                                                          "reason": "too_long", "retryable": False}], [])
    before = manifest.read_ledger(tmp_path)
    assert before[0].set_index("video_id").loc[video_id, "reason"] == "too_long"
    assert video_id not in set(before[1].video_id)
    for start in range(0, len(keys), 20):
        assert manifest.compact_batches(tmp_path, keys[start:start + 20]) == len(keys[start:start + 20])
    assert len(manifest._committed_batches(tmp_path)) == -(-len(keys) // 20) + 1
    for got, want in zip(manifest.read_ledger(tmp_path), before):
        pd.testing.assert_frame_equal(got, want)
    assert pipeline.pending_items(items, tmp_path) == pipeline.pending_items(items, tmp_path)  # readable
    assert manifest.compact_batches(tmp_path, ["nonexistent"]) == 0
