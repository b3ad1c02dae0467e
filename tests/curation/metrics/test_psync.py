"""PSync as a curation metric, inside the real per-video pipeline."""

import numpy as np
import pytest

from curation.config import CurationConfig, MediaConfig
from curation.metrics import get_metric
from curation.metrics.neural_scoring import ModelWeightsMissing, preflight
from curation.metrics.psync import load_sync_model
from curation.pipeline import analyze_videos
from curation.sources import SourceItem
from curation.sources.synthetic import random_scenes, render_clip, write_mp4


@pytest.fixture(scope="module")
def synthetic_video(tmp_path_factory):
    frames, audio, _ = render_clip(random_scenes(np.random.default_rng(11), duration_s=6.0), fps=25.0,
                                   size=(128, 96), seed=11)
    return write_mp4(tmp_path_factory.mktemp("psync") / "events.mp4", frames, 25.0, audio)


def _config(checkpoint) -> CurationConfig:
    return CurationConfig(media=MediaConfig(fps=12, short_side=64), metrics=["pixel", "amplitude", "psync"],
                          metric_options={"psync": {"checkpoint": str(checkpoint)}})


def test_psync_scores_every_window_in_analyze_videos(micro_checkpoint, media_dir, synthetic_video):
    items = [(SourceItem("metal", "hitting", str(media_dir / "hitting_metal.mp4")), str(media_dir / "hitting_metal.mp4")),
             (SourceItem("events", "synthetic", str(synthetic_video)), str(synthetic_video))]
    results = analyze_videos(items, _config(micro_checkpoint))
    assert all(r.ok for r in results), [r.video_row.get("detail") for r in results]
    for result in results:
        rows = result.window_rows
        assert len(rows) >= 2  # 6 s videos: 3 s windows every 0.5 s
        for row in rows:
            assert 0 < row["psync"] <= 1 and np.isfinite(row["sync_score"])
            assert -2.0 - 1e-6 <= row["sync_offset_s"] <= 2.0 + 1e-6


def test_missing_checkpoint_is_a_clear_error(tmp_path):
    with pytest.raises(ModelWeightsMissing, match="python -m sync_classifier.train"):
        get_metric("psync").fn([], checkpoint=str(tmp_path / "nope"))
    with pytest.raises(ModelWeightsMissing, match="metric_options.psync.checkpoint"):
        get_metric("psync").fn([], checkpoint=None)


def test_a_missing_checkpoint_stops_the_run_before_any_video(tmp_path, media_dir):
    """A setup error is not 'every video failed': preflight raises, and so does the pipeline."""
    options = {"psync": {"checkpoint": str(tmp_path / "nope")}}
    with pytest.raises(ModelWeightsMissing):
        preflight(["pixel", "psync"], options)
    item = SourceItem(video_id="metal", label="hitting", path=str(media_dir / "hitting_metal.mp4"))
    with pytest.raises(ModelWeightsMissing):
        analyze_videos([(item, item.path)], CurationConfig(metrics=["psync"], metric_options=options))


def test_the_model_is_loaded_once_per_process(micro_checkpoint):
    assert load_sync_model(str(micro_checkpoint)) is load_sync_model(str(micro_checkpoint))
