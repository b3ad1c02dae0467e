"""The training data path decodes / renders each video once and cuts every example from it (issue 12 §1)."""

import numpy as np
import pandas as pd
import pytest
import torch

import sync_classifier.data as data_module
import sync_classifier.synthetic as synthetic_module
from curation.manifest import read_clip_rows
from curation.media import write_mp4
from curation.sources.synthetic import random_scenes, render_clip
from sync_classifier.config import load_config
from sync_classifier.data import (
    ManifestTrainingSet,
    SyntheticTrainingSet,
    media_clips,
    prepare_media,
    prepared_clips,
)
from sync_classifier.synthetic import synthetic_media


def test_clips_cut_from_a_prepared_video_equal_the_per_example_path(micro_config):
    model, data = micro_config(), load_config("tiny").data
    media = synthetic_media(np.random.default_rng(3), duration_s=7.0, model=model, data=data)
    starts = [0.0, 0.2, 1.37, 4.9]  # on the 10 ms log-mel hop
    flip = np.array([False, True, False, True])
    cut_audio, cut_video = prepared_clips(prepare_media(media, model), starts, model, flip)
    audio, video = media_clips(media, starts, model, flip)
    torch.testing.assert_close(cut_audio, audio, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(cut_video, video)


@pytest.fixture(scope="module")
def manifest(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cache")
    rng = np.random.default_rng(4)
    frames, audio, _ = render_clip(random_scenes(rng, duration_s=8.0), fps=25.0, size=(48, 32), seed=4)
    write_mp4(folder / "clip.mp4", frames, 25.0, audio)
    pd.DataFrame({"path": ["clip.mp4"], "start_s": [0.5], "end_s": [8.0]}).to_parquet(folder / "clips.parquet")
    return folder / "clips.parquet"


@pytest.mark.parametrize("cache_mb, decodes", [(64.0, 1), (0.0, 3)])
def test_manifest_rows_are_decoded_once_while_the_cache_lasts(manifest, micro_config, monkeypatch, cache_mb, decodes):
    calls = []
    real_decode = data_module.decode
    monkeypatch.setattr(data_module, "decode", lambda *a, **k: calls.append(k) or real_decode(*a, **k))
    data = load_config("tiny", overrides=[f"data.cache_mb={cache_mb}"]).data
    dataset = ManifestTrainingSet(read_clip_rows(manifest), micro_config(), data)
    examples = [dataset[(epoch, 0)] for epoch in range(3)]
    assert len(calls) == decodes
    for example in examples:
        assert example["audio"].shape == (21, 1, 128, 204) and example["video"].shape == (21, 3, 12, 32, 32)
        assert torch.isfinite(example["audio"]).all() and example["audio"].std() > 0.1
    assert not torch.allclose(examples[0]["audio"], examples[1]["audio"])  # other epochs, other starts


def test_cached_and_per_example_paths_give_the_same_clips_up_to_the_hop_rounding(manifest, micro_config):
    model = micro_config()
    cached = ManifestTrainingSet(read_clip_rows(manifest), model, load_config("tiny").data)
    fresh = ManifestTrainingSet(read_clip_rows(manifest), model,
                                load_config("tiny", overrides=["data.cache_mb=0"]).data)
    a, b, other = cached[(0, 0)], fresh[(0, 0)], fresh[(1, 0)]
    for key in ("audio", "video"):  # the same starts (rounded to 10 ms when cached), unlike another epoch's
        assert (a[key] - b[key]).abs().mean() < 0.5 * (a[key] - other[key]).abs().mean()


def test_a_synthetic_pool_renders_its_videos_once(micro_config, monkeypatch):
    rendered = []
    real = synthetic_module.synthetic_media
    monkeypatch.setattr(synthetic_module, "synthetic_media", lambda *a, **k: rendered.append(k) or real(*a, **k))
    data = load_config("tiny", overrides=["data.synthetic_pool=2", "data.synthetic_pool_s=7", "data.num_clips=5"]).data
    stream = SyntheticTrainingSet(micro_config(), data, seed=1)
    examples = [stream.example(i) for i in range(6)]
    assert len(rendered) <= 2 and all(k["duration_s"] == 7.0 for k in rendered)
    again = SyntheticTrainingSet(micro_config(), data, seed=1).example(4)
    torch.testing.assert_close(again["audio"], examples[4]["audio"])
    assert examples[0]["video"].shape == (5, 3, 12, 32, 32)
    with pytest.raises(ValueError, match="shorter than one example"):
        SyntheticTrainingSet(micro_config(), load_config("tiny", overrides=["data.synthetic_pool=2",
                                                                             "data.synthetic_pool_s=3"]).data)
