"""Reference artifacts of the authors' evaluation code (tests/fixtures/asva_release/eval, or
$ASVA_REFERENCE_DIR/eval) and the networks loaded from them, once per session. The release's 91 MiB
random Inception state dict is the `inception_path` fixture of tests/model/conftest.py (shared with
the evaluation command's tests).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

TESTS = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("asva_release_weights", TESTS / "asva_release_weights.py")
weights = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(weights)

FIXTURE_ROOT = weights.FIXTURE_ROOT


@pytest.fixture(scope="session")
def reference_eval_dir() -> Path:
    return weights.reference_root() / "eval"


@pytest.fixture(scope="session")
def reference_results(reference_eval_dir: Path) -> dict:
    return json.loads(((reference_eval_dir / "results.json") if (reference_eval_dir / "results.json").is_file()
                       else reference_eval_dir.parent / "results.json").read_text())["eval"]


@pytest.fixture(scope="session")
def reference_videos(reference_eval_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """(real, generated) clips (8, 12, 64, 64, 3) uint8."""
    videos = np.load(reference_eval_dir / "videos.npz")
    return videos["real_uint8"], videos["generated_uint8"]


@pytest.fixture(scope="session")
def fid_net(inception_path: Path):
    from model.metrics.fid import load_fid_inception

    return load_fid_inception(inception_path)


@pytest.fixture(scope="session")
def i3d_path(reference_eval_dir: Path) -> Path:
    return reference_eval_dir / "i3d_standin_torchscript.pt"


@pytest.fixture(scope="session")
def i3d_net(i3d_path: Path):
    from model.metrics.fvd import load_i3d

    return load_i3d(i3d_path)
