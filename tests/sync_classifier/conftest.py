"""Tiny sync classifiers and small media for the sync_classifier tests (CPU, seconds)."""

import numpy as np
import pytest
import torch

from curation.media import DecodedMedia
from sync_classifier.config import ModelConfig, load_config
from sync_classifier.model import SyncClassifier



@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Tiny models gain little from a second thread, and on a shared 2-core machine two OpenMP
    threads per process stall each other badly (measured 8x slower steps under load)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def micro_config(**changes) -> ModelConfig:
    """Smaller than the `tiny` preset: tests only need the shapes and the code paths."""
    fields = dict(audio_widths=(4, 8, 8, 16), video_widths=(4, 8, 8, 16), head_width=16, image_size=32)
    return load_config("tiny").model.model_copy(update=fields | changes)


@pytest.fixture
def micro_model() -> SyncClassifier:
    torch.manual_seed(0)
    return SyncClassifier(micro_config()).eval()


@pytest.fixture(scope="session")
def micro_checkpoint(tmp_path_factory):
    """A saved (untrained, but with non-trivial BN statistics) micro model folder."""
    torch.manual_seed(1)
    model = SyncClassifier(micro_config())
    model.train()
    with torch.no_grad():  # a few forward passes move the BN running statistics off their defaults
        for _ in range(2):
            model(torch.randn(3, 1, 128, 204), torch.randn(3, 3, 12, 32, 32))
    return model.eval().save_pretrained(tmp_path_factory.mktemp("sync") / "micro")


def _noise_media(seconds: float, fps: float = 25.0, size: int = 40, seed: int = 0) -> DecodedMedia:
    rng = np.random.default_rng(seed)
    frames = rng.integers(0, 256, (int(round(seconds * fps)), size, size + 8, 3), dtype=np.uint8)
    audio = (0.1 * rng.standard_normal(int(round(seconds * 16000)))).astype(np.float32)
    return DecodedMedia(frames=frames, fps=fps, audio=audio, sample_rate=16000)


@pytest.fixture
def noise_media():
    """Factory: random frames and audio on one timeline (shapes only; nothing to learn)."""
    return _noise_media


@pytest.fixture(name="micro_config")
def micro_config_fixture():
    """Factory of micro model configs (keyword changes allowed)."""
    return micro_config
