import numpy as np
import pytest

from curation.config import MediaConfig
from curation.media import MediaError, decode, probe, read_audio


def test_probe_reads_display_geometry_of_a_rotated_video(media_dir):
    info = probe(media_dir / "issue-134-rotate.mp4")
    # Stored 1280x544 with a -90 degree display matrix: shown in portrait.
    assert (info.width, info.height) == (544, 1280)
    assert info.rotation == -90
    assert info.has_audio and info.audio_sample_rate == 44100
    assert info.duration_s == pytest.approx(10.01, abs=0.02)


def test_decode_samples_frames_at_the_analysis_rate_and_audio_on_the_same_timeline(media_dir):
    config = MediaConfig(fps=8, short_side=96)
    # 604x340, 90 frames at 15 fps (6.0 s of video), MP3 stereo: the timeline is the video's.
    media = decode(media_dir / "hitting_metal.mp4", config)
    assert media.frames.dtype == np.uint8
    assert media.frames.shape == (48, 96, 170, 3)
    assert media.sample_rate == 16000 and media.audio.dtype == np.float32
    assert len(media.audio) == 6 * 16000
    assert np.abs(media.audio).max() <= 1.0 and np.abs(media.audio).max() > 0.05


def test_decode_of_an_excerpt_matches_the_full_decode(media_dir):
    config = MediaConfig(fps=8, short_side=96)
    full = decode(media_dir / "hitting_metal.mp4", config)
    part = decode(media_dir / "hitting_metal.mp4", config, start_s=2.0, end_s=4.0)
    assert len(part.frames) == 16 and len(part.audio) == 32000
    # Same frames as the full decode's 2..4 s (decoder output is deterministic).
    assert np.abs(part.frames.astype(int) - full.frames[16:32]).mean() < 1.0
    np.testing.assert_allclose(part.audio[1000:-1000], full.audio[33000:63000], atol=1e-3)


def test_rotation_is_applied_to_frames(media_dir):
    media = decode(media_dir / "issue-134-rotate.mp4", MediaConfig(fps=2, short_side=64))
    assert media.frames.shape[1:] == (150, 64, 3)  # portrait


def test_delayed_stream_start_is_time_zero(media_dir):
    # Stream starts at 1.075 s in the container; the first frame is still frame 0 at t=0.
    media = decode(media_dir / "delayed_start.mp4", MediaConfig(fps=25, short_side=64, require_audio=False))
    assert len(media.frames) == pytest.approx(24, abs=1)


@pytest.mark.parametrize(
    "make, reason",
    [
        (lambda p: p.write_bytes(b""), "empty_file"),
        (lambda p: p.write_text("this is not a video\n" * 50), "not_a_video"),
        (None, "missing_file"),
    ],
)
def test_bad_files_raise_media_errors_with_a_reason(tmp_path, make, reason):
    path = tmp_path / "bad.mp4"
    if make:
        make(path)
    with pytest.raises(MediaError) as info:
        probe(path)
    assert info.value.reason == reason


def test_video_without_audio_is_rejected_when_audio_is_required(media_dir):
    with pytest.raises(MediaError) as info:
        probe(media_dir / "delayed_start.mp4")
    assert info.value.reason == "no_audio"


def test_limits_reject_oversized_and_overlong_inputs(media_dir):
    with pytest.raises(MediaError) as info:
        probe(media_dir / "hitting_metal.mp4", MediaConfig(max_file_mb=0.1))
    assert info.value.reason == "too_large"
    with pytest.raises(MediaError) as info:
        probe(media_dir / "hitting_metal.mp4", MediaConfig(max_duration_s=5))
    assert info.value.reason == "too_long"
    with pytest.raises(MediaError) as info:
        probe(media_dir / "hitting_metal.mp4", MediaConfig(max_pixels=320 * 240))
    assert info.value.reason == "too_large"


def _write_sine_m4a(path, seconds=1.5, rate=44100, hz=440.0):
    """An audio-only AAC file in an MP4 (.m4a) container, as phones and browsers record them."""
    import av

    t = np.arange(int(seconds * rate)) / rate
    samples = (0.5 * np.sin(2 * np.pi * hz * t)).astype(np.float32)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=rate, layout="mono")
        for start in range(0, len(samples), 1024):
            frame = av.AudioFrame.from_ndarray(samples[None, start:start + 1024], format="flt", layout="mono")
            frame.rate = rate
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


def test_read_audio_takes_audio_only_files_wavs_and_videos(tmp_path, media_dir, fixtures_dir):
    sine = read_audio(_write_sine_m4a(tmp_path / "tone.m4a"), 16000)
    assert abs(len(sine) / 16000 - 1.5) < 0.1  # AAC adds at most a frame of priming
    spectrum = np.abs(np.fft.rfft(sine[4000:20000]))
    assert abs(np.argmax(spectrum) - 440) <= 2  # a 1 s window at 16 kHz: bin k is k Hz
    wav = read_audio(fixtures_dir / "asva" / "lions_roaring.wav", 16000)
    assert wav.dtype == np.float32 and len(wav) > 16000 and np.abs(wav).max() <= 1.0
    from_video = read_audio(media_dir / "hitting_metal.mp4", 16000)
    assert abs(len(from_video) / 16000 - 6.0) < 0.1


def test_read_audio_names_what_is_wrong(tmp_path, media_dir):
    with pytest.raises(MediaError) as missing:
        read_audio(tmp_path / "nope.wav")
    assert missing.value.reason == "missing"
    with pytest.raises(MediaError) as silent:
        read_audio(media_dir / "delayed_start.mp4")  # video only
    assert silent.value.reason == "no_audio"
    (tmp_path / "text.mp3").write_text("not audio\n" * 50)
    with pytest.raises(MediaError) as garbage:
        read_audio(tmp_path / "text.mp3")
    assert garbage.value.reason in {"not_a_video", "unreadable", "decode_error"}


def test_frame_pick_nearest_or_first_at_or_after_each_target_time(tmp_path):
    from curation.media import write_mp4

    # 10 fps, frame i has grey level 10·i: 6 fps targets k/6 s pick frames by their time i/10 s.
    frames = np.repeat((np.arange(20, dtype=np.uint8) * 10)[:, None, None, None], 32, 1).repeat(32, 2).repeat(3, 3)
    path = write_mp4(tmp_path / "counter.mp4", np.ascontiguousarray(frames), fps=10,
                     audio=np.zeros(32000, np.float32), crf=0)
    targets = np.arange(12) / 6

    def picked(mode: str) -> list[int]:
        media = decode(path, MediaConfig(fps=6, short_side=32, frame_pick=mode))
        return [int(round(f.mean() / 10)) for f in media.frames]

    assert picked("nearest") == [int(np.floor(t * 10 + 0.5)) for t in targets]
    assert picked("at_or_after") == [int(np.ceil(t * 10 - 1e-6)) for t in targets]
    assert picked("nearest") != picked("at_or_after")  # e.g. T = 1/3 s: frame 3 (0.3 s) vs frame 4 (0.4 s)
