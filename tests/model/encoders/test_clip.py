"""CLIP through open_clip: a tiny model saved as an open_clip checkpoint and loaded through the
same path as real weights; clear errors when weights are missing; the shared image transform."""

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision import transforms

from model.encoders.clip import (TINY_MODEL, expected_weights, load_clip, resolve_clip_weights,
                                 write_random_clip_checkpoint)
from model.encoders.images import CLIP_MEAN, CLIP_STD, clip_pixels


@pytest.fixture(scope="module")
def clip_bin(tmp_path_factory):
    return write_random_clip_checkpoint(tmp_path_factory.mktemp("clip") / "open_clip_pytorch_model.bin", seed=1)


def test_tiny_checkpoint_loads_strictly_from_file_and_folder(clip_bin, tmp_path):
    saved = torch.load(clip_bin, weights_only=True)
    encoder = load_clip(TINY_MODEL, pretrained=None, checkpoint=clip_bin)
    state = encoder.model.state_dict()
    assert set(state) == set(saved) and all(torch.equal(state[k], saved[k]) for k in saved)
    assert not encoder.model.training and not any(p.requires_grad for p in encoder.model.parameters())
    folder = tmp_path / "weights"
    write_random_clip_checkpoint(folder / "open_clip_model.safetensors", seed=1)
    from_folder = load_clip(TINY_MODEL, pretrained=None, checkpoint=folder)
    assert all(torch.equal(from_folder.model.state_dict()[k], saved[k]) for k in saved)


def test_image_features_are_unit_vectors_of_the_frames(clip_bin, media_dir):
    from curation.media import decode

    frames = decode(media_dir / "hitting_metal.mp4").frames[:6]  # (6, 224, 398, 3)
    encoder = load_clip(TINY_MODEL, pretrained=None, checkpoint=clip_bin)
    emb = encoder.embed_pixels(encoder.pixels(frames))
    assert emb.shape == (6, 32)
    torch.testing.assert_close(emb.norm(dim=-1), torch.ones(6))
    with torch.no_grad():
        direct = encoder.model.encode_image(clip_pixels(frames))
    torch.testing.assert_close(emb, torch.nn.functional.normalize(direct, dim=-1))


def test_offline_without_weights_names_the_expected_file():
    with pytest.raises(FileNotFoundError) as err:
        resolve_clip_weights("ViT-L-14", "openai")  # HF_HUB_OFFLINE=1 in tests, nothing cached
    message = str(err.value)
    assert "open_clip_model.safetensors" in message and "timm/vit_large_patch14_clip_224.openai" in message
    assert "checkpoint" in message
    assert "vit_large_patch14_clip_224.openai" in expected_weights("ViT-L-14", "openai")


def test_bad_local_weights_are_refused(tmp_path, clip_bin):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        resolve_clip_weights(TINY_MODEL, None, tmp_path / "nope.bin")
    (tmp_path / "a.bin").write_bytes(clip_bin.read_bytes())
    (tmp_path / "b.bin").write_bytes(clip_bin.read_bytes())
    with pytest.raises(FileNotFoundError, match="2 weight files"):
        resolve_clip_weights(TINY_MODEL, None, tmp_path)
    with pytest.raises(ValueError, match="unknown open_clip weights"):
        resolve_clip_weights("ViT-L-14", "no-such-tag")
    with pytest.raises(ValueError, match="give `checkpoint`"):
        resolve_clip_weights(TINY_MODEL, None, None)
    state = torch.load(clip_bin, weights_only=True)
    del state["visual.proj"]
    torch.save(state, tmp_path / "partial.bin")
    with pytest.raises(ValueError, match=r"does not fit (.|\n)*Missing key.*visual.proj"):
        load_clip(TINY_MODEL, pretrained=None, checkpoint=tmp_path / "partial.bin")  # strict: no silent init


def test_pixels_match_clips_own_transform():
    rng = np.random.default_rng(0)
    reference = transforms.Compose([transforms.Resize(224, interpolation=transforms.InterpolationMode.BICUBIC),
                                    transforms.CenterCrop(224), transforms.ToTensor(),
                                    transforms.Normalize(CLIP_MEAN, CLIP_STD)])
    frames = rng.integers(0, 256, (2, 224, 398, 3), dtype=np.uint8)  # curation frames: only a crop
    expected = torch.stack([reference(Image.fromarray(f)) for f in frames])
    torch.testing.assert_close(clip_pixels(frames), expected, atol=1e-5, rtol=0)
    smooth = np.repeat(np.repeat(rng.integers(0, 256, (2, 30, 50, 3), dtype=np.uint8), 10, 1), 10, 2)  # 300×500
    expected = torch.stack([reference(Image.fromarray(f)) for f in smooth])
    got = clip_pixels(smooth)
    assert got.shape == (2, 3, 224, 224)
    assert (got - expected).abs().mean() < 0.02  # resizing: torch's bicubic vs PIL's, close not equal
