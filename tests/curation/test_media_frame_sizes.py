"""Regression (issue 14, defect 4): 4:2:0 videos of any even size decode, including heights 2 more
than a multiple of 4 (480x270, 160x90, 640x266), whose chroma planes end mid-row."""

import cv2
import numpy as np
import pytest

from curation.config import MediaConfig
from curation.media import decode, write_mp4
from sync_classifier.sync_metrics import read_clip_frames

# (width, height): common YouTube sizes, odd multiples of 2, portrait, tiny.
SIZES = [(480, 270), (160, 90), (640, 266), (320, 240), (426, 240), (202, 114), (90, 160), (270, 480), (34, 18)]


def _gradient(width: int, height: int) -> np.ndarray:
    """(H, W, 3) uint8: red rises left→right, green top→bottom, blue constant."""
    x = np.linspace(0, 255, width)[None, :].repeat(height, 0)
    y = np.linspace(0, 255, height)[:, None].repeat(width, 1)
    return np.stack([x, y, np.full_like(x, 90)], axis=-1).astype(np.uint8)


@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_decode_handles_every_even_420_size(tmp_path, size):
    width, height = size
    image = _gradient(width, height)
    path = write_mp4(tmp_path / "v.mp4", np.repeat(image[None], 6, 0), 6.0, np.zeros(16000, np.float32))
    media = decode(path, MediaConfig(fps=6, short_side=48))
    assert len(media.frames) == 6
    out_h, out_w = media.frames.shape[1:3]
    assert min(out_h, out_w) == 48
    expected = cv2.resize(image, (out_w, out_h), interpolation=cv2.INTER_AREA).astype(int)
    # Same picture (not a channel-swapped or misaligned one): H.264 + 4:2:0 loss only.
    assert np.abs(media.frames[3].astype(int) - expected).mean() < 6


def test_sync_metrics_reads_a_480x270_clip(tmp_path):
    image = _gradient(480, 270)
    path = write_mp4(tmp_path / "v.mp4", np.repeat(image[None], 12, 0), 6.0, None)
    frames = read_clip_frames(path, fps=6, num_frames=6, short_side=64)
    assert frames.shape == (6, 64, 114, 3)
