"""What the reviewer is shown: candidates of the listed classes, their scores and filter reasons,
and playable cuts of exactly the clip's window."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from curation.config import MediaConfig
from curation.media import MediaError, decode, probe
from curation.review.candidates import Candidate, load_candidates
from curation.review.clip_cache import ClipCache


def test_candidates_are_narrowed_and_mapped_to_the_listed_classes(curated_run):
    run, classes = curated_run / "run", curated_run / "classes.txt"
    candidates = load_candidates(run, classes)
    table = pd.read_parquet(run / "avsync_ac.parquet")
    listed = table[table["label"] != "ball_bouncing"]
    assert len(candidates) == len(listed) > 0
    assert {c.review_class for c in candidates} == {"hammering", "dog_barking"}
    # Two VGGSound labels gather into one class; the class list's order is kept.
    assert {c.label for c in candidates if c.review_class == "hammering"} == {"hammering nails", "forging swords"}
    order = [c.review_class for c in candidates]
    assert order == sorted(order, key=["hammering", "dog_barking"].index)
    clip = candidates[0]
    assert clip.key == f"{clip.video_id}__{clip.clip_index}"
    # Scores are the means of the windows merged into the clip.
    windows = pd.read_parquet(run / "windows.parquet")
    inside = windows[(windows.video_id == clip.video_id) & windows.passed & (windows.start_s >= clip.start_s - 1e-6)
                     & (windows.end_s <= clip.end_s + 1e-6) & (windows.scene_index == clip.scene_index)]
    assert len(inside) == clip.n_windows
    assert clip.scores["pixel_diff_mean"] == pytest.approx(inside.pixel_diff_mean.mean(), abs=1e-4)


def test_filter_reasons_of_the_video_are_reported(curated_run):
    candidates = load_candidates(curated_run / "run", curated_run / "classes.txt")
    windows = pd.read_parquet(curated_run / "run" / "windows.parquet")
    for clip in candidates:
        expected: dict[str, int] = {}
        for reasons in windows[(windows.video_id == clip.video_id) & ~windows.passed].reasons:
            for reason in reasons.split(";"):
                expected[reason] = expected.get(reason, 0) + 1
        assert clip.video_dropped == expected
    # The generated set holds static / silent / chaos shots, so some reasons must show up.
    assert set().union(*(c.video_dropped for c in candidates)) & {"too_static", "too_quiet", "too_much_motion"}


def test_unusable_inputs_fail_with_what_to_do(tmp_path, curated_run):
    with pytest.raises(FileNotFoundError, match="finished curation run"):
        load_candidates(tmp_path, curated_run / "classes.txt")
    with pytest.raises(FileNotFoundError, match="class list not found"):
        load_candidates(curated_run / "run", tmp_path / "nope.txt")
    (tmp_path / "empty.txt").write_text("# nothing\n")
    with pytest.raises(ValueError, match="names no class"):
        load_candidates(curated_run / "run", tmp_path / "empty.txt")


def test_a_cut_holds_exactly_the_clip_window_with_sound(curated_run, tmp_path):
    candidates = load_candidates(curated_run / "run", curated_run / "classes.txt")
    clip = next(c for c in candidates if c.start_s > 1.0)  # a window that does not start the video
    cache = ClipCache(tmp_path / "cache")
    path = cache.get(clip)
    assert cache.get(clip) == path and len(list((tmp_path / "cache").glob("*.mp4"))) == 1
    info = probe(path)
    assert info.has_audio and info.video_codec == "h264"
    assert info.duration_s == pytest.approx(clip.duration_s, abs=0.1)
    assert probe(clip.path).duration_s > info.duration_s + 1.0
    # Frames match the source's frames of the window, not its beginning.
    config = MediaConfig(fps=5, short_side=120)
    cut = decode(path, config)
    source = decode(clip.path, config, start_s=clip.start_s, end_s=clip.end_s)
    start = decode(clip.path, config, start_s=0.0, end_s=clip.duration_s)
    n = min(len(cut.frames), len(source.frames), len(start.frames))
    same = np.abs(cut.frames[:n].astype(int) - source.frames[:n]).mean()
    other = np.abs(cut.frames[:n].astype(int) - start.frames[:n]).mean()
    assert same < 8 and other > 2 * same
    # ... and its sound is the window's sound.
    energy = lambda audio: float(np.sqrt(np.mean(audio ** 2)))  # noqa: E731
    assert energy(cut.audio) == pytest.approx(energy(source.audio), rel=0.25)


def test_a_source_that_cannot_be_decoded_is_reported(curated_run, tmp_path):
    clip = load_candidates(curated_run / "run", curated_run / "classes.txt")[0]
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video at all" * 100)
    cache = ClipCache(tmp_path / "cache")
    with pytest.raises(MediaError):
        cache.get(replace(clip, path=str(broken)))
    assert "not_a_video" in cache.errors[clip.key]
    assert not list((tmp_path / "cache").glob("*"))  # no half-written cut left behind


@pytest.mark.parametrize("name", ["M1pPtg6a_g8_000230.mp4", "issue-134-rotate.mp4", "goldeneye-vfr-drop3.mp4"])
def test_real_videos_are_cut_to_their_window(media_dir, tmp_path, name):
    """A VGGSound clip, a phone video with a rotation matrix, a variable-frame-rate file without sound."""
    source = probe(media_dir / name, MediaConfig(require_audio=False))
    clip = Candidate(key=name, review_class="x", label="x", video_id=name, clip_index=0, path=str(media_dir / name),
                     start_s=1.0, end_s=3.5, split=None, scene_index=0, n_windows=1)
    cache = ClipCache(tmp_path)
    cut = probe(cache.get(clip), MediaConfig(require_audio=False))
    assert cut.duration_s == pytest.approx(2.5, abs=0.1) and cut.has_audio == source.has_audio
    assert (cut.width > cut.height) == (source.width > source.height)  # rotation applied, as displayed
    assert cache.poster(clip).read_bytes()[:2] == b"\xff\xd8"  # a JPEG
