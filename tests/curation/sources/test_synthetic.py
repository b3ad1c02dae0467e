"""Generated clips: written as real mp4, decoded back with the project's media code."""

import numpy as np
import pytest

from curation.config import MediaConfig
from curation.media import MediaError, decode, probe
from curation.scenes import SceneCutter
from curation.sources.synthetic import (SceneSpec, make_demo_set, random_object, random_scenes, render_clip,
                                        write_bad_inputs, write_synthetic_video)


def _shots(rng):
    first = SceneSpec("events", 3.0, (200, 40, 40), (random_object(rng, 3.0, "bounce", "click", (200, 40, 40)),))
    second = SceneSpec("static", 2.0, (30, 60, 220), (random_object(rng, 2.0, "blink", "tone", (30, 60, 220)),))
    third = SceneSpec("silent", 2.0, (40, 200, 60), (random_object(rng, 2.0, "strike", "noise", (40, 200, 60)),))
    return [first, second, third]


def test_written_clip_has_known_cuts_events_and_silence(tmp_path):
    rng = np.random.default_rng(3)
    truth = write_synthetic_video(tmp_path / "clip.mp4", _shots(rng), fps=25, size=(160, 120), seed=3)
    assert truth.cut_times_s == [3.0, 5.0] and truth.duration_s == 7.0
    info = probe(tmp_path / "clip.mp4")
    assert info.duration_s == pytest.approx(7.0, abs=0.05) and (info.width, info.height) == (160, 120)

    cutter = SceneCutter(info.fps)
    media = decode(tmp_path / "clip.mp4", MediaConfig(fps=25, short_side=120), info=info, frame_sink=cutter)
    assert len(media.frames) == 175 and len(media.audio) == 7 * 16000
    assert cutter.cut_times() == pytest.approx(truth.cut_times_s, abs=0.041)  # within one frame

    # Every audible event is an onset in the decoded audio (AAC keeps it within a few ms).
    envelope = np.abs(media.audio)
    audible = [t for t in truth.event_times_s if t < 5.0]
    assert audible
    for t in audible:
        start = int(t * 16000)
        assert envelope[start : start + 480].max() > 5 * envelope[max(start - 1600, 0) : start - 160].mean() + 1e-3
    # The silent shot is silent; the static shot does not move.
    assert np.abs(media.audio[5 * 16000 + 800 :]).max() < 0.02
    static = media.frames[76:124].astype(int)
    assert np.abs(np.diff(static, axis=0)).mean() < 0.5


def test_motion_peaks_at_bounce_events():
    rng = np.random.default_rng(0)
    scene = SceneSpec("events", 4.0, (20, 20, 20), (random_object(rng, 4.0, "bounce", "click", (20, 20, 20)),))
    frames, audio, truth = render_clip([scene], fps=50, size=(128, 128), seed=0)
    # The ball's height: lowest (largest y) exactly at the events.
    ys = [np.nonzero((f.astype(int).sum(-1) > 150).any(axis=1))[0].max() for f in frames]
    for t in truth.event_times_s:
        k = round(t * 50)
        window = ys[max(k - 5, 0) : k + 6]
        assert ys[k] >= max(window) - 2


def test_rendering_is_deterministic_and_random_scenes_vary():
    a = render_clip(random_scenes(np.random.default_rng(7), 2.0), 12, (64, 64), seed=1)
    b = render_clip(random_scenes(np.random.default_rng(7), 2.0), 12, (64, 64), seed=1)
    c = render_clip(random_scenes(np.random.default_rng(8), 2.0), 12, (64, 64), seed=1)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert a[2].event_times_s != c[2].event_times_s


def test_bad_inputs_fail_with_the_promised_reason(tmp_path):
    for path, reason in write_bad_inputs(tmp_path).items():
        with pytest.raises(MediaError) as info:
            decode(path, info=probe(path))
        assert info.value.reason == reason, path.name


def test_demo_set_layout(tmp_path):
    truths = make_demo_set(tmp_path, seed=1, videos_per_class=1, size=(96, 64))
    assert sorted(truths) == ["ball_bouncing/ball_bouncing_0.mp4", "drum_hitting/drum_hitting_0.mp4",
                              "light_blinking/light_blinking_0.mp4"]
    assert (tmp_path / "_truth.json").is_file()
    for relative in truths:
        assert probe(tmp_path / relative).has_audio
