"""The toy domain's ground-truth sync metric, on real rendered and encoded toy clips."""

import numpy as np

from model.toy import TOY_CLASSES, read_test_clips, render_toy_clip, write_toy_dataset
from model.toy_events import combine, detect_flashes, match_events, score_video


def test_flashes_are_found_on_the_frames_their_sounds_mark():
    rng = np.random.default_rng(3)
    clips = [render_toy_clip(rng, label) for label in list(TOY_CLASSES) * 10]
    score = combine([score_video(c.frames, c.event_frames) for c in clips])
    assert score.f1 > 0.97 and score.timing_error_frames < 0.05
    # the sound onset is on the flash frame: the first loud sample falls within that frame's 1/6 s
    clip = clips[0]
    first_loud = int(np.flatnonzero(np.abs(clip.audio) > 0.2)[0])
    assert round(first_loud / 16000 * 6) == clip.event_frames[0]


def test_a_static_video_has_no_events_and_a_shifted_one_misses():
    rng = np.random.default_rng(4)
    clip = render_toy_clip(rng, "red_lamp_flashing", events=(2, 6, 10))
    static = np.repeat(clip.frames[:1], 12, axis=0)
    assert detect_flashes(static) == []
    assert score_video(static, clip.event_frames).f1 == 0.0
    shifted = render_toy_clip(rng, "red_lamp_flashing", events=(4, 8))
    assert score_video(shifted.frames, clip.event_frames).matched == 0


def test_matching_is_one_to_one_within_tolerance():
    score = match_events([3, 4], [3], tolerance=1)  # one true event cannot be matched twice
    assert (score.matched, score.precision, score.recall) == (1, 0.5, 1.0)
    score = match_events([5, 9], [4, 7], tolerance=1)
    assert score.matched == 1 and score.timing_error_frames == 1.0
    assert match_events([], [2]).f1 == 0.0


def test_encoded_toy_clips_keep_their_events(tmp_path):
    manifest = write_toy_dataset(tmp_path, train_clips=3, test_clips=6, seed=1)
    clips = read_test_clips(manifest)
    assert len(clips) == 6 and clips[0].frames.shape == (12, 32, 32, 3)
    assert combine([score_video(c.frames, c.event_frames) for c in clips]).f1 > 0.9


def test_every_lamp_flashes_in_its_class_colour_whatever_the_hue_jitter():
    """Red sits at hue 0: a jitter below 0 once gave colorsys a negative green (a yellow-green "red" lamp)."""
    dominant = {"red_lamp_flashing": 0, "green_lamp_flashing": 1, "blue_lamp_flashing": 2}
    for seed in range(12):
        for label in TOY_CLASSES:
            clip = render_toy_clip(np.random.default_rng(seed), label, events=(3,))
            lit = clip.frames[3, 12:20, 12:20].reshape(-1, 3).mean(axis=0)
            assert int(np.argmax(lit)) == dominant[label], (label, seed, lit)
