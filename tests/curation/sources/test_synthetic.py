"""The synthetic generator: clips written as real mp4, decoded back with the project's media code,
must show exactly the cuts, events, silences and motion their ground truth promises."""

import json
from dataclasses import replace

import av
import numpy as np
import pandas as pd
import pytest

from curation.config import CurationConfig, MediaConfig
from curation.filters import apply_filters
from curation.media import MediaError, decode, probe
from curation.pipeline import analyze_videos
from curation.scenes import SceneCutter
from curation.sources.item import SourceItem
from curation.media import write_mp4
from curation.sources.demo_set import make_demo_set, write_bad_inputs
from curation.sources.synthetic import (
    ClipTruth, SceneSpec, event_schedule, random_object, random_scene, random_scenes, render_clip, write_synthetic_video,
)

FPS, SR, SIZE = 25, 16000, (160, 120)


def _scene(rng, kind, style, sound, background, duration_s=3.6) -> SceneSpec:
    """One sounding object, no distractor: every change in the shot belongs to an event."""
    obj = random_object(rng, duration_s, style, sound, "disc", background, rate_hz=1.5)
    return SceneSpec(kind, duration_s, background, "flat", (obj,), pixel_noise=1.5, room_noise=0.001)


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """A 18 s clip of five shots with hard cuts, written to mp4 and decoded at the source rate."""
    rng = np.random.default_rng(11)
    scenes = [
        _scene(rng, "events", "bounce", "click", (150, 40, 40)),
        _scene(rng, "events", "strike", "noise", (30, 60, 170)),
        _scene(rng, "static", "blink", "tone", (210, 200, 120)),
        _scene(rng, "silent", "bounce", "tone", (40, 120, 50)),
        random_scene(rng, "chaos", 3.6, after=SceneSpec("events", 1, (40, 120, 50))),
    ]
    path = tmp_path_factory.mktemp("synthetic") / "clip.mp4"
    truth = write_synthetic_video(path, scenes, fps=FPS, size=SIZE, sample_rate=SR, seed=11)
    info = probe(path)
    cutter = SceneCutter(info.fps)
    media = decode(path, MediaConfig(fps=FPS, short_side=SIZE[1]), info=info, frame_sink=cutter)
    return path, truth, info, media, cutter


def _kind_at(truth: ClipTruth, t: float) -> str:
    return next(s.kind for s in truth.scenes if s.start_s <= t < s.end_s)


def test_written_file_has_the_promised_streams(clip):
    _, truth, info, media, _ = clip
    assert truth.n_frames == 450 and truth.duration_s == 18.0 and truth.n_samples == 18 * SR
    assert [s.kind for s in truth.scenes] == ["events", "events", "static", "silent", "chaos"]
    assert truth.cut_times_s == [3.6, 7.2, 10.8, 14.4]
    assert (info.width, info.height, info.fps, info.video_codec) == (160, 120, 25.0, "h264")
    assert info.duration_s == pytest.approx(18.0, abs=1e-3)
    assert info.has_audio and info.audio_sample_rate == SR and info.audio_channels == 1
    assert media.frames.shape == (450, 120, 160, 3) and len(media.audio) == 18 * SR


def test_truth_separates_seen_heard_and_mute_events(clip):
    _, truth, _, _, _ = clip
    assert set(truth.event_times_s) <= set(truth.sound_times_s) & set(truth.visual_event_times_s)
    kinds = {t: _kind_at(truth, t) for t in truth.sound_times_s + truth.visual_event_times_s}
    assert {kinds[t] for t in truth.event_times_s} == {"events"}
    assert {kinds[t] for t in set(truth.sound_times_s) - set(truth.event_times_s)} == {"static"}
    assert {kinds[t] for t in set(truth.visual_event_times_s) - set(truth.event_times_s)} == {"silent"}
    assert ClipTruth.from_dict(json.loads(json.dumps(truth.to_dict()))) == truth


def test_sounds_start_at_the_truth_times(clip):
    _, truth, _, media, _ = clip
    envelope = np.abs(media.audio)
    assert len(truth.sound_times_s) >= 6
    for t in truth.sound_times_s:
        k = round(t * SR)
        before, around = envelope[k - 1600 : k - 320], envelope[k - 640 : k + 640]
        onset = (k - 640 + np.argmax(around > 0.3 * around.max())) / SR
        assert abs(onset - t) < 1 / FPS, t  # within one video frame (AAC keeps it within ms)
        assert around.max() > 10 * before.max(), t


def test_silent_shot_is_silent_and_static_shot_does_not_move(clip):
    _, truth, _, media, _ = clip
    silent = next(s for s in truth.scenes if s.kind == "silent")
    # A few ms after the cut: AAC smears a frame of the previous shot's sound across it.
    assert np.abs(media.audio[round(silent.start_s * SR) + 400 : round(silent.end_s * SR)]).max() < 0.02
    static = next(s for s in truth.scenes if s.kind == "static")
    still = media.frames[static.start_frame + 1 : static.end_frame].astype(np.int16)
    assert np.abs(np.diff(still, axis=0)).mean() < 0.2


def test_visual_change_peaks_at_events_and_cuts(clip):
    _, truth, _, media, _ = clip
    frames = media.frames.astype(np.int16)
    change = np.abs(np.diff(frames, axis=0)).mean(axis=(1, 2, 3))  # change[k]: frame k → k + 1
    compared = 0
    for scene in truth.scenes:
        if scene.kind not in ("events", "silent"):
            continue
        times = [t for t in truth.visual_event_times_s if scene.start_s <= t < scene.end_s]
        assert times
        # Around each event (pairs within ~1.5 frames of it) the picture changes far more than
        # halfway to a neighbour ≥ 0.7 s away (a bounce's apex, a striker waiting, a light gone dark).
        for t, other in zip(times, times[1:]):
            if other - t < 0.7:
                continue
            quiet = change[round((t + other) / 2 * FPS)]
            for event in (t, other):
                k = round(event * FPS)
                assert change[k - 2 : k + 2].max() > 2 * quiet, (event, change[k - 2 : k + 2], quiet)
            compared += 1
    assert compared
    for c in truth.cut_times_s:
        k = round(c * FPS)
        # The cut pair k - 1 → k stands out, even next to a chaos shot's racing pattern.
        assert change[k - 1] > 3 * change[k - 8 : k - 1].max() and change[k - 1] > 1.5 * change[k : k + 7].max(), c


def test_cuts_are_hard_and_found_by_the_scene_detector(clip):
    _, truth, _, media, cutter = clip
    means = media.frames.reshape(len(media.frames), -1, 3).mean(axis=1)
    jumps = np.abs(np.diff(means, axis=0)).max(axis=1)  # largest channel change, frame k → k + 1
    for c in truth.cut_times_s:
        k = round(c * FPS)
        assert jumps[k - 1] > 40 and jumps[k - 3 : k - 1].max() < 3, c  # one frame, then the new shot
    assert cutter.cut_times() == pytest.approx(truth.cut_times_s, abs=1 / FPS)


def test_filters_drop_static_silent_and_chaotic_shots_for_the_right_reason(clip):
    path, truth, _, _, _ = clip
    config = CurationConfig()
    [result] = analyze_videos([(SourceItem("clip", "test", path=str(path)), str(path))], config)
    windows, _ = apply_filters(pd.DataFrame(result.window_rows), config.filters)
    assert result.video_row["n_scenes"] == len(truth.scenes)
    windows["kind"] = [_kind_at(truth, (a + b) / 2) for a, b in zip(windows.start_s, windows.end_s)]
    expected = {"events": "", "static": "too_static", "silent": "too_quiet", "chaos": "too_much_motion"}
    assert {k: set(g.reasons) for k, g in windows.groupby("kind")} == {k: {v} for k, v in expected.items()}


def test_rendering_is_deterministic_in_memory_and_on_disk(tmp_path):
    scenes = random_scenes(np.random.default_rng(7), 2.0, n_scenes=2, distractor_probability=1.0)
    a = render_clip(scenes, 12, (64, 48), seed=1)
    b = render_clip(scenes, 12, (64, 48), seed=np.random.default_rng(1))
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1]) and a[2] == b[2]
    other = render_clip(random_scenes(np.random.default_rng(8), 2.0), 12, (64, 48), seed=1)
    assert other[2].event_times_s != a[2].event_times_s
    first = write_synthetic_video(tmp_path / "a.mp4", scenes, 12, (64, 48), seed=3)
    second = write_synthetic_video(tmp_path / "b.mp4", scenes, 12, (64, 48), seed=3)
    assert first == second and (tmp_path / "a.mp4").read_bytes() == (tmp_path / "b.mp4").read_bytes()


def test_event_schedule_is_irregular_with_a_minimum_gap():
    times = np.array(event_schedule(np.random.default_rng(0), 200.0, rate_hz=1.5, min_gap_s=0.25))
    gaps = np.diff(times)
    assert gaps.min() >= 0.25 - 1e-3 and 0.8 < gaps.mean() < 1.1 and gaps.std() > 0.4
    assert times[0] >= 0.2 and times[-1] < 199.8


def test_random_scenes_fill_the_duration_with_hard_cuts():
    scenes = random_scenes(np.random.default_rng(3), 6.0, n_scenes=3)
    assert sum(s.duration_s for s in scenes) == pytest.approx(6.0) and min(s.duration_s for s in scenes) >= 1.0
    for before, after in zip(scenes, scenes[1:]):
        assert np.abs(np.subtract(before.background, after.background)).sum() > 200
    for scene in scenes:
        for obj in scene.objects:
            assert all(0 < t < scene.duration_s for t in obj.event_times_s)


def test_write_mp4_rejects_odd_frame_sizes(tmp_path):
    with pytest.raises(ValueError, match="even"):
        write_mp4(tmp_path / "odd.mp4", np.zeros((2, 9, 16, 3), np.uint8), 25)


def test_bad_inputs_fail_with_the_promised_reason(tmp_path):
    expected = write_bad_inputs(tmp_path)
    assert set(expected.values()) == {"empty_file", "not_a_video", "no_audio", "no_video_stream", "zero_duration",
                                      "decode_error", "no_frames"}
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in expected)
    assert (tmp_path / "empty.mp4").stat().st_size == 0
    for path, reason in expected.items():
        with pytest.raises(MediaError) as failure:
            decode(path, MediaConfig(), info=probe(path))
        assert failure.value.reason == reason, path.name


def test_a_file_truncated_between_packets_is_not_silently_accepted(tmp_path):
    rng = np.random.default_rng(0)
    frames, audio, _ = render_clip([random_scene(rng, "events", 2.0)], 25, (128, 96), seed=rng)
    whole = write_mp4(tmp_path / "whole.mp4", frames, 25, audio, movflags="faststart")  # index first
    with av.open(str(whole)) as container:
        ends = [p.pos + p.size for p in container.demux(video=0) if p.size]
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(whole.read_bytes()[: ends[len(ends) // 2]])  # half the video packets
    assert probe(cut).duration_s == pytest.approx(2.0)  # the header still says 2 s
    with pytest.raises(MediaError) as failure:
        decode(cut, MediaConfig(fps=25, short_side=96))
    assert failure.value.reason == "truncated"


def test_demo_set_layout_and_truth_file(tmp_path):
    truths = make_demo_set(tmp_path, seed=1, videos_per_class=3, size=(64, 48), fps=10,
                           classes={"ball_bouncing": ("bounce", "click", "disc"),
                                    "light_blinking": ("blink", "tone", "square")})
    assert sorted(truths) == [f"{label}/{label}_{i}.mp4" for label in ("ball_bouncing", "light_blinking")
                              for i in range(3)]
    on_disk = json.loads((tmp_path / "_truth.json").read_text())
    assert {k: ClipTruth.from_dict(v) for k, v in on_disk.items()} == truths
    kinds = [{s.kind for s in t.scenes} for t in truths.values()]
    assert {"static", "silent"} <= set().union(*kinds)
    assert any(t.cut_times_s for t in truths.values()) and not truths["ball_bouncing/ball_bouncing_0.mp4"].cut_times_s
    for relative, truth in truths.items():
        assert 6.0 <= truth.duration_s <= 12.0
        info = probe(tmp_path / relative)
        assert info.has_audio and info.duration_s == pytest.approx(truth.duration_s, abs=0.01)
    again = make_demo_set(tmp_path / "again", seed=1, videos_per_class=3, size=(64, 48), fps=10,
                          classes={"ball_bouncing": ("bounce", "click", "disc"),
                                   "light_blinking": ("blink", "tone", "square")})
    assert again == truths


def test_static_scene_holds_its_first_frame_in_memory():
    rng = np.random.default_rng(5)
    scene = replace(random_scene(rng, "events", 1.0, n_objects=1, distractor_probability=0.0), pixel_noise=0.0)
    frames, audio, truth = render_clip([scene, replace(scene, kind="static")], 10, (32, 24), seed=0)
    assert frames.shape == (20, 24, 32, 3) and audio.shape == (2 * SR,) and audio.dtype == np.float32
    assert (frames[11:] == frames[10]).all()  # the static copy holds its first frame
    assert np.array_equal(frames[0], frames[10]) and truth.cut_times_s == [1.0]
