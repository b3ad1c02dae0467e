"""`python -m model.demo` end to end at a toy size: tiny base, VAE fit, training, the lion mp4."""

import pytest

from curation.config import MediaConfig
from curation.media import decode, probe
from model.demo import run_demo


@pytest.mark.slow
def test_demo_writes_the_lion_video_with_its_roar(tmp_path):
    mp4 = run_demo(tmp_path / "demo", train_minutes=0.02, vae_steps=2, resolution=32, sample_steps=2, threads=1)
    assert mp4.name == "lion_roaring.mp4" and probe(mp4).has_audio
    media = decode(mp4, MediaConfig(fps=6, short_side=32))
    assert media.frames.shape == (12, 32, 32, 3) and abs(media.audio).max() > 0.1
    assert (tmp_path / "demo" / "tiny-sd" / "vae" / "fitted.json").is_file()


def test_demo_assets_live_in_data_examples_with_their_origins():
    """The demo works from any copy of the project: its assets are under data/examples, not tests/."""
    import flows.demo
    import model.demo

    for path in (model.demo.DEMO_IMAGE, model.demo.DEMO_SOUND,
                 *(flows.demo.REAL_CLIPS / name for name, _ in flows.demo.DEMO_REAL)):
        assert path.is_file() and "tests" not in path.relative_to(model.demo.REPO).parts
        assert path.name in (model.demo.EXAMPLES / "README.md").read_text()
    assert probe(model.demo.DEMO_SOUND.parent / "hitting_metal.mp4").has_audio
