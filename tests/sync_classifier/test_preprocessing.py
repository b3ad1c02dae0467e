import numpy as np
import pytest
import torch
import torchaudio

from model.encoders.images import CLIP_MEAN, CLIP_STD
from sync_classifier.config import load_config
from sync_classifier.preprocessing import (
    audio_to_fbank,
    clip_fbanks,
    clip_frame_indices,
    clip_videos,
    frames_to_tensor,
)

CFG = load_config("paper").model


def test_fbank_is_imagebind_style_128_by_204_with_fixed_normalisation():
    rng = np.random.default_rng(0)
    wave = (0.2 * rng.standard_normal(32000)).astype(np.float32) + 0.3  # DC offset is removed first
    fbank = audio_to_fbank(wave, CFG)
    assert fbank.shape == (1, 128, 204)
    centred = torch.from_numpy(wave - wave.mean())[None]
    raw = torchaudio.compliance.kaldi.fbank(centred, htk_compat=True, sample_frequency=16000, use_energy=False,
                                            window_type="hanning", num_mel_bins=128, dither=0.0,
                                            frame_length=25, frame_shift=10)
    assert raw.shape == (198, 128)  # 2 s → 198 frames, zero-padded to 204 before normalising
    torch.testing.assert_close(fbank[0, :, :198], (raw.T + 4.268) / 9.138, atol=1e-4, rtol=0)
    torch.testing.assert_close(fbank[0, :, 198:], torch.full((128, 6), 4.268 / 9.138))


def test_longer_audio_uses_its_centre_two_seconds():
    rng = np.random.default_rng(1)
    wave = rng.standard_normal(48000).astype(np.float32)
    torch.testing.assert_close(audio_to_fbank(wave, CFG), audio_to_fbank(wave[8000:40000], CFG))


@pytest.mark.parametrize("step_s", [0.2, 0.04, 0.037])  # hop-aligned (one fbank, sliced) and not
def test_clip_fbanks_match_per_clip_spectrograms(step_s):
    rng = np.random.default_rng(2)
    audio = (0.1 * rng.standard_normal(16000 * 5)).astype(np.float32)
    starts = 0.513 + np.arange(7) * step_s
    batched = clip_fbanks(audio, starts, CFG)
    single = torch.stack([audio_to_fbank(audio[round(s * 16000) : round(s * 16000) + 32000], CFG) for s in starts])
    assert batched.shape == (7, 1, 128, 204)
    torch.testing.assert_close(batched, single, atol=2e-4, rtol=0)


def test_clips_past_the_end_get_zero_audio():
    audio = np.ones(16000 * 2, dtype=np.float32)
    late = clip_fbanks(audio, [1.5], CFG)
    silent = audio_to_fbank(np.zeros(32000, np.float32), CFG)
    assert not torch.allclose(late, silent[None])
    torch.testing.assert_close(late[0, :, :, 100:198], silent[:, :, 100:198])


def test_frame_indices_pick_the_nearest_source_frame():
    cfg = load_config("tiny").model
    index = clip_frame_indices([0.0, 0.04, 0.5], source_fps=25.0, num_source=100, config=cfg)
    assert index.shape == (3, 12)
    np.testing.assert_array_equal(index[0, :4], [0, 4, 8, 12])  # 0, 1/6, 2/6, 3/6 s at 25 fps = frames 0, 4.17, 8.33, 12.5 (tie → earlier)
    np.testing.assert_array_equal(index[1, :3], [1, 5, 9])
    np.testing.assert_array_equal(index[2, :2], [12, 17])  # 12.5 (tie) → 12, 16.67 → 17
    assert clip_frame_indices([10.0], 25.0, 100, cfg).max() == 99  # clamped


def test_frames_are_resized_cropped_and_clip_normalised():
    frames = np.zeros((2, 48, 96, 3), np.uint8)
    frames[:, :, 40:56] = 255  # a white bar in the centre survives the crop
    x = frames_to_tensor(frames, 32)
    assert x.shape == (2, 3, 32, 32)
    black = (torch.zeros(3) - torch.tensor(CLIP_MEAN)) / torch.tensor(CLIP_STD)
    white = (torch.ones(3) - torch.tensor(CLIP_MEAN)) / torch.tensor(CLIP_STD)
    torch.testing.assert_close(x[0, :, 16, 16], white, atol=1e-3, rtol=0)
    torch.testing.assert_close(x[0, :, 16, 0], black, atol=1e-3, rtol=0)


def test_clip_videos_gather_frames_and_flip_chosen_clips():
    cfg = load_config("tiny").model.model_copy(update={"image_size": 16})
    frames = np.zeros((60, 16, 16, 3), np.uint8)
    for k in range(60):
        frames[k, :, :8] = 4 * k  # left half encodes the frame number
    video = clip_videos(frames, 25.0, [0.0, 0.4], cfg, flip=np.array([False, True]))
    assert video.shape == (2, 3, 12, 16, 16)
    left = video[0, 0, :, 0, 0] * CLIP_STD[0] + CLIP_MEAN[0]
    torch.testing.assert_close(left[:3] * 255 / 4, torch.tensor([0.0, 4.0, 8.0]), atol=1e-3, rtol=0)
    assert video[1, 0, 0, 0, -1] > video[1, 0, 0, 0, 0]  # flipped: the bright half is now on the right
