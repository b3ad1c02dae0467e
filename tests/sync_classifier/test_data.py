import numpy as np
import pandas as pd
import pytest
import torch

from curation.manifest import read_clip_rows
from curation.media import write_mp4
from curation.sources.synthetic import random_scenes, render_clip
from sync_classifier.config import load_config
from sync_classifier.data import (
    EpochShuffleSampler,
    ManifestTrainingSet,
    SyntheticTrainingSet,
    center_compact_starts,
    collate_examples,
    random_compact_starts,
)


def test_random_compact_starts_are_evenly_spaced_inside_the_range():
    rng = np.random.default_rng(0)
    for _ in range(50):
        starts = random_compact_starts(rng, 1.0, 8.0, 21, 0.2, 2.0)
        np.testing.assert_allclose(np.diff(starts), 0.2)
        assert starts[0] >= 1.0 and starts[-1] + 2.0 <= 8.0 + 1e-9
    with pytest.raises(ValueError):
        random_compact_starts(rng, 0.0, 5.9, 21, 0.2, 2.0)  # needs 6 s


def test_center_compact_starts_are_centred():
    starts = center_compact_starts(0.0, 4.0, 31, 0.04, 2.0)  # 3.2 s of clips in 4 s
    assert starts[0] == pytest.approx(0.4) and starts[15] == pytest.approx(1.0)
    np.testing.assert_allclose(np.diff(starts), 0.04)


@pytest.fixture(scope="module")
def synthetic_file(tmp_path_factory):
    rng = np.random.default_rng(5)
    frames, audio, _ = render_clip(random_scenes(rng, duration_s=7.0), fps=25.0, size=(96, 64), seed=5)
    return write_mp4(tmp_path_factory.mktemp("media") / "clip.mp4", frames, 25.0, audio)


def test_manifest_rows_decode_to_21_shifted_clips(tmp_path, synthetic_file, micro_config):
    manifest = synthetic_file.parent / "clips.parquet"
    pd.DataFrame({"video_id": ["a", "b"], "path": [synthetic_file.name, str(synthetic_file)],
                  "start_s": [0.0, 0.5], "end_s": [7.0, 4.0], "split": ["train", "train"]}).to_parquet(manifest)
    rows = read_clip_rows(manifest)
    assert [r.path for r in rows] == [str(synthetic_file)] * 2  # relative paths resolve next to the manifest
    cfg = load_config("tiny")
    dataset = ManifestTrainingSet(rows, micro_config(), cfg.data)
    assert len(dataset) == 1  # the 3.5 s row cannot hold 21 clips 0.2 s apart
    example = dataset[(0, 0)]
    assert example["audio"].shape == (21, 1, 128, 204)
    assert example["video"].shape == (21, 3, 12, 32, 32)
    assert torch.isfinite(example["audio"]).all() and example["audio"].std() > 0.1
    with pytest.raises(ValueError, match=r"no row has split 'test'; the manifest's splits are \['train'\]"):
        read_clip_rows(manifest, "test")
    other_epoch = dataset[(1, 0)]["audio"]  # another epoch draws other clip starts
    assert not torch.allclose(other_epoch, example["audio"])
    torch.testing.assert_close(dataset[(0, 0)]["audio"], example["audio"])


def test_epoch_sampler_permutes_each_epoch_and_resumes_mid_stream():
    keys = iter(EpochShuffleSampler(5, seed=1))
    first = [next(keys) for _ in range(12)]
    assert sorted(i for e, i in first[:5]) == list(range(5)) and {e for e, _ in first[:5]} == {0}
    assert sorted(i for e, i in first[5:10]) == list(range(5)) and first[10][0] == 2
    resumed = iter(EpochShuffleSampler(5, seed=1, skip=7))
    assert [next(resumed) for _ in range(5)] == first[7:12]


def test_synthetic_stream_is_reproducible_and_batches_stack(micro_config):
    cfg = load_config("tiny", overrides=["data.num_clips=5"])
    model = micro_config()
    first = SyntheticTrainingSet(model, cfg.data, seed=7)
    again = SyntheticTrainingSet(model, cfg.data, seed=7, start_index=1)
    a, b = first.example(1), next(iter(again))
    torch.testing.assert_close(a["video"], b["video"])
    torch.testing.assert_close(a["audio"], b["audio"])
    batch = collate_examples([first.example(0), a])
    assert batch["audio"].shape == (2, 5, 1, 128, 204) and batch["video"].shape == (2, 5, 3, 12, 32, 32)
