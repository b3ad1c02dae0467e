"""Tiny AVSyncD components for the model tests (CPU, seconds), diffusers-test style."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch
from diffusers import UNet2DConditionModel

from model.config import load_config
from model.stable_diffusion import build_tiny_stable_diffusion
from model.synthetic_data import write_synthetic_manifest

# The 2 cores are shared: one thread avoids OpenMP stalls when the other core is busy.
torch.set_num_threads(1)

AUDIO_DIM = 24  # narrow audio tokens keep the micro models small


def micro_unet2d(seed: int = 0, cross_attention_dim: int = 16) -> UNet2DConditionModel:
    """A 2-level SD-shaped UNet with non-trivial (random) weights, eval mode."""
    torch.manual_seed(seed)
    return UNet2DConditionModel(
        sample_size=8, in_channels=4, out_channels=4, layers_per_block=1, block_out_channels=(32, 64),
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=cross_attention_dim, attention_head_dim=4, norm_num_groups=8,
    ).eval()


@pytest.fixture
def unet2d() -> UNet2DConditionModel:
    return micro_unet2d()


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory):
    """The project's tiny SD folder (diffusers layout), built once."""
    return build_tiny_stable_diffusion(tmp_path_factory.mktemp("tiny-sd") / "sd", seed=0)


@pytest.fixture(scope="session")
def synthetic_manifest(tmp_path_factory):
    """Generated sync clips (real mp4 files) and their clips.parquet: 4 train + 2 test videos."""
    return write_synthetic_manifest(tmp_path_factory.mktemp("synthetic"), train_videos=4, test_videos=2,
                                    duration_s=2.5, size=64, fps=12.0, seed=0)


def micro_train_config(manifest, base, **train):
    """The tiny preset shrunk further: 32² frames, 2 held-out clips, one thread."""
    overrides = [f"data.manifest={manifest}", f"model.pretrained={base}", "data.resolution=32",
                 "train.eval_clips=2", "train.eval_every=0", "train.num_threads=1", "train.log_every=1"]
    overrides += [f"train.{key}={value}" for key, value in train.items()]
    return load_config("tiny", overrides=overrides)


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory, synthetic_manifest, tiny_base):
    """A 2-step tiny training run (its final/ pipeline is what animate tests load)."""
    from model.train import train

    config = micro_train_config(synthetic_manifest, tiny_base, max_steps=2, checkpoint_every=1)
    return train(config, tmp_path_factory.mktemp("run") / "avsyncd")


@pytest.fixture(scope="session")
def inception_path(request: pytest.FixtureRequest) -> Path:
    """The ASVA reference release's random FID Inception weights in pytorch-fid's state-dict layout
    (pt_inception-2015-12-05-6726825d.pth, 91 MiB): the release's own copy when it has been
    materialised, else regenerated from the vendored recipe (tests/asva_release_weights.py) into the
    pytest cache. Used by the metric tests and the evaluation command's FID test."""
    tests = Path(__file__).resolve().parents[1]
    spec = importlib.util.spec_from_file_location("asva_release_weights", tests / "asva_release_weights.py")
    weights = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(weights)
    name = "pt_inception-2015-12-05-6726825d.pth"
    shipped = weights.reference_root() / "eval" / name
    if shipped.is_file():
        return shipped
    return weights.materialize(weights.FIXTURE_ROOT / "eval" / "inception_recipe.json",
                               request.config.cache.mkdir("asva_release_eval") / name)
