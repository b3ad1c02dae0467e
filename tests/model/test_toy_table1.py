"""The toy Table 1's statistics and picture, on real rendered toy clips (the training chain itself
runs in `python -m benchmarks.toy_table1 --quick`)."""

import numpy as np
import pytest
from PIL import Image

from benchmarks.toy_table1 import bootstrap_f1, event_row, onsets_picture
from model.toy import read_test_clips, read_toy_events, write_toy_dataset


def test_event_rows_rank_the_real_clips_above_static_and_other_clips(tmp_path):
    manifest = write_toy_dataset(tmp_path, train_clips=0, test_clips=6, seed=2)
    clips = read_test_clips(manifest)
    real = event_row([[c.frames for c in clips]] * 2, clips)
    static = event_row([[np.repeat(c.frames[:1], 12, axis=0) for c in clips]], clips)
    others = event_row([[clips[(i + 1) % len(clips)].frames for i in range(len(clips))]], clips)  # out of sync
    assert real["f1"] > 0.9 and real["f1_ci95"][0] <= real["f1"] <= real["f1_ci95"][1] + 1e-9
    assert real["f1_seed_std"] == 0.0 and len(real["f1_per_seed"]) == 2
    assert static["f1"] == 0.0 and static["detected"] == 0
    assert others["f1"] < real["f1"] - 0.3


def test_bootstrap_f1_interval_brackets_the_pooled_f1_and_narrows_with_more_clips():
    rng = np.random.default_rng(0)
    def counts(n):
        true = rng.integers(1, 5, n)
        return np.stack([true, true, rng.binomial(true, 0.6)], 1)
    small, large = counts(10), counts(400)
    lo, hi = bootstrap_f1(small)
    pooled = 2 * small[:, 2].sum() / (small[:, 0].sum() + small[:, 1].sum())
    assert lo <= pooled <= hi
    lo2, hi2 = bootstrap_f1(large)
    assert hi2 - lo2 < hi - lo


def test_the_picture_shows_each_clip_and_row(tmp_path):
    manifest = write_toy_dataset(tmp_path / "data", train_clips=0, test_clips=2, seed=5)
    clips = read_test_clips(manifest)
    path = onsets_picture(tmp_path / "frames.png", clips, {"Ground truth": [c.frames for c in clips],
                                                           "Static": [np.repeat(c.frames[:1], 12, 0) for c in clips]})
    image = np.asarray(Image.open(path))
    assert image.shape[1] == 150 + 12 * 64 and image.shape[0] > 2 * (28 + 2 * 64)
    # red onset ticks are drawn over the true flash frames of the first clip
    x = 150 + clips[0].event_frames[0] * 64 + 10
    assert tuple(image[1, x]) == (255, 0, 0)


def test_markdown_table_lists_every_row_loss_and_target(tmp_path):
    from benchmarks.toy_table1 import markdown_table

    manifest = write_toy_dataset(tmp_path, train_clips=0, test_clips=3, seed=6)
    clips = read_test_clips(manifest)
    metrics = {name: {"value": value, "ci95": [value, value]}
               for name, value in (("RelSync", 50.0), ("AlignSync", 25.0), ("FID", 0.0), ("FVD", 0.0))}
    row = event_row([[c.frames for c in clips]], clips) | {"metrics": metrics}
    static = row | {"metrics": metrics | {"FID": {"value": 812.3, "ci95": None}}}
    result = {"table": {"Ground truth": row, "Static": static},
              "held_out_loss": {"avsyncd": {"real": 0.1, "shuffled": 0.2, "null": 0.3}},
              "targets": {"relsync_ground_truth_50": True, "avsyncd_eta4_event_f1_ge_0.8": False}}
    text = markdown_table(result)
    assert "| Ground truth | 1.000 (1.00–1.00) | 1.00 |" in text and "| Static |" in text
    assert "| 50.0 (50.0–50.0) | 25.0 (25.0–25.0) | 0.0 (0.0–0.0) | 0.0 (0.0–0.0) |" in text
    assert "| 812.3 (nan–nan) |" in text
    assert "| avsyncd | 0.1000 | 0.2000 | 0.3000 |" in text
    assert "| avsyncd_eta4_event_f1_ge_0.8 | **no** |" in text


def test_evaluation_rows_score_the_ground_truth_as_itself_and_static_as_farther(tmp_path):
    """The evaluation stage's metrics on real toy clips with the table's stand-in networks (FID's
    Inception calibrated on toy frames, the reference release's I3D, a random tiny ImageBind) and a
    micro sync classifier: the ground truth has RelSync 50 and Fréchet distances of 0, the static
    videos are farther on FID and FVD."""
    import torch

    from benchmarks.toy_table1 import evaluation_rows, stand_in_feature_networks
    from model.metrics.fid import load_fid_inception
    from sync_classifier.config import load_config as load_sync_config
    from sync_classifier.model import SyncClassifier

    manifest = write_toy_dataset(tmp_path / "data", train_clips=3, test_clips=4, seed=7)
    clips = read_test_clips(manifest)
    torch.manual_seed(0)
    sync_config = load_sync_config("tiny").model.model_copy(
        update=dict(audio_widths=(4, 8, 8, 16), video_widths=(4, 8, 8, 16), head_width=16, image_size=32))
    sync_dir = SyncClassifier(sync_config).eval().save_pretrained(tmp_path / "sync")
    weights = stand_in_feature_networks(tmp_path, manifest, tmp_path / "sync", calibration_clips=3)
    load_fid_inception(weights["inception"])  # the real file's layout
    rows = {"Ground truth": [[c.frames for c in clips]],
            "Static": [[np.repeat(c.frames[:1], 12, axis=0) for c in clips]] * 2}  # two noise seeds
    metrics = evaluation_rows(weights, tmp_path / "cache", clips, rows)
    truth, static = metrics["Ground truth"], metrics["Static"]
    assert set(truth) >= {"RelSync", "AlignSync", "IA", "IT", "FID", "FVD"} and sync_dir
    assert truth["RelSync"]["value"] == pytest.approx(50.0)
    assert truth["FID"]["value"] == pytest.approx(0.0, abs=1e-2) and truth["FVD"]["value"] == pytest.approx(0.0, abs=1e-2)
    assert static["FID"]["value"] > 1.0 and static["FVD"]["value"] > 1.0
    assert 0.0 <= static["AlignSync"]["value"] <= static["RelSync"]["value"] <= 100.0
