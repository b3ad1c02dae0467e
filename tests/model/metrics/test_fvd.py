"""FVD: I3D preprocessing on hand-made clips, the authors' reference number, the standard
16-frame protocol, missing weight files."""

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from curation.metrics.neural_scoring import ModelWeightsMissing
from model.metrics.fvd import fvd, fvd_features, fvd_input, load_i3d
from model.metrics.weight_files import I3D


def constant_clip(values, size=(48, 64)) -> np.ndarray:
    return np.stack([np.full((*size, 3), v, dtype=np.uint8) for v in values])[None]


def test_asva_input_is_the_first_12_frames_at_224_square_in_minus_one_one():
    values = list(range(0, 14 * 17, 17))  # 14 frames, frame k has value 17 k
    x = fvd_input(constant_clip(values), "asva")
    assert x.shape == (1, 3, 12, 224, 224) and x.dtype == torch.float32  # (N, C, T, H, W)
    for k in range(12):
        assert torch.allclose(x[0, :, k], torch.full_like(x[0, :, k], 2 * values[k] / 255 - 1), atol=1e-6)


def test_asva_resize_is_bicubic_per_frame():
    clip = np.zeros((1, 12, 64, 64, 3), np.uint8)
    clip[..., 32:, :] = 255
    x = fvd_input(clip, "asva")[0, 0, 0]
    assert x.min() < -1 - 1e-3 and x.max() > 1 + 1e-3  # bicubic overshoot at the edge, no clamping


def test_standard_input_is_16_raw_frames_for_the_network_to_rescale():
    values = list(range(0, 18 * 10, 10))
    x = fvd_input(constant_clip(values), "standard")
    assert x.shape == (1, 3, 16, 48, 64)
    assert torch.equal(x[0, 0, :, 0, 0], torch.tensor(values[:16], dtype=torch.float32))


def test_standard_protocol_refuses_12_frame_clips():
    with pytest.raises(ValueError, match="at least 16 frames"):
        fvd_input(constant_clip([0] * 12), "standard")


def test_frames_after_the_protocols_length_are_ignored(i3d_net):
    rng = np.random.default_rng(0)
    clips = rng.integers(0, 256, (3, 18, 32, 32, 3), dtype=np.uint8)
    tampered = clips.copy()
    tampered[:, 16:] = 0
    np.testing.assert_array_equal(fvd_features(clips, i3d_net, "standard"), fvd_features(tampered, i3d_net, "standard"))
    tampered[:, 12:] = 0
    np.testing.assert_array_equal(fvd_features(clips, i3d_net), fvd_features(tampered, i3d_net))
    assert fvd_features(clips, i3d_net, "standard").shape == (3, 400)


def test_asva_release_fvd_features_and_number(reference_videos, i3d_net, reference_eval_dir, reference_results):
    real, generated = reference_videos
    ours_real, ours_generated = fvd_features(real, i3d_net, batch_size=3), fvd_features(generated, i3d_net)
    ref = load_file(reference_eval_dir / "fvd_features.safetensors")
    np.testing.assert_allclose(ours_real, ref["real"].numpy(), atol=1e-5, rtol=0)
    np.testing.assert_allclose(ours_generated, ref["generated"].numpy(), atol=1e-5, rtol=0)
    assert fvd(real, generated, i3d_net) == pytest.approx(reference_results["FVD_standin_i3d"], rel=1e-3)  # 6.998580


def test_missing_i3d_names_the_file_and_where_it_is_published(tmp_path):
    with pytest.raises(ModelWeightsMissing) as info:
        load_i3d(tmp_path / I3D.name)
    assert I3D.name in str(info.value) and "stylegan-v" in str(info.value).lower()


def test_a_file_that_is_not_torchscript_is_refused(tmp_path):
    path = tmp_path / I3D.name
    torch.save({"w": torch.zeros(2)}, path)
    with pytest.raises(ValueError, match="TorchScript"):
        load_i3d(path)
