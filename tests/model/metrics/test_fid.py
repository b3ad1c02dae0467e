"""FID: preprocessing on hand-made frames, the authors' reference numbers in both BatchNorm modes,
torchmetrics' standard protocol, and missing / wrong weight files."""

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from curation.metrics.neural_scoring import ModelWeightsMissing
from model.metrics.fid import (
    clip_fid_features,
    fid_features,
    fid_from_clip_features,
    fid_input,
    load_fid_inception,
)
from model.metrics.weight_files import FID_INCEPTION


def constant_frames(values, size=(64, 48)) -> np.ndarray:
    return np.stack([np.full((*size, 3), v, dtype=np.uint8) for v in values])


# ---- preprocessing ------------------------------------------------------------------------------

def test_asva_input_is_229_square_scaled_to_minus_one_one():
    x = fid_input(constant_frames([0, 51, 255]), "asva")
    assert x.shape == (3, 3, 229, 229) and x.dtype == torch.float32
    # Bicubic resampling keeps a constant image constant: v ↦ 2 v / 255 − 1 exactly.
    for frame, value in zip(x, [0, 51, 255]):
        assert torch.allclose(frame, torch.full_like(frame, 2 * value / 255 - 1), atol=1e-6)


def test_asva_input_is_bicubic_with_antialias_not_bilinear():
    frames = np.zeros((1, 64, 64, 3), np.uint8)
    frames[:, :, 32:] = 255  # a vertical edge: bicubic overshoots on both sides, bilinear cannot
    x = fid_input(frames, "asva")[0, 0]
    assert torch.allclose(x, x[:1].expand_as(x), atol=1e-5)  # rows identical
    assert x.min() < -1 - 1e-3 and x.max() > 1 + 1e-3  # overshoot: bicubic, no clamping (as the authors)
    assert torch.allclose(x.flip(-1), -x, atol=1e-5)  # symmetric around the edge
    # Downscaling with antialias averages: a 1-px checkerboard at 512² becomes flat grey at 229².
    checker = ((np.indices((512, 512)).sum(0) % 2) * 255).astype(np.uint8)
    flat = fid_input(np.repeat(checker[None, :, :, None], 3, -1), "asva")
    assert flat.abs().max() < 0.05


def test_standard_input_is_299_square_scaled_like_torch_fidelity():
    x = fid_input(constant_frames([0, 128, 255]), "standard")
    assert x.shape == (3, 3, 299, 299)
    for frame, value in zip(x, [0, 128, 255]):
        assert torch.allclose(frame, torch.full_like(frame, (value - 128) / 128), atol=1e-6)


def test_fid_input_rejects_float_or_channel_first_frames():
    with pytest.raises(ValueError, match="uint8"):
        fid_input(np.zeros((2, 8, 8, 3), np.float32))
    with pytest.raises(ValueError, match=r"\(N, H, W, 3\)"):
        fid_input(np.zeros((2, 3, 8, 8), np.uint8))
    with pytest.raises(ValueError, match="protocol"):
        fid_input(np.zeros((2, 8, 8, 3), np.uint8), "tf")


def test_the_first_frame_of_every_clip_is_excluded(fid_net):
    rng = np.random.default_rng(0)
    real = rng.integers(0, 256, (2, 2, 32, 32, 3), dtype=np.uint8)
    real_features = clip_fid_features(real, fid_net)  # (2, 2, 2048); eval mode: per-frame features
    inverted = fid_features(255 - real.reshape(-1, 32, 32, 3), fid_net).reshape(2, 2, -1)
    first_frames_differ = np.concatenate([inverted[:, :1], real_features[:, 1:]], axis=1)
    second_frames_differ = np.concatenate([real_features[:, :1], inverted[:, 1:]], axis=1)
    changed = fid_from_clip_features(real_features, second_frames_differ)
    assert changed > 1e-3
    assert abs(fid_from_clip_features(real_features, first_frames_differ)) < 1e-4 * changed


# ---- the authors' reference -------------------------------------------------------------------

@pytest.fixture(scope="module")
def eval_mode_features(reference_videos, fid_net):
    real, generated = reference_videos
    return clip_fid_features(real, fid_net), clip_fid_features(generated, fid_net)


def test_asva_release_eval_mode_features_and_fid(eval_mode_features, reference_eval_dir, reference_results):
    ref = load_file(reference_eval_dir / "fid_features_evalmode.safetensors")
    ours_real, ours_generated = eval_mode_features
    np.testing.assert_allclose(ours_real, ref["real"].numpy(), atol=1e-5, rtol=0)
    np.testing.assert_allclose(ours_generated, ref["generated"].numpy(), atol=1e-5, rtol=0)
    value = fid_from_clip_features(ours_real, ours_generated)
    assert value == pytest.approx(reference_results["FID_inception_eval_mode"], rel=1e-3)  # 2.418485


def test_asva_release_authors_train_mode_reproduces_their_batching(reference_videos, fid_net, reference_eval_dir,
                                                                  reference_results):
    # Their eval.py: one call per ground-truth video (its 2 clips batched), one per generated clip.
    real, generated = reference_videos
    before = {k: v.clone() for k, v in fid_net.state_dict().items()}
    ours_real = clip_fid_features(real, fid_net, bn_mode="authors-train", clips_per_call=2)
    ours_generated = clip_fid_features(generated, fid_net, bn_mode="authors-train", clips_per_call=1)
    ref = load_file(reference_eval_dir / "fid_features_trainmode.safetensors")
    np.testing.assert_allclose(ours_real, ref["real"].numpy(), atol=5e-2, rtol=0)
    np.testing.assert_allclose(ours_generated, ref["generated"].numpy(), atol=5e-2, rtol=0)
    value = fid_from_clip_features(ours_real, ours_generated)
    assert value == pytest.approx(reference_results["FID_authors_eval_py_trainmode_bn"], rel=1e-3)  # 66.587851
    # The loaded network is left as it was: eval mode, running statistics untouched.
    assert not fid_net.training
    assert all(torch.equal(before[k], v) for k, v in fid_net.state_dict().items())


def test_asva_release_authors_train_mode_depends_on_batching_eval_mode_does_not(reference_videos, fid_net):
    frames = reference_videos[0][:2].reshape(-1, 64, 64, 3)  # 24 frames
    one_call = fid_features(frames, fid_net, bn_mode="authors-train", batch_size=24)
    two_calls = fid_features(frames, fid_net, bn_mode="authors-train", batch_size=12)
    assert np.abs(one_call - two_calls).max() > 1e-2
    np.testing.assert_allclose(fid_features(frames[:12], fid_net, batch_size=12),
                               fid_features(frames[:12], fid_net, batch_size=5), atol=1e-5)


# ---- standard protocol ------------------------------------------------------------------------

def test_standard_protocol_features_equal_torchmetrics_on_the_same_weights(fid_net, inception_path):
    from torchmetrics.image.fid import NoTrainInceptionV3

    frames = np.random.default_rng(1).integers(0, 256, (3, 40, 56, 3), dtype=np.uint8)
    theirs_net = NoTrainInceptionV3(name="inception-v3-compat", features_list=["2048"],
                                    feature_extractor_weights_path=str(inception_path))
    with torch.no_grad():
        theirs = theirs_net(torch.from_numpy(frames).permute(0, 3, 1, 2).contiguous()).numpy()
    ours = fid_features(frames, fid_net, protocol="standard")
    assert ours.shape == (3, 2048)
    np.testing.assert_allclose(ours, theirs, atol=1e-4 * np.abs(theirs).max(), rtol=0)


def test_standard_protocol_has_no_authors_train_mode(fid_net):
    with pytest.raises(ValueError, match="eval mode only"):
        fid_features(constant_frames([1, 2]), fid_net, protocol="standard", bn_mode="authors-train")


# ---- weight files -----------------------------------------------------------------------------

def test_missing_weight_file_names_it_and_where_it_is_published(tmp_path):
    with pytest.raises(ModelWeightsMissing) as info:
        load_fid_inception(tmp_path / FID_INCEPTION.name)
    message = str(info.value)
    assert isinstance(info.value, FileNotFoundError)
    assert FID_INCEPTION.name in message and "github.com/mseitzer/pytorch-fid/releases" in message


def test_a_state_dict_of_another_layout_is_refused(tmp_path):
    path = tmp_path / "other.pth"
    torch.save({"conv.weight": torch.zeros(3, 3)}, path)
    with pytest.raises(ValueError, match="pytorch-fid's FID Inception layout"):
        load_fid_inception(path)
