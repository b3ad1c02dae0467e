"""The ImageBind IA / IT metric on real decoded clips, with a tiny checkpoint in the official layout."""

import contextlib

import numpy as np
import pytest
import torch
from open_clip.tokenizer import SimpleTokenizer

from curation.metrics import VideoWindows, compute_metrics
from curation.metrics.neural_scoring import ModelWeightsMissing, device_guard, preflight
from model.encoders.imagebind import load_imagebind
from model.encoders.imagebind_audio import audio_clips
from model.encoders.images import clip_pixels

NAME = "imagebind_alignment"


def scores(videos, options, **extra):
    return compute_metrics([NAME], videos, {NAME: {**options, **extra}})


def test_scores_every_window_of_a_real_clip(metal, imagebind_options):
    (result,) = scores([metal], imagebind_options)
    assert set(result) == {"imagebind_ia", "imagebind_it"}
    for column in result.values():
        assert column.shape == (7,) and np.isfinite(column).all() and (np.abs(column) <= 1).all()


def test_equals_a_direct_computation_per_window(metal, imagebind_options, tiny_imagebind_path):
    (result,) = scores([metal], imagebind_options)
    model = load_imagebind(tiny_imagebind_path, "tiny")
    media = metal.media
    ids = SimpleTokenizer(context_length=77)(["hitting"])
    with torch.no_grad():
        text = model.embed("text", ids)[0]
        for w in (0, 3, 6):
            window = metal.windows[w]
            frames = media.frames[media.frame_slice(window.start_s, window.end_s)]
            assert len(frames) == 24  # 3 s at 8 fps
            images = model.embed("vision", clip_pixels(frames))
            wave = media.audio[media.audio_slice(window.start_s, window.end_s)]
            sound = model.embed("audio", audio_clips(wave)[None])[0]
            assert result["imagebind_ia"][w] == pytest.approx(float((images @ sound).mean()), abs=1e-5)
            assert result["imagebind_it"][w] == pytest.approx(float((images @ text).mean()), abs=1e-5)


def test_batches_across_videos_change_nothing(metal, rotated, imagebind_options):
    alone = [scores([video], imagebind_options)[0] for video in (metal, rotated)]
    for batch_size in (5, 64):  # batches that split videos, and one that spans both
        together = scores([metal, rotated], imagebind_options, batch_size=batch_size)
        for one, both in zip(alone, together):
            for column in one:
                np.testing.assert_allclose(both[column], one[column], atol=1e-5)


def test_the_label_moves_it_and_not_ia(metal, imagebind_options):
    hitting, = scores([metal], imagebind_options)
    other, = scores([VideoWindows(metal.media, metal.windows, "dog barking")], imagebind_options)
    np.testing.assert_allclose(other["imagebind_ia"], hitting["imagebind_ia"], atol=1e-6)
    assert np.abs(other["imagebind_it"] - hitting["imagebind_it"]).min() > 1e-3


def test_sampled_frames(metal, imagebind_options):
    every, = scores([metal], imagebind_options)
    same, = scores([metal], imagebind_options, sample_fps=8)
    half, = scores([metal], imagebind_options, sample_fps=4)
    np.testing.assert_allclose(same["imagebind_it"], every["imagebind_it"], atol=1e-6)
    assert np.isfinite(half["imagebind_it"]).all() and not np.allclose(half["imagebind_it"], every["imagebind_it"])


def test_missing_weights_fail_clearly_before_any_work(metal):
    options = {NAME: {"checkpoint": "/nowhere/imagebind_huge.pth"}}
    with pytest.raises(ModelWeightsMissing, match="imagebind_huge.pth.*CC BY-NC-SA"):
        compute_metrics([NAME], [metal], options)
    with pytest.raises(ModelWeightsMissing, match="metric_options.imagebind_alignment.checkpoint"):
        preflight(["pixel", NAME], {})


def test_model_is_loaded_once_per_process_and_options(metal, imagebind_options, monkeypatch):
    import model.encoders.imagebind as imagebind_module

    loads = []
    real = imagebind_module.load_imagebind
    monkeypatch.setattr(imagebind_module, "load_imagebind", lambda *a, **k: loads.append(a) or real(*a, **k))
    scores([metal], imagebind_options)
    scores([metal], imagebind_options, batch_size=7, sample_fps=4)  # not model options: same model
    assert len(loads) == 1
    scores([metal], imagebind_options, dtype="bfloat16", sample_fps=1)
    assert len(loads) == 2


def test_scoring_runs_inside_the_device_guard(metal, imagebind_options):
    events = []

    @contextlib.contextmanager
    def slot():
        events.append("acquire")
        yield
        events.append("release")

    with device_guard(slot):
        scores([metal, metal], imagebind_options)
    scores([metal], imagebind_options)  # outside the guard: nothing held
    assert events == ["acquire", "release"]
