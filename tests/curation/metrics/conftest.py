"""Real decoded clips and tiny encoder checkpoints (official layouts) for the neural metrics."""

import pytest
import torch

from curation.media import decode
from curation.metrics import VideoWindows
from curation.metrics.neural_scoring import clear_model_cache
from curation.windows import scene_windows
from model.encoders.clip import TINY_MODEL, write_random_clip_checkpoint
from model.encoders.imagebind_layout import random_state_dict


@pytest.fixture(scope="session")
def tiny_imagebind_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("weights") / "imagebind_tiny.pth"
    torch.save(random_state_dict("tiny", seed=0, other_modalities=False), path)
    return path


@pytest.fixture(scope="session")
def tiny_clip_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("weights") / "clip-tiny"
    write_random_clip_checkpoint(folder / "open_clip_model.safetensors", seed=0)
    return folder


@pytest.fixture(scope="session")
def imagebind_options(tiny_imagebind_path):
    return {"checkpoint": str(tiny_imagebind_path), "preset": "tiny", "device": "cpu"}


@pytest.fixture(scope="session")
def clip_options(tiny_clip_dir):
    return {"model": TINY_MODEL, "pretrained": None, "checkpoint": str(tiny_clip_dir), "device": "cpu"}


@pytest.fixture(scope="session")
def metal(media_dir) -> VideoWindows:
    """hitting_metal.mp4: 6 s, 8 analysis fps, 7 windows of 3 s in one scene."""
    media = decode(media_dir / "hitting_metal.mp4")
    return VideoWindows(media, scene_windows([(0.0, media.duration_s)]), "hitting")


@pytest.fixture(scope="session")
def rotated(media_dir) -> VideoWindows:
    """issue-134-rotate.mp4: portrait frames (display rotation), its three scenes' windows."""
    media = decode(media_dir / "issue-134-rotate.mp4")
    return VideoWindows(media, scene_windows([(0.0, 3.754), (3.754, 8.759), (8.759, media.duration_s)]), "movie scene")


@pytest.fixture(autouse=True)
def fresh_models():
    clear_model_cache()
    yield
    clear_model_cache()


@pytest.fixture(scope="session")
def micro_checkpoint(tmp_path_factory):
    """An untrained sync classifier below the `tiny` preset, saved in its real format (the psync
    metric needs only its shapes and code paths)."""
    from sync_classifier.config import load_config
    from sync_classifier.model import SyncClassifier

    torch.manual_seed(1)
    widths = (4, 8, 8, 16)
    config = load_config("tiny").model.model_copy(
        update={"audio_widths": widths, "video_widths": widths, "head_width": 16, "image_size": 32})
    return SyncClassifier(config).eval().save_pretrained(tmp_path_factory.mktemp("sync") / "micro")
