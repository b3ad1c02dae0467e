"""AVSyncD's time-aware ImageBind audio tokens: shapes, per-frame segments, null audio."""

import pytest
import torch

from model.encoders.audio_tokens import (ImageBindAudioEncoder, frame_token_index, frame_token_mask,
                                         gather_frame_tokens, load_imagebind_audio_encoder, segment_starts)
from model.encoders.imagebind_audio import centre_clip_mel

from .conftest import read_wav


@pytest.fixture(scope="module")
def encoder(tiny_checkpoint):
    return load_imagebind_audio_encoder(tiny_checkpoint, preset="tiny")


def test_segments_of_the_paper_grid():
    assert segment_starts(12) == [0, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17]  # SPEC "Audio tokens"
    mask = frame_token_mask(12)
    assert mask.shape == (12, 229) and mask.dtype == torch.bool
    assert mask.sum(1).tolist() == [25] * 12 and mask[:, 0].all()
    # frame 2 (start column 3) sees columns 3 and 4 of every frequency row: tokens 1 + f·19 + τ
    expected = {0} | {1 + f * 19 + t for f in range(12) for t in (3, 4)}
    assert set(torch.nonzero(mask[2]).flatten().tolist()) == expected
    assert mask[:, 1:].any(0).all()  # every patch column is seen by some frame


def test_gathered_form_equals_the_mask():
    tokens = torch.randn(2, 229, 8)
    gathered = gather_frame_tokens(tokens, 12)
    assert gathered.shape == (2, 12, 25, 8)
    mask = frame_token_mask(12)
    for t in range(12):
        assert torch.equal(gathered[:, t], tokens[:, mask[t]])
    assert frame_token_index(12)[:, 0].eq(0).all()  # the cls token comes first


def test_encoder_implements_avsyncds_interface(encoder, vggsound_wav):
    from model.audio_conditioning import AudioTokenEncoder

    assert isinstance(encoder, AudioTokenEncoder)
    assert (encoder.sample_rate, encoder.clip_samples, encoder.num_tokens, encoder.token_dim) == (16000, 32000, 229, 32)
    wave = torch.from_numpy(read_wav(vggsound_wav))
    batch = torch.stack([wave[:48000], wave[100000:148000]])  # two 3 s waveforms → centre 2 s each
    tokens = encoder.encode(batch)
    assert tokens.shape == (2, 229, 32)
    # the authors' fresh LayerNorm: every token standardised (no affine part)
    torch.testing.assert_close(tokens.mean(-1), torch.zeros(2, 229), atol=1e-5, rtol=0)
    torch.testing.assert_close(tokens.std(-1, unbiased=False), torch.ones(2, 229), atol=1e-3, rtol=0)
    with torch.no_grad():
        trunk = encoder.imagebind.audio_tokens(centre_clip_mel(batch[1].numpy())[None])
    torch.testing.assert_close(tokens[1], torch.nn.functional.layer_norm(trunk[0], (32,), eps=1e-6))
    assert not torch.allclose(tokens[0], tokens[1], atol=1e-3)


def test_null_audio_tokens(encoder):
    null = encoder.encode_null(3)
    assert null.shape == (3, 229, 32) and torch.equal(null[0], null[2])
    silence = encoder.encode(torch.zeros(1, 32000))  # silent audio is *not* the null input
    assert not torch.allclose(null[:1], silence, atol=1e-3)
    assert encoder.frame_mask(12).shape == (12, 229) and gather_frame_tokens(null, 12, encoder.grid).shape == (3, 12, 25, 32)


def test_encoder_needs_the_audio_branch(tiny_checkpoint):
    from model.encoders.imagebind import load_imagebind

    with pytest.raises(ValueError, match="audio"):
        ImageBindAudioEncoder(load_imagebind(tiny_checkpoint, "tiny", modalities=("vision",)))
