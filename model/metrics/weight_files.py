"""Where the evaluation networks' weight files are published, and the check that they are there.

A missing file stops the run at once with the file's name and where to get it: no metric is ever
computed with random weights.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from curation.metrics.neural_scoring import ModelWeightsMissing


@dataclass(frozen=True)
class WeightFile:
    """A published weight file: its canonical name, what it is, and where to download it."""

    name: str
    what: str
    published: str


FID_INCEPTION = WeightFile(
    name="pt_inception-2015-12-05-6726825d.pth",
    what="the FID Inception network (TensorFlow's 2015-12-05 InceptionV3 in pytorch-fid's state-dict layout)",
    published="https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth",
)

I3D = WeightFile(
    name="i3d_torchscript.pt",
    what="StyleGAN-V's TorchScript I3D (Kinetics-400) used for FVD",
    published="https://www.dropbox.com/s/ge9e5ujwgetktms/i3d_torchscript.pt (linked from StyleGAN-V's README, "
    "github.com/universome/stylegan-v)",
)


def require_weight_file(path: str | os.PathLike, weights: WeightFile) -> Path:
    """`path` as a Path if it is a file; else ModelWeightsMissing (a FileNotFoundError) naming the
    expected file and where it is published."""
    path = Path(path)
    if not path.is_file():
        raise ModelWeightsMissing(
            f"{weights.what}: weight file not found: {path} (expected {weights.name}, published at "
            f"{weights.published})"
        )
    return path
