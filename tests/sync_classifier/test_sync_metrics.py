import math

import numpy as np
import pytest
import torch

from sync_classifier.preprocessing import clip_fbanks, clip_videos
from sync_classifier.sync_metrics import (
    ImageAudioScorer,
    align_probability,
    alignsync,
    psync,
    relsync,
    sync_report,
    window_psync,
)


def test_psync_is_a_plain_softmax_at_the_synchronized_candidate():
    e = math.exp
    assert psync(np.array([1.0, 2.0, 3.0]), 2) == pytest.approx(e(3) / (e(1) + e(2) + e(3)))
    assert psync(np.array([1.0, 2.0, 3.0]), 0) == pytest.approx(e(1) / (e(1) + e(2) + e(3)))
    batch = psync(np.array([[0.0, 0.0], [0.0, math.log(3)]]), 1)
    np.testing.assert_allclose(batch, [0.5, 0.75])


def test_relsync_compares_generated_with_reference():
    assert relsync(1.7, 1.7) == pytest.approx(0.5)  # the ground truth against itself
    assert relsync(2.0, 1.0) == pytest.approx(math.exp(2) / (math.exp(1) + math.exp(2)))
    np.testing.assert_allclose(relsync(np.array([0.0, 1.0]), np.array([1.0, 0.0])),
                               [1 / (1 + math.e), math.e / (1 + math.e)])


def test_align_probability_and_alignsync_by_hand():
    # Frames 2..F: IA 0.3 (same as the first frame → 0.5) and 0.5 (→ sigmoid(0.2)).
    p = align_probability(0.3, np.array([0.3, 0.5]))
    assert p == pytest.approx((0.5 + 1 / (1 + math.exp(-0.2))) / 2)
    assert alignsync(0.5, p) == pytest.approx(0.5 * p)
    # Raw cosines stay in [-1, 1], so P_Align is bounded by sigmoid(±2) and stays near 0.5.
    assert align_probability(1.0, np.full(11, -1.0)) == pytest.approx(1 / (1 + math.exp(2)))


class StandInScorer:
    """IA = −|mean brightness/255 − audio RMS·10|: deterministic, depends on both inputs."""

    def __init__(self):
        self.calls = []

    def image_audio_scores(self, images, audio, sample_rate):
        self.calls.append((images.copy(), len(audio), sample_rate))
        rms = float(np.sqrt(np.mean(np.square(audio))))
        return -np.abs(images.reshape(len(images), -1).mean(1) / 255.0 - 10 * rms)


def test_sync_report_feeds_the_scorer_the_ground_truth_first_frame_then_generated_frames(micro_model):
    rng = np.random.default_rng(0)
    generated = rng.integers(0, 256, (12, 40, 40, 3), dtype=np.uint8)
    reference = rng.integers(0, 256, (12, 40, 40, 3), dtype=np.uint8)
    audio = (0.05 * rng.standard_normal(40000)).astype(np.float32)  # 2.5 s: the centre 2 s is used
    scorer = StandInScorer()
    assert isinstance(scorer, ImageAudioScorer)
    report = sync_report(micro_model, audio, generated, reference, scorer)
    images, n_audio, sr = scorer.calls[0]
    assert images.shape == (12, 224, 224, 3) and images.dtype == np.uint8 and n_audio == 32000 and sr == 16000
    # 40² frames upscaled to 224²: frame means are kept (to rounding), so the order is checkable.
    means = images.reshape(12, -1).mean(1)
    np.testing.assert_allclose(means[0], reference[0].mean(), atol=2.0)
    np.testing.assert_allclose(means[1:], generated[1:].reshape(11, -1).mean(1), atol=2.0)
    ia = scorer.image_audio_scores(images, audio[4000:36000], 16000)
    assert report.align_probability == pytest.approx(align_probability(ia[0], ia[1:]))
    assert report.relsync == pytest.approx(relsync(report.score_generated, report.score_reference))
    assert report.alignsync == pytest.approx(report.relsync * report.align_probability)
    same = sync_report(micro_model, audio, reference, reference)
    assert same.relsync == pytest.approx(0.5) and same.alignsync is None


def test_window_psync_scores_each_window_against_its_shifted_candidates(micro_model, noise_media):
    media = noise_media(7.0)
    windows = [(0.0, 3.0), (2.0, 5.0), (4.0, 7.0), (6.0, 7.0)]  # the last one is too short for a 2 s clip
    out = window_psync(micro_model, media, windows, shift_s=0.2, max_offset_s=2.0)
    assert set(out) == {"psync", "sync_score", "sync_offset_s"}
    assert np.isnan(out["psync"][3])
    assert np.all((out["psync"][:3] > 0) & (out["psync"][:3] <= 1))
    # The middle window has all 21 candidates: check it against a direct computation.
    cfg = micro_model.config
    starts = 2.5 + np.arange(-10, 11) * 0.2
    with torch.no_grad():
        a = micro_model.encode_audio(clip_fbanks(media.audio, [2.5], cfg))
        v = micro_model.encode_video(clip_videos(media.frames, media.fps, starts, cfg))
        scores = micro_model.head.all_pairs(a, v)[0].numpy()
    assert out["psync"][1] == pytest.approx(psync(scores, 10), rel=1e-4)
    assert out["sync_score"][1] == pytest.approx(scores[10], rel=1e-4, abs=1e-5)
    assert out["sync_offset_s"][1] == pytest.approx(-2.0 + 0.2 * int(np.argmax(scores)))
