"""The per-batch pipeline on real files: bad inputs become failed rows, reruns resume."""

import os
import shutil
import signal
import subprocess
import sys
import textwrap

import pandas as pd
import pytest

from curation import manifest, pipeline
from curation.config import CurationConfig
from curation.sources import SourceItem


def _items(folder):
    return [SourceItem(video_id=p.stem, label=p.parent.name, path=str(p)) for p in sorted(folder.rglob("*.mp4"))]


@pytest.fixture
def video_folder(tmp_path, media_dir):
    folder = tmp_path / "videos"
    (folder / "hits").mkdir(parents=True)
    (folder / "movie").mkdir()
    shutil.copy(media_dir / "hitting_metal.mp4", folder / "hits" / "metal.mp4")
    shutil.copy(media_dir / "issue-134-rotate.mp4", folder / "movie" / "rotated.mp4")
    (folder / "hits" / "empty.mp4").write_bytes(b"")
    (folder / "hits" / "text.mp4").write_text("hello\n" * 100)
    shutil.copy(media_dir / "delayed_start.mp4", folder / "movie" / "silent.mp4")  # no audio stream
    truncated = (media_dir / "hitting_metal.mp4").read_bytes()[:20000]
    (folder / "hits" / "truncated.mp4").write_bytes(truncated)
    return folder


def test_bad_inputs_are_failed_rows_and_good_ones_are_scored(tmp_path, video_folder):
    out = tmp_path / "out"
    summary = pipeline.run_curation(_items(video_folder), out, CurationConfig(batch_size=4))
    videos = pd.read_parquet(out / "videos.parquet").set_index("video_id")
    assert videos.loc["metal", "status"] == "ok" and videos.loc["rotated", "status"] == "ok"
    assert videos.loc["empty", "reason"] == "empty_file"
    assert videos.loc["text", "reason"] == "not_a_video"
    assert videos.loc["silent", "reason"] == "no_audio"
    assert videos.loc["truncated", "status"] == "failed"
    assert videos.loc["rotated", "n_scenes"] == 3  # the footage's two hard cuts
    windows = pd.read_parquet(out / "windows.parquet")
    assert set(windows.video_id) == {"metal", "rotated"}
    assert windows[["pixel_diff_mean", "audio_max_amplitude"]].notna().all().all()
    assert summary["videos"] == 6 and summary["videos_ok"] == 2
    clips = pd.read_parquet(out / "clips.parquet")
    assert (clips.duration_s >= 3.0).all()
    assert set(pd.read_parquet(out / "avsync_ac.parquet").columns) == set(clips.columns)


def test_rerun_skips_committed_videos_and_yields_identical_manifests(tmp_path, video_folder):
    out = tmp_path / "out"
    config = CurationConfig(batch_size=2)
    pipeline.run_curation(_items(video_folder), out, config)
    first = {name: pd.read_parquet(out / name) for name in ("videos.parquet", "windows.parquet", "clips.parquet")}
    ledger_files = sorted(p.name for p in manifest.ledger_dir(out).iterdir())
    assert pipeline.pending_items(_items(video_folder), out) == []
    pipeline.run_curation(_items(video_folder), out, config)
    assert sorted(p.name for p in manifest.ledger_dir(out).iterdir()) == ledger_files  # nothing reprocessed
    for name, frame in first.items():
        pd.testing.assert_frame_equal(pd.read_parquet(out / name), frame)


KILLABLE_RUN = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from curation import pipeline
    from curation.config import CurationConfig
    from curation.sources import SourceItem
    folder, out = Path(sys.argv[1]), sys.argv[2]
    items = [SourceItem(video_id=p.stem, label=p.parent.name, path=str(p)) for p in sorted(folder.rglob("*.mp4"))]
    original = pipeline.process_batch
    def slow_batch(*args, **kwargs):
        report = original(*args, **kwargs)
        print("committed", flush=True)
        time.sleep(30)  # killed here, after the first batch is committed
        return report
    pipeline.process_batch = slow_batch
    pipeline.run_curation(items, out, CurationConfig(batch_size=2))
""")


def test_a_killed_run_resumes_to_the_same_manifests(tmp_path, video_folder):
    reference = tmp_path / "reference"
    pipeline.run_curation(_items(video_folder), reference, CurationConfig(batch_size=2))

    out = tmp_path / "killed"
    process = subprocess.Popen([sys.executable, "-c", KILLABLE_RUN, str(video_folder), str(out)],
                               stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline().strip() == "committed"
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.kill()
        process.wait()
    assert not (out / "videos.parquet").exists()
    done = manifest.done_video_ids(out)
    assert 0 < len(done) < 6
    pipeline.run_curation(_items(video_folder), out, CurationConfig(batch_size=2))
    for name in ("videos.parquet", "windows.parquet", "clips.parquet", "avsync_ac.parquet"):
        pd.testing.assert_frame_equal(pd.read_parquet(out / name), pd.read_parquet(reference / name))


@pytest.fixture
def picky_metric():
    """A registered metric that raises on videos longer than 8 s (a bug or an unforeseen quirk)."""
    from curation.metrics import _REGISTRY, register

    @register("picky_for_tests", ["picky"])
    def picky(media, windows, **_):
        if media.duration_s > 8.0:
            raise ValueError("this metric cannot handle long videos")
        return {"picky": [1.0] * len(windows)}

    yield "picky_for_tests"
    _REGISTRY.pop("picky_for_tests")


@pytest.mark.parametrize("group_budget_mb", [0.0, 1e6], ids=["one-video-groups", "one-group"])
def test_a_metric_error_fails_only_its_video(video_folder, picky_metric, group_budget_mb):
    config = CurationConfig(metrics=["pixel", picky_metric])
    items = [(item, item.path) for item in _items(video_folder) if item.video_id in {"metal", "rotated"}]
    metal, rotated = pipeline.analyze_videos(items, config, group_budget_mb)  # 6.0 s and 10.0 s
    assert metal.ok and metal.window_rows and all(row["picky"] == 1.0 for row in metal.window_rows)
    assert not rotated.ok and rotated.video_row["reason"] == "analysis_error"
    assert "cannot handle long videos" in rotated.video_row["detail"]
