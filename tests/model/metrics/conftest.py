"""Reference artifacts of the authors' evaluation code (tests/fixtures/asva_release/eval, or
$ASVA_REFERENCE_DIR/eval) and the networks loaded from them, once per session.

The reference release does not ship its 91 MiB random Inception state dict; its README documents
how every value is defined, which `materialize` below implements:

    key   = first 8 bytes, little endian, of sha256(f"{seed}|{namespace}|{name}")
    z     = splitmix64(key + index · 0x9E3779B97F4A7C15)
    u     = float32((z >> 40) · 2⁻²⁴) · 2 − 1                (exact, in [−1, 1))
    value = float32(a) + float32(b) · u                       ((a, b) per tensor from the recipe)

integer tensors are zeros, and a tensor digest (sha256 over name | dtype | shape | raw bytes, in
recipe order) checks the result. The recipe rows (name, dtype, shape, a, b) are vendored in
tests/fixtures/asva_release/eval/inception_recipe.json.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

FIXTURE_ROOT = Path(__file__).resolve().parents[2] / "fixtures" / "asva_release"
INCEPTION_FILE = "pt_inception-2015-12-05-6726825d.pth"

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


def _uniform(seed: int, namespace: str, name: str, count: int) -> np.ndarray:
    """`count` float32 values in [−1, 1), a pure function of (seed, namespace, name, index)."""
    key = np.uint64(int.from_bytes(hashlib.sha256(f"{seed}|{namespace}|{name}".encode()).digest()[:8], "little"))
    with np.errstate(over="ignore"):  # splitmix64 relies on wrapping uint64 arithmetic
        z = np.arange(count, dtype=np.uint64) * _GOLDEN + key
        z = (z ^ (z >> np.uint64(30))) * _MIX1
        z = (z ^ (z >> np.uint64(27))) * _MIX2
        z ^= z >> np.uint64(31)
    return (z >> np.uint64(40)).astype(np.float32) * np.float32(2.0**-24) * np.float32(2.0) - np.float32(1.0)


def state_dict_from_recipe(recipe: dict) -> dict[str, torch.Tensor]:
    """The state dict (recipe key order) a recipe entry defines."""
    state = {}
    for name, dtype, shape, *fill in recipe["tensors"]:
        if fill == ["zeros"]:
            state[name] = torch.zeros(shape, dtype=getattr(torch, dtype))
            continue
        a, b = fill
        u = _uniform(recipe["seed"], recipe["namespace"], name, int(np.prod(shape, dtype=np.int64)))
        state[name] = torch.from_numpy((np.float32(a) + np.float32(b) * u).reshape(shape)).to(getattr(torch, dtype))
    return state


def tensor_digest(state: dict[str, torch.Tensor]) -> str:
    """sha256 over (name | dtype | shape | little-endian bytes) of every tensor, in order."""
    digest = hashlib.sha256()
    for name, tensor in state.items():
        tensor = tensor.detach().cpu().contiguous()
        digest.update(f"{name}|{str(tensor.dtype).removeprefix('torch.')}|{list(tensor.shape)}|".encode())
        digest.update(tensor.numpy().tobytes())
    return digest.hexdigest()


def materialize(recipe_path: Path, out_path: Path) -> Path:
    """Write the recipe's state dict to `out_path` (torch.save) unless a copy with the right digest
    is already there; raise if the regenerated tensors do not match the recipe's digest."""
    recipe = json.loads(recipe_path.read_text())
    if out_path.is_file():
        if tensor_digest(torch.load(out_path, map_location="cpu", weights_only=True)) == recipe["sha256_tensors"]:
            return out_path
    state = state_dict_from_recipe(recipe)
    got = tensor_digest(state)
    if got != recipe["sha256_tensors"]:
        raise AssertionError(f"regenerated {recipe['path']} has digest {got}, recipe says {recipe['sha256_tensors']}")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(out_path.name + ".part")
    torch.save(state, tmp)
    tmp.replace(out_path)
    return out_path


@pytest.fixture(scope="session")
def reference_eval_dir() -> Path:
    root = Path(os.environ.get("ASVA_REFERENCE_DIR", FIXTURE_ROOT))
    return root / "eval"


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
def inception_path(request: pytest.FixtureRequest, reference_eval_dir: Path) -> Path:
    """The reference's random Inception weights in pytorch-fid's layout: the release's own copy when
    it has been materialised there, else regenerated from the vendored recipe into the pytest cache."""
    shipped = reference_eval_dir / INCEPTION_FILE
    if shipped.is_file():
        return shipped
    return materialize(FIXTURE_ROOT / "eval" / "inception_recipe.json",
                       request.config.cache.mkdir("asva_release_eval") / INCEPTION_FILE)


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
