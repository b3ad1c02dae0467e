"""PSync as a curation metric, inside the real per-video pipeline."""

import numpy as np
import pytest

from curation.config import CurationConfig, MediaConfig
from curation.metrics import get_metric
from curation.metrics.neural_scoring import ModelWeightsMissing, preflight
from curation.metrics.psync import load_model
from curation.pipeline import analyze_videos
from curation.sources import SourceItem
from curation.media import write_mp4
from curation.sources.synthetic import random_scenes, render_clip


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


def test_the_model_is_loaded_once_per_process_in_the_shared_cache(micro_checkpoint):
    from curation.metrics import neural_scoring

    loaded = load_model(str(micro_checkpoint), device="auto")
    assert load_model(str(micro_checkpoint), device="cpu") is loaded  # auto → cpu here: the same entry
    assert [key for key in neural_scoring._MODELS if key[0] == "psync"] == [("psync", str(micro_checkpoint.resolve()), "cpu")]


def test_batches_span_videos_and_give_the_per_video_scores(micro_checkpoint, metal, rotated, monkeypatch):
    """Two videos scored in one call: the encoders see batches mixing both videos' clips, and
    every window's PSync equals the one-video-at-a-time value."""
    from sync_classifier.sync_metrics import window_psync

    model = load_model(str(micro_checkpoint)).model
    alone = [window_psync(model, v.media, [(w.start_s, w.end_s) for w in v.windows]) for v in (metal, rotated)]
    calls = []
    encode_audio = type(model).encode_audio
    monkeypatch.setattr(type(model), "encode_audio", lambda self, x: calls.append(len(x)) or encode_audio(self, x))
    together = get_metric("psync").fn([metal, rotated], checkpoint=str(micro_checkpoint), batch_size=8)
    n_audio = sum(np.isfinite(a["psync"]).sum() for a in alone)
    assert sum(calls) == n_audio and calls[:-1] == [8] * (len(calls) - 1)
    assert len(metal.windows) % 8 != 0  # so one batch holds clips of both videos
    for one, both in zip(alone, together):
        for column in ("psync", "sync_score", "sync_offset_s"):
            np.testing.assert_allclose(both[column], one[column], rtol=1e-5, atol=1e-6)


def test_scoring_holds_the_device_guard_while_the_model_runs(micro_checkpoint, metal):
    """Inside `device_guard` (the flow lends its `gpu` slot this way) every model forward runs
    while the guard is held, and the guard is released afterwards."""
    import contextlib

    from curation.metrics.neural_scoring import device_guard

    state = {"held": False, "forwards_held": 0, "forwards_free": 0}

    @contextlib.contextmanager
    def slot():
        state["held"] = True
        try:
            yield
        finally:
            state["held"] = False

    model = load_model(str(micro_checkpoint)).model
    encode_video = type(model).encode_video

    def counting(self, x):
        state["forwards_held" if state["held"] else "forwards_free"] += 1
        return encode_video(self, x)

    type(model).encode_video = counting
    try:
        with device_guard(slot):
            get_metric("psync").fn([metal], checkpoint=str(micro_checkpoint))
    finally:
        type(model).encode_video = encode_video
    assert state["forwards_held"] > 0 and state["forwards_free"] == 0 and not state["held"]
