"""Convert the authors' released sync classifier into this project's checkpoint folder.

    python -m sync_classifier.convert_asva --modules CKPT/modules --out DIR

`CKPT/modules` is the authors' `save_pretrained` layout (`audio_encoder/`, `video_encoder/`,
`head/`, each a `config.json` + `diffusion_pytorch_model.bin` or `.safetensors`; their VGGSS
classifier is `checkpoint-40000`). DIR then holds `config.json` + `model.safetensors`, which
`SyncClassifier.from_pretrained`, `python -m sync_classifier.evaluate`, `sync_metrics`, the
`psync` curation metric and `model.evaluate` load like a classifier trained here.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from sync_classifier.config import load_config
from sync_classifier.model import SyncClassifier
from sync_classifier.pretrained import load_asva_release


def convert_asva_sync_classifier(modules_dir: str | os.PathLike, out_dir: str | os.PathLike) -> Path:
    """Load the release strictly into a `paper` model (the authors' classes have no size
    options) and save it; returns the output folder."""
    model = SyncClassifier(load_config("paper").model)
    load_asva_release(model, modules_dir)
    return model.save_pretrained(out_dir)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--modules", required=True, help="the authors' checkpoint-N/modules folder")
    parser.add_argument("--out", required=True, help="output folder (config.json + model.safetensors)")
    args = parser.parse_args(argv)
    try:
        out = convert_asva_sync_classifier(args.modules, args.out)
    except (FileNotFoundError, ValueError, RuntimeError) as exc:
        parser.exit(2, f"error: {exc}\n")
    print(f"sync classifier written to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
