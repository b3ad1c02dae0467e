"""The CLIP image-semantics difference metric on real decoded clips (tiny open_clip checkpoint)."""

import numpy as np
import pytest

from curation.media import DecodedMedia
from curation.metrics import VideoWindows, compute_metrics
from curation.metrics.clip_semantics import window_distances
from curation.metrics.neural_scoring import ModelWeightsMissing
from curation.windows import Window

NAME = "clip_semantics"
COLUMNS = ("clip_diff_mean", "clip_diff_max", "clip_diff_span")


def scores(videos, options, **extra):
    return compute_metrics([NAME], videos, {NAME: {**options, **extra}})


def test_window_distances():
    e = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    mean, largest, span = window_distances(e)
    assert (mean, largest, span) == pytest.approx((2 / 3, 1.0, 2.0))
    assert np.isnan(window_distances(e[:1])).all()


def test_scores_every_window_of_a_real_clip(metal, clip_options):
    (result,) = scores([metal], clip_options)
    assert set(result) == set(COLUMNS)
    for column in COLUMNS:
        values = result[column]
        assert values.shape == (7,) and np.isfinite(values).all() and (values >= -1e-6).all() and (values <= 2).all()
    assert (result["clip_diff_max"] >= result["clip_diff_mean"] - 1e-7).all()


def test_a_frozen_picture_has_no_semantic_change(metal, clip_options):
    media = metal.media
    still = DecodedMedia(np.repeat(media.frames[:1], len(media.frames), axis=0), media.fps, media.audio,
                         media.sample_rate)
    (result,) = scores([VideoWindows(still, metal.windows, "hitting")], clip_options)
    for column in COLUMNS:
        np.testing.assert_allclose(result[column], 0.0, atol=1e-5)


def test_a_cut_inside_a_window_is_the_largest_change(metal, rotated, clip_options):
    a, b = metal.media, rotated.media
    frames = np.concatenate([a.frames[:24, :, :224], b.frames[:24, :224]])  # 3 s + 3 s, same 224² size
    spliced = DecodedMedia(frames, a.fps, a.audio, a.sample_rate)
    windows = [Window(0, 0, 0.0, 3.0), Window(1, 0, 1.5, 4.5), Window(2, 0, 3.0, 6.0)]
    (result,) = scores([VideoWindows(spliced, windows, "x")], clip_options)
    assert result["clip_diff_max"][1] > 2 * max(result["clip_diff_max"][0], result["clip_diff_max"][2])
    assert result["clip_diff_span"][1] > 2 * max(result["clip_diff_span"][0], result["clip_diff_span"][2])


def test_batches_across_videos_change_nothing(metal, rotated, clip_options):
    alone = [scores([video], clip_options)[0] for video in (metal, rotated)]
    together = scores([metal, rotated], clip_options, batch_size=9)
    for one, both in zip(alone, together):
        for column in COLUMNS:
            np.testing.assert_allclose(both[column], one[column], atol=1e-5)


def test_missing_weights_name_the_expected_file(metal):
    with pytest.raises(ModelWeightsMissing, match="open_clip_model.safetensors.*vit_large_patch14_clip_224.openai"):
        compute_metrics([NAME], [metal], {})  # ViT-L-14 / openai, offline, nothing cached
    with pytest.raises(ModelWeightsMissing, match="does not exist"):
        compute_metrics([NAME], [metal], {NAME: {"checkpoint": "/nowhere/open_clip_model.safetensors"}})
