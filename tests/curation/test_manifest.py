import pandas as pd
import pytest

from curation import manifest


def _window(video_id, index, scene, start, passed, label="dog barking"):
    return {"video_id": video_id, "window_index": index, "scene_index": scene, "start_s": start,
            "end_s": start + 3.0, "label": label, "passed": passed}


def test_passing_windows_merge_into_clips_within_a_scene_only():
    windows = pd.DataFrame([
        _window("a", 0, 0, 0.0, True), _window("a", 1, 0, 0.5, True), _window("a", 2, 0, 1.0, False),
        _window("a", 3, 0, 4.0, True),  # gap 3.5..4.0 after window 1 ends: touches nothing → new clip
        _window("a", 4, 1, 7.0, True),  # next scene starts where the previous clip ends: no merge
    ])
    videos = pd.DataFrame({"video_id": ["a"], "split": ["train"], "path": ["/x/a.mp4"]})
    clips = manifest.merge_windows_into_clips(windows, videos)
    assert clips[["start_s", "end_s", "n_windows", "scene_index"]].values.tolist() == [
        [0.0, 3.5, 2, 0], [4.0, 7.0, 1, 0], [7.0, 10.0, 1, 1]]
    assert clips.clip_index.tolist() == [0, 1, 2]
    assert set(clips.split) == {"train"} and set(clips.path) == {"/x/a.mp4"}


def test_class_balancing_drops_small_classes():
    clips = pd.DataFrame({"video_id": list("abcde"), "label": ["x", "x", "x", "y", "y"]})
    assert manifest.balance_classes(clips, 3).label.tolist() == ["x", "x", "x"]


def test_ledger_keeps_the_latest_row_per_video_and_its_windows(tmp_path):
    first = {"video_id": "a", "label": "l", "status": "failed", "reason": "download_failed", "retryable": True}
    manifest.write_batch(tmp_path, "b1", [first], [])
    assert manifest.done_video_ids(tmp_path) == set()  # retryable failures stay pending
    second = {"video_id": "a", "label": "l", "status": "ok", "retryable": False}
    windows = [{"video_id": "a", "window_index": 0, "scene_index": 0, "start_s": 0.0, "end_s": 3.0, "label": "l", "m": 1.5}]
    manifest.write_batch(tmp_path, "b2", [second, {"video_id": "b", "label": "l", "status": "ok"}], windows)
    videos, read_windows = manifest.read_ledger(tmp_path)
    assert videos.video_id.tolist() == ["a", "b"] and videos.status.tolist() == ["ok", "ok"]
    assert read_windows.m.tolist() == [1.5]
    assert manifest.done_video_ids(tmp_path) == {"a", "b"}


def test_atomic_write_leaves_no_partial_file(tmp_path):
    target = tmp_path / "t.parquet"
    with pytest.raises(Exception):
        manifest.write_parquet_atomic(pd.DataFrame({"x": [object()]}), target)
    assert not target.exists() and list(tmp_path.iterdir()) == []
    manifest.write_parquet_atomic(pd.DataFrame({"x": [1, 2]}), target)
    assert pd.read_parquet(target).x.tolist() == [1, 2]
