"""The one ImageBind audio front end (issue 14, local fix 2): `model.encoders.imagebind_audio`
holds the Kaldi log-mel recipe and its constants; ImageBind's clips, AVSyncD's encoders (the
stand-in's tokens) and the sync classifier's spectrograms all go through it.

`tests/fixtures/audio/imagebind_frontend_reference.npz` was written from each caller's output on
the real VGGSound wav *before* the three copies of the recipe were merged (per case: shape, sum,
sum of squares, 512 values at fixed positions), so this test shows every caller's output is
unchanged (it was bit-identical when the merge landed)."""

import numpy as np
import pytest
import torch

from curation.media import read_audio
from model.audio_conditioning import StandInAudioEncoder
from model.encoders import imagebind_audio
from model.encoders.imagebind_audio import audio_clips, centre_clip_mel
from sync_classifier.config import ModelConfig
from sync_classifier.preprocessing import audio_to_fbank, clip_fbanks


@pytest.fixture(scope="module")
def outputs(fixtures_dir):
    wave = read_audio(fixtures_dir / "audio" / "FwVYUHKoLtQ_000034.wav", 16000)  # 10.0018 s
    cfg, encoder = ModelConfig(), StandInAudioEncoder(token_dim=32)
    return {
        "audio_clips_10s": audio_clips(wave),
        "audio_clips_3s": audio_clips(wave[:48000]),  # overlapping clips: upstream's in-place quirk
        "centre_clip_mel_10s": centre_clip_mel(wave),
        "centre_clip_mel_1s": centre_clip_mel(wave[:16000]),  # zero-padded audio
        "centre_clip_mel_2s": centre_clip_mel(wave[32000:64000]),
        "standin_encode_2x2.5s": encoder.encode(torch.from_numpy(np.stack([wave[:40000], wave[5000:45000]]))),
        "standin_encode_1.25s": encoder.encode(torch.from_numpy(wave[:20000])[None]),
        "sync_audio_to_fbank_10s": audio_to_fbank(wave, cfg),
        "sync_audio_to_fbank_1.25s": audio_to_fbank(wave[:20000], cfg),  # short: spectrogram padded, not audio
        "sync_audio_to_fbank_2s": audio_to_fbank(torch.from_numpy(wave[16000:48000]), cfg),
        "sync_clip_fbanks_hop_grid": clip_fbanks(wave, [0.0, 0.2, 0.4, 8.5], cfg),  # one fbank, sliced
        "sync_clip_fbanks_off_grid": clip_fbanks(wave, [0.013, 1.0, 2.5], cfg),  # one fbank per clip
    }


def test_every_caller_matches_its_output_before_the_merge(outputs, fixtures_dir):
    reference = np.load(fixtures_dir / "audio" / "imagebind_frontend_reference.npz")
    assert sorted(outputs) == sorted({key.split("/")[0] for key in reference.files})
    for name, tensor in outputs.items():
        value = tensor.detach().numpy().astype(np.float64)
        assert value.shape == tuple(reference[f"{name}/shape"]), name
        flat = value.ravel()
        # float32 kernels differ by CPU (AVX2 / AVX-512 paths): ~1e-5 on values ~1 is rounding, a changed
        # recipe moves them by far more
        np.testing.assert_allclose(flat[reference[f"{name}/positions"]], reference[f"{name}/values"], atol=1e-4,
                                   rtol=0, err_msg=name)
        np.testing.assert_allclose([flat.sum(), (flat * flat).sum()], reference[f"{name}/sum"], rtol=1e-5, atol=1e-3,
                                   err_msg=name)


def test_the_callers_agree_where_the_recipes_coincide(outputs):
    # A 10 s waveform: ImageBind's AVSyncD clip and the sync classifier's clip are the same centre 2 s.
    torch.testing.assert_close(outputs["centre_clip_mel_10s"], outputs["sync_audio_to_fbank_10s"], atol=0, rtol=0)


def test_one_set_of_constants():
    cfg = ModelConfig()
    assert (cfg.sample_rate, cfg.num_mel_bins, cfg.fbank_frames, cfg.fbank_mean, cfg.fbank_std, cfg.clip_s) == (
        imagebind_audio.SAMPLE_RATE, imagebind_audio.MEL_BINS, imagebind_audio.MEL_FRAMES, imagebind_audio.FBANK_MEAN,
        imagebind_audio.FBANK_STD, imagebind_audio.CLIP_S)
    encoder = StandInAudioEncoder(token_dim=8)
    assert (encoder.sample_rate, encoder.clip_samples) == (imagebind_audio.SAMPLE_RATE, 32000)
