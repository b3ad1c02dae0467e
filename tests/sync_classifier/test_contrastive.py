import math

import pytest
import torch

from sync_classifier.contrastive import sync_contrastive_loss


def test_loss_on_a_hand_checked_two_clip_case():
    # φ(a_i, v_j): audio 0 prefers video 0 (2 vs 0); audio 1 is undecided (1 vs 1).
    scores = torch.tensor([[[2.0, 0.0], [1.0, 1.0]]])
    out = sync_contrastive_loss(scores, tau=1.0)
    a2v = (math.log(1 + math.exp(-2)) + math.log(2)) / 2  # rows: [2, 0] → 0, [1, 1] → 1
    v2a = (math.log(1 + math.exp(-1)) + math.log(1 + math.exp(-1))) / 2  # columns: [2, 1] → 0, [0, 1] → 1
    assert out.a2v_loss.item() == pytest.approx(a2v, rel=1e-6)
    assert out.v2a_loss.item() == pytest.approx(v2a, rel=1e-6)
    assert out.loss.item() == pytest.approx((a2v + v2a) / 2, rel=1e-6)
    # Row 1 ties: argmax takes index 0, so one of two audios is right; both columns are right.
    assert out.a2v_accuracy.item() == 0.5 and out.v2a_accuracy.item() == 1.0


def test_temperature_divides_the_scores_and_batches_average():
    scores = torch.tensor([[[2.0, 0.0], [1.0, 1.0]]])
    sharp = sync_contrastive_loss(scores, tau=0.1)
    assert sharp.a2v_loss.item() == pytest.approx((math.log(1 + math.exp(-20)) + math.log(2)) / 2, rel=1e-5)
    doubled = sync_contrastive_loss(torch.cat([scores, scores.flip(1).flip(2)]), tau=1.0)
    assert doubled.loss.item() == pytest.approx(sync_contrastive_loss(scores, 1.0).loss.item(), rel=1e-6)


def test_uniform_scores_give_log_k():
    out = sync_contrastive_loss(torch.zeros(3, 21, 21), tau=0.1)
    assert out.loss.item() == pytest.approx(math.log(21), rel=1e-6)


def test_rejects_non_square_score_groups():
    with pytest.raises(ValueError):
        sync_contrastive_loss(torch.zeros(2, 3, 4))
