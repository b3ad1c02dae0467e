"""Regression (issue 14, defect 3): memory and time per video are bounded before and during
decoding, on real files: an extreme aspect ratio, a long video, a slow decode, a lying header."""

import struct
import time

import numpy as np
import pytest

from curation.config import MediaConfig
from curation.media import MediaError, decode, probe, write_mp4


def _lying_copy(path, out, factor=5):
    """`path` with every duration field of its mp4 header (mvhd, tkhd, mdhd; version 0) divided
    by `factor`: the packets stay, the header claims a shorter file."""
    data = bytearray(path.read_bytes())
    # Offset of the 32-bit duration after the box type: version/flags, times, (timescale | track id + reserved).
    offsets = {b"mvhd": 16, b"mdhd": 16, b"tkhd": 20}
    for box, offset in offsets.items():
        start = 0
        while (start := data.find(box, start)) >= 0:
            at = start + 4 + offset
            (duration,) = struct.unpack(">I", data[at : at + 4])
            data[at : at + 4] = struct.pack(">I", duration // factor)
            start += 4
    out.write_bytes(bytes(data))
    return out


@pytest.fixture(scope="module")
def ten_seconds(tmp_path_factory):
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 255, (250, 64, 64, 3), dtype=np.uint8)
    audio = rng.uniform(-0.3, 0.3, 160000).astype(np.float32)
    return write_mp4(tmp_path_factory.mktemp("limits") / "ten.mp4", frames, 25.0, audio)


def test_a_tiny_file_of_2x2000_pixels_is_refused_before_decoding(tmp_path):
    path = write_mp4(tmp_path / "thin.mp4", np.zeros((20, 2000, 2, 3), np.uint8), 10.0, np.zeros(32000, np.float32))
    assert path.stat().st_size < 40_000
    info = probe(path)  # passes the source limits: 4000 pixels, 2 s
    assert (info.width, info.height) == (2, 2000)
    started = time.monotonic()
    with pytest.raises(MediaError) as error:
        decode(path, info=info)
    assert error.value.reason == "too_large" and "224x224000" in error.value.detail
    assert time.monotonic() - started < 5


def test_decoded_frames_are_bounded_by_pixels_times_frames(ten_seconds):
    # 10 s at 8 fps = 80 frames of 64x64x3 = 0.98 MB: a 0.5 MB budget refuses it, 2 MB allows it.
    with pytest.raises(MediaError, match="max_decoded_mb") as error:
        decode(ten_seconds, MediaConfig(short_side=64, max_decoded_mb=0.5))
    assert error.value.reason == "too_large"
    assert len(decode(ten_seconds, MediaConfig(short_side=64, max_decoded_mb=2)).frames) == 80


def test_a_per_video_decode_time_limit(ten_seconds):
    with pytest.raises(MediaError) as error:
        decode(ten_seconds, MediaConfig(short_side=64, max_decode_s=1e-6))
    assert error.value.reason == "decode_timeout"


def test_a_lying_duration_header_does_not_bypass_the_limits(ten_seconds, tmp_path):
    lying = _lying_copy(ten_seconds, tmp_path / "lying.mp4")
    info = probe(lying, MediaConfig(max_duration_s=5))  # the header says 2 s: within the 5 s limit
    assert info.duration_s == pytest.approx(2.0, abs=0.05)
    with pytest.raises(MediaError) as error:
        decode(lying, MediaConfig(short_side=64, max_duration_s=5), info=info)
    assert error.value.reason == "duration_mismatch"
    # An explicit range of an honest file stops reading at its end; the frames are the same.
    part = decode(ten_seconds, MediaConfig(short_side=64), start_s=1.0, end_s=2.0)
    full = decode(ten_seconds, MediaConfig(short_side=64))
    assert len(part.frames) == 8 and np.abs(part.frames.astype(int) - full.frames[8:16]).mean() < 1.0
