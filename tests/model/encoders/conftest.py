"""Tiny encoders saved in the official layouts, shared by the encoder tests."""

import wave

import numpy as np
import pytest
import torch

from model.encoders.imagebind_layout import official_layout, random_state_dict

OTHER_MODALITIES = ("depth", "thermal", "imu")


def read_wav(path) -> np.ndarray:
    """16-bit PCM → float32 in [-1, 1) like torchaudio.load (x / 32768), first channel."""
    with wave.open(str(path)) as w:
        samples = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).reshape(-1, w.getnchannels())
    return samples[:, 0].astype(np.float32) / 32768.0


@pytest.fixture(scope="session")
def vggsound_wav(fixtures_dir):
    return fixtures_dir / "audio" / "FwVYUHKoLtQ_000034.wav"


@pytest.fixture(scope="session")
def tiny_state() -> dict[str, torch.Tensor]:
    """Random tiny ImageBind weights in the official layout, plus stand-ins for the keys of the
    modalities asva skips (their values do not matter: only their names are recognised)."""
    state = random_state_dict("tiny", seed=0, other_modalities=False)
    for key in official_layout("tiny"):
        if key.split(".")[1] in OTHER_MODALITIES:
            state[key] = torch.zeros(1)
    return state


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory, tiny_state):
    """The tiny state dict saved like the official file (a plain torch.save of the dict)."""
    path = tmp_path_factory.mktemp("imagebind") / "imagebind_tiny.pth"
    torch.save(tiny_state, path)
    return path
