"""The VGGSoundSync protocol (SPEC): 31 offsets 0.04 s apart, the centre is synchronized, ±5 counts."""

import numpy as np
import pytest
import torch

from sync_classifier.data import center_compact_starts, media_clips
from sync_classifier.evaluate import NUM_OFFSETS, OFFSET_STEP_S, OffsetScores, accuracy_from_scores, offset_scores


def _peaked(index: int, k: int = NUM_OFFSETS) -> np.ndarray:
    scores = np.zeros(k, np.float32)
    scores[index] = 1.0
    return scores


def test_protocol_constants():
    assert NUM_OFFSETS == 31 and OFFSET_STEP_S == pytest.approx(0.04)


@pytest.mark.parametrize("predicted, correct", [(15, True), (10, True), (20, True), (9, False), (21, False), (0, False)])
def test_within_five_offsets_of_the_centre_is_correct(predicted, correct):
    accuracy = accuracy_from_scores([OffsetScores(_peaked(predicted), _peaked(15))])
    assert accuracy.a2v == float(correct) and accuracy.v2a == 1.0
    assert accuracy.a2v_exact == float(predicted == 15) and accuracy.videos == 1


def test_accuracy_is_the_fraction_over_videos():
    scores = [OffsetScores(_peaked(15), _peaked(3)), OffsetScores(_peaked(26), _peaked(17))]
    accuracy = accuracy_from_scores(scores)
    assert (accuracy.a2v, accuracy.v2a, accuracy.a2v_exact, accuracy.v2a_exact) == (0.5, 0.5, 0.5, 0.0)


def test_one_batched_pass_equals_scoring_each_pair_alone(micro_model, noise_media):
    media = noise_media(3.4)
    batched = offset_scores(micro_model, media)
    cfg = micro_model.config
    starts = center_compact_starts(0.0, media.duration_s, NUM_OFFSETS, OFFSET_STEP_S, cfg.clip_s)
    fbank, video = media_clips(media, starts, cfg)
    centre = NUM_OFFSETS // 2
    with torch.no_grad():
        a2v = [micro_model(fbank[centre:centre + 1], video[i:i + 1]).item() for i in range(NUM_OFFSETS)]
        v2a = [micro_model(fbank[i:i + 1], video[centre:centre + 1]).item() for i in range(NUM_OFFSETS)]
    np.testing.assert_allclose(batched.a2v, a2v, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(batched.v2a, v2a, rtol=1e-4, atol=1e-5)
