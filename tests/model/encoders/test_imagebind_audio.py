"""ImageBind's audio preprocessing on real VGGSound audio, against torchaudio's Kaldi fbank and
against numbers produced by upstream's own code (facebookresearch/ImageBind `data.py` with
pytorchvideo 0.1.5's clip sampler, run once on this file)."""

import numpy as np
import pytest
import torch
from torchaudio.compliance import kaldi

from model.encoders.imagebind_audio import (audio_clips, centre_clip_mel, clip_bounds, fbank_frames, kaldi_log_mel,
                                            normalise_log_mel)

from .conftest import read_wav

EXCERPT = slice(48123, 96123)  # a 3 s excerpt, like a curation window: upstream's clips overlap


@pytest.fixture(scope="module")
def wave(vggsound_wav):
    samples = read_wav(vggsound_wav)
    assert len(samples) == 160029  # 10.0018 s at 16 kHz
    return samples


def upstream_recipe_fbank(clip: np.ndarray) -> torch.Tensor:
    """The recipe stated in ImageBind's data.py, called directly on torchaudio."""
    x = torch.from_numpy(clip.copy())[None]
    return kaldi.fbank(x - x.mean(), htk_compat=True, sample_frequency=16000, use_energy=False,
                       window_type="hanning", num_mel_bins=128, dither=0.0, frame_length=25, frame_shift=10)


def test_clip_bounds_follow_upstreams_sampler():
    assert clip_bounds(160029) == [(0, 32000), (42676, 74676), (85352, 117352)]  # upstream, this file
    assert clip_bounds(48000) == [(0, 32000), (5333, 37333), (10666, 42666)]  # a 3 s window: overlaps
    assert clip_bounds(16000) == [(0, 32000)] * 3  # shorter than a clip: all at 0, cut by the end


def test_non_overlapping_clips_match_torchaudio_fbank(wave):
    mels = audio_clips(wave)
    assert mels.shape == (3, 1, 128, 204) and mels.dtype == torch.float32
    for (start, stop), mel in zip(clip_bounds(len(wave)), mels):
        fbank = upstream_recipe_fbank(wave[start:stop])  # (198, 128)
        assert fbank.shape == (fbank_frames(stop - start), 128) == (198, 128)
        torch.testing.assert_close(mel[0, :, :198], (fbank.T + 4.268) / 9.138, atol=1e-5, rtol=0)
        torch.testing.assert_close(mel[0, :, 198:], torch.full((128, 6), 4.268 / 9.138))  # zero-padded frames


def test_matches_upstream_numbers_on_a_10_s_file(wave):
    mels = audio_clips(wave)
    torch.testing.assert_close(mels.mean(dim=(1, 2, 3)), torch.tensor([-0.023715, 0.020176, 0.017731]), atol=2e-6, rtol=0)
    got = torch.stack([mels[0, 0, 5, 7], mels[1, 0, 100, 50], mels[2, 0, 64, 197]])
    torch.testing.assert_close(got, torch.tensor([-0.257674, 0.312898, -0.563860]), atol=2e-6, rtol=0)


def test_overlapping_clips_keep_the_in_place_mean_subtraction(wave):
    window = wave[EXCERPT]
    mels = audio_clips(window)
    # upstream's output on the same 3 s (in-place subtraction on a shared buffer included)
    torch.testing.assert_close(mels.mean(dim=(1, 2, 3)), torch.tensor([0.033701, 0.008739, 0.000494]), atol=2e-6, rtol=0)
    torch.testing.assert_close(torch.stack([mels[1, 0, 0, 0], mels[2, 0, 127, 100]]),
                               torch.tensor([-0.310694, -0.273058]), atol=2e-6, rtol=0)
    # …which differs from subtracting each clip's own mean on a fresh copy, except for clip 1
    naive = [normalise_log_mel(upstream_recipe_fbank(window[a:b])) for a, b in clip_bounds(len(window))]
    torch.testing.assert_close(mels[0], naive[0], atol=1e-5, rtol=0)
    assert (mels[1] - naive[1]).abs().max() > 1e-3 and (mels[2] - naive[2]).abs().max() > 1e-3
    assert np.array_equal(window, wave[EXCERPT])  # the caller's array is untouched


def test_centre_clip_for_avsyncd(wave):
    mel = centre_clip_mel(wave)  # 10 s → the centre 2 s, one clip
    centre = wave[64014:96014]
    torch.testing.assert_close(mel, normalise_log_mel(upstream_recipe_fbank(centre)), atol=1e-5, rtol=0)
    short = centre_clip_mel(wave[:16000])  # 1 s → zero-padded to 2 s at the end
    padded = np.concatenate([wave[:16000], np.zeros(16000, np.float32)])
    expected = kaldi_log_mel(torch.from_numpy(padded - padded.mean())[None])
    torch.testing.assert_close(short, normalise_log_mel(expected), atol=1e-5, rtol=0)


def test_sample_rate_is_checked(wave):
    with pytest.raises(ValueError, match="16000"):
        audio_clips(wave, sample_rate=44100)
