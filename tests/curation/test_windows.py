import pytest

from curation.config import WindowConfig
from curation.windows import scene_windows


def test_windows_start_every_stride_and_end_inside_the_scene():
    windows = scene_windows([(0.0, 5.0)], WindowConfig(length_s=3.0, stride_s=0.5))
    assert [(w.start_s, w.end_s) for w in windows] == [(0.0, 3.0), (0.5, 3.5), (1.0, 4.0), (1.5, 4.5), (2.0, 5.0)]
    assert [w.index for w in windows] == list(range(5))


def test_windows_never_cross_a_cut_and_short_scenes_yield_none():
    scenes = [(0.0, 3.2), (3.2, 4.0), (4.0, 7.5)]
    windows = scene_windows(scenes, WindowConfig())
    for w in windows:
        scene_start, scene_end = scenes[w.scene_index]
        assert scene_start <= w.start_s and w.end_s <= scene_end + 1e-9
    assert {w.scene_index for w in windows} == {0, 2}  # the 0.8 s scene is too short
    assert [(w.start_s, w.end_s) for w in windows if w.scene_index == 0] == [(0.0, 3.0)]
    assert [w.start_s for w in windows if w.scene_index == 2] == [4.0, 4.5]
    assert [w.index for w in windows] == list(range(len(windows)))


def test_exact_fit_survives_float_rounding():
    # 0.1 + 0.2 style rounding must not lose the window that exactly fills a scene.
    windows = scene_windows([(0.1, 0.1 + 3.0)], WindowConfig())
    assert len(windows) == 1
    assert windows[0].end_s == pytest.approx(3.1)
