"""The ONE regenerator of the ASVA reference release's large random weight files (shared by the
`asva_release` tests: the authors' sync classifier `.bin` files, the pytorch-fid Inception `.pth`).

The reference release (`/work/shared/reference/asva-release-tiny/`, copied in part to
`tests/fixtures/asva_release/`) does not store its large weight files; its `weights_manifest.json`
defines every value instead, and this module rebuilds them bit-exactly:

    key   = first 8 bytes, little endian, of sha256(f"{seed}|{namespace}|{name}")
    z     = splitmix64(key + index · 0x9E3779B97F4A7C15)            (uint64, wrapping)
    u     = float32((z >> 40) · 2⁻²⁴) · 2 − 1                       (exact, in [−1, 1))
    value = float32(a) + float32(b) · u                              ((a, b) per tensor from the recipe)

Integer tensors (BatchNorm `num_batches_tracked`) are zeros. A file is a `torch.save`d plain state
dict in recipe key order (what diffusers' `save_pretrained(safe_serialization=False)` and pytorch-fid
write), checked against the recipe's tensor digest: sha256 over name | dtype | shape | raw bytes of
each tensor in order (not over the file bytes, which depend on the torch version).

A *recipe entry* is one element of the manifest's `files` list (keys `path`, `seed`, `namespace`,
`sha256_tensors`, `tensors` = [[name, dtype, shape, a, b] or [name, dtype, shape, "zeros"]]).

Use from a test (tests/ is not a package, so load by path):

    spec = importlib.util.spec_from_file_location("asva_release_weights", TESTS / "asva_release_weights.py")
    weights = importlib.util.module_from_spec(spec); spec.loader.exec_module(weights)
    weights.materialize(recipe_json_or_entry, out_file)             # one file
    weights.materialize_manifest(manifest_json, out_root)           # every entry, at out_root / entry["path"]

or from the shell: `python tests/asva_release_weights.py MANIFEST_OR_RECIPE.json OUT_ROOT`.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

import numpy as np
import torch

FIXTURE_ROOT = Path(__file__).resolve().parent / "fixtures" / "asva_release"

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


def reference_root() -> Path:
    """The reference release the `asva_release` tests compare against: `$ASVA_REFERENCE_DIR` when set
    (a folder of the release's layout: avsyncd/, avsync/, eval/), else the copy in tests/fixtures."""
    return Path(os.environ.get("ASVA_REFERENCE_DIR") or FIXTURE_ROOT)


def uniform(seed: int, namespace: str, name: str, count: int) -> np.ndarray:
    """`count` float32 values in [−1, 1), a pure function of (seed, namespace, name, index)."""
    key = np.uint64(int.from_bytes(hashlib.sha256(f"{seed}|{namespace}|{name}".encode()).digest()[:8], "little"))
    with np.errstate(over="ignore"):  # splitmix64 relies on wrapping uint64 arithmetic
        z = np.arange(count, dtype=np.uint64) * _GOLDEN + key
        z = (z ^ (z >> np.uint64(30))) * _MIX1
        z = (z ^ (z >> np.uint64(27))) * _MIX2
        z ^= z >> np.uint64(31)
    return (z >> np.uint64(40)).astype(np.float32) * np.float32(2.0**-24) * np.float32(2.0) - np.float32(1.0)


def state_dict_from_recipe(entry: dict) -> dict[str, torch.Tensor]:
    """The state dict (recipe key order) one recipe entry defines."""
    state = {}
    for name, dtype, shape, *fill in entry["tensors"]:
        torch_dtype = getattr(torch, dtype)
        if fill == ["zeros"]:
            state[name] = torch.zeros(shape, dtype=torch_dtype)
            continue
        a, b = fill
        u = uniform(entry["seed"], entry["namespace"], name, int(np.prod(shape, dtype=np.int64)))
        state[name] = torch.from_numpy((np.float32(a) + np.float32(b) * u).reshape(shape)).to(torch_dtype)
    return state


def tensor_digest(state: dict[str, torch.Tensor]) -> str:
    """sha256 over (name | dtype | shape | little-endian bytes) of every tensor, in order."""
    digest = hashlib.sha256()
    for name, tensor in state.items():
        tensor = tensor.detach().cpu().contiguous()
        digest.update(f"{name}|{str(tensor.dtype).removeprefix('torch.')}|{list(tensor.shape)}|".encode())
        digest.update(tensor.numpy().tobytes())
    return digest.hexdigest()


def _entry(recipe: dict | Path | str) -> dict:
    return recipe if isinstance(recipe, dict) else json.loads(Path(recipe).read_text())


def materialize(recipe: dict | Path | str, out_path: Path) -> Path:
    """Write the state dict of `recipe` (an entry, or a JSON file holding one) to `out_path` with
    `torch.save`, unless a file with the right tensor digest is already there. Raises
    AssertionError when the regenerated tensors do not match the recipe's digest."""
    entry, out_path = _entry(recipe), Path(out_path)
    if out_path.is_file():
        existing = torch.load(out_path, map_location="cpu", weights_only=True, mmap=True)
        if tensor_digest(existing) == entry["sha256_tensors"]:
            return out_path
    state = state_dict_from_recipe(entry)
    got = tensor_digest(state)
    if got != entry["sha256_tensors"]:
        raise AssertionError(f"regenerated {entry['path']} has digest {got}, the recipe says {entry['sha256_tensors']}")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    partial = out_path.with_name(out_path.name + ".part")
    torch.save(state, partial)
    partial.replace(out_path)
    return out_path


def materialize_manifest(manifest: dict | Path | str, out_root: Path, prefix: str = "") -> list[Path]:
    """Materialise every entry of a `weights_manifest.json` (or a single recipe entry) whose `path`
    starts with `prefix`, at `out_root / entry["path"]`; returns the written paths."""
    data = _entry(manifest)
    entries = data["files"] if "files" in data else [data]
    return [materialize(entry, Path(out_root) / entry["path"]) for entry in entries if entry["path"].startswith(prefix)]


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python tests/asva_release_weights.py MANIFEST_OR_RECIPE.json OUT_ROOT")
    for written in materialize_manifest(Path(sys.argv[1]), Path(sys.argv[2])):
        print(f"ok {written}")
