import pytest

from curation.config import MediaConfig
from curation.media import decode, probe
from curation.scenes import SceneCutter

# PySceneDetect's published goldens for this footage (ContentDetector defaults): scenes start at
# 3.754 s and 8.759 s (frames 90 and 210 at 24000/1001 fps).
GOLDEN_CUTS_S = [90 * 1001 / 24000, 210 * 1001 / 24000]


@pytest.mark.parametrize("name", ["goldeneye-vfr-drop3.mp4", "issue-134-rotate.mp4"])
def test_cuts_match_pyscenedetect_goldens_from_the_shared_decode(media_dir, name):
    config = MediaConfig(require_audio=False)
    info = probe(media_dir / name, config)
    cutter = SceneCutter(info.fps)
    media = decode(media_dir / name, config, info=info, frame_sink=cutter)
    assert cutter.cut_times() == pytest.approx(GOLDEN_CUTS_S, abs=1e-3)
    scenes = cutter.scenes(media.duration_s)
    assert len(scenes) == 3
    assert scenes[0][0] == 0.0 and scenes[-1][1] == pytest.approx(media.duration_s)
    assert all(a[1] == b[0] for a, b in zip(scenes, scenes[1:]))


def test_a_video_without_cuts_is_one_scene(media_dir):
    info = probe(media_dir / "hitting_metal.mp4")
    cutter = SceneCutter(info.fps)
    media = decode(media_dir / "hitting_metal.mp4", info=info, frame_sink=cutter)
    assert cutter.scenes(media.duration_s) == [(0.0, pytest.approx(media.duration_s, abs=1e-6))]
