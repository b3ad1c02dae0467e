"""Regressions of issue 14 on real files: one bad item fails alone with a row, setup errors are
refused before the first video and never become per-video rows, transient misses stay pending,
manifests are readable by the group (normal umask modes)."""

import os
import shutil
import stat

import pandas as pd
import pytest

from curation import manifest, pipeline
from curation.config import CurationConfig, load_config
from curation.sources.collect import collect_items
from curation.sources.item import SourceItem

CONFIG = CurationConfig(min_clips_per_class=1)


@pytest.fixture
def folder(one_video_folder):
    return one_video_folder


def test_a_non_utf8_file_name_fails_alone_with_a_row(tmp_path, folder, media_dir):
    bad_name = os.fsdecode(b"caf\xe9 clip.mp4")  # Latin-1 bytes, not UTF-8
    shutil.copy(media_dir / "hitting_metal.mp4", folder / "hits" / bad_name)
    out = tmp_path / "out"
    summary = pipeline.run_curation(collect_items(videos=folder), out, CONFIG)
    videos = pd.read_parquet(out / "videos.parquet")
    assert len(videos) == 2 and summary["videos_ok"] == 1
    bad = videos[videos.status == "failed"].iloc[0]
    assert bad.reason == "non_utf8_name" and "caf\\xe9 clip.mp4" in bad.path
    assert videos[videos.status == "ok"].path.iloc[0].endswith("metal.mp4")
    assert pipeline.pending_items(collect_items(videos=folder), out) == []  # recorded: the rerun does not drop it


@pytest.mark.parametrize("yaml, expected", [
    ("metrics: [pixel, amplitud]\n", ["'amplitud'", "valid names", "'amplitude'"]),
    ("metric_options: {pixel: {bogus: 1}}\n", ["metric_options.pixel", "bogus"]),
    ("metric_options: {psync: {checkpoint: x.pt}}\n", ["'psync' is not in metrics"]),
    ("filters: [{metric: pixel_diff_meen, min: 1}]\n", ["'pixel_diff_meen'", "pixel_diff_mean"]),
])
def test_setup_errors_are_refused_before_any_video(tmp_path, folder, yaml, expected):
    path = tmp_path / "config.yaml"
    path.write_text(yaml)
    config = load_config(path)
    out = tmp_path / "out"
    with pytest.raises(pipeline.SetupError) as error:
        pipeline.run_curation(collect_items(videos=folder), out, config)
    for text in expected:
        assert text in str(error.value)
    assert not manifest.ledger_dir(out).exists()  # no per-video row poisons the rerun
    # The rerun with the typo fixed curates the video.
    assert pipeline.run_curation(collect_items(videos=folder), out, CONFIG)["videos_ok"] == 1


def test_min_above_max_is_refused_when_the_config_loads(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("filters: [{metric: pixel_diff_mean, min: 40, max: 0.5}]\n")
    with pytest.raises(ValueError, match="min 40 > max 0.5"):
        load_config(path)


def test_a_file_missing_for_a_moment_stays_pending(tmp_path, media_dir):
    path = tmp_path / "later" / "hits" / "late.mp4"
    item = SourceItem(video_id="late", label="hits", path=str(path))
    out = tmp_path / "out"
    report = pipeline.process_batch([item], out, CONFIG)
    assert report.n_retryable == 1  # the task retries it
    assert pipeline.pending_items([item], out) == [item]  # and so does a rerun
    path.parent.mkdir(parents=True)
    shutil.copy(media_dir / "hitting_metal.mp4", path)
    assert pipeline.process_batch([item], out, CONFIG).n_ok == 1
    assert pipeline.pending_items([item], out) == []


def test_manifests_get_the_normal_umask_modes(tmp_path, folder):
    old = os.umask(0o022)
    try:
        pipeline.run_curation(collect_items(videos=folder), tmp_path / "out", CONFIG)
    finally:
        os.umask(old)
    written = [p for p in (tmp_path / "out").rglob("*") if p.is_file() and p.suffix in (".parquet", ".json")]
    assert len(written) >= 6
    assert {stat.S_IMODE(p.stat().st_mode) for p in written} == {0o644}
