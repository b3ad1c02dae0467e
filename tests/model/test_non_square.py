"""Non-square frames (TheGreatestHits is 128 × 256, height × width) through the config, the
training windows, training, the pipeline, `model.animate` and `model.evaluate`, at 32 × 64 on a
generated dataset in TheGreatestHits' own folder layout."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from curation import avsync15
from curation.manifest import read_clip_rows
from curation.media import probe
from curation.sources.synthetic import write_synthetic_video
from model.config import load_config
from model.data import TrainingWindows
from model.synthetic_data import synthetic_scene

from .test_evaluate import eval_weights  # noqa: F401  (a fixture: tiny ImageBind + micro sync classifier)

REPO = Path(__file__).resolve().parents[2]
HEIGHT, WIDTH = 32, 64


def test_height_and_width_default_to_the_square_resolution():
    assert load_config("tiny").data.size == (64, 64)
    assert load_config("tiny", overrides=["data.height=32"]).data.size == (32, 64)
    assert load_config("tiny", overrides=["data.height=128", "data.width=256"]).data.size == (128, 256)
    assert load_config("paper").data.size == (256, 256)


@pytest.fixture(scope="module")
def wide_manifest(tmp_path_factory) -> Path:
    """TheGreatestHits' layout (flat videos/ + train.txt / test.txt) of 64×32 sync clips, and the
    manifest the release route writes for it."""
    root = tmp_path_factory.mktemp("TheGreatestHits")
    rng = np.random.default_rng(0)
    names = [f"clip{i}_denoised_thumb.mp4" for i in range(5)]
    for name in names:
        write_synthetic_video(root / "videos" / name, synthetic_scene(rng, "hammering", 2.5), fps=12.0,
                              size=(WIDTH * 2, HEIGHT * 2), seed=int(rng.integers(1 << 31)))
    (root / "train.txt").write_text("\n".join(names[:4]) + "\n")
    (root / "test.txt").write_text(names[4] + "\n")
    frame, _ = avsync15.release_manifest(root)
    return avsync15.write_avsync15_manifest(frame, root / "clips.parquet")


def test_training_windows_are_height_by_width(wide_manifest):
    data = load_config("tiny", overrides=[f"data.height={HEIGHT}", f"data.width={WIDTH}"]).data
    example = TrainingWindows(read_clip_rows(wide_manifest, "train", need_label=True), data, seed=0)[1]
    assert example["frames"].shape == (3, 12, HEIGHT, WIDTH) and example["prompt"] == "hitting with a stick"


@pytest.mark.slow
def test_train_animate_evaluate_at_32_by_64(wide_manifest, tiny_base, eval_weights, tmp_path, capsys):  # noqa: F811
    from model.animate import main as animate_main
    from model.evaluate import main as evaluate_main
    from model.pipeline import AVSyncDPipeline
    from model.train import main as train_main

    run = tmp_path / "run"
    assert train_main(["--preset", "tiny", "--manifest", str(wide_manifest), "--pretrained", str(tiny_base),
                       "--height", str(HEIGHT), "--width", str(WIDTH), "--max-steps", "2", "--threads", "1",
                       "--out", str(run), "--set", "train.eval_clips=1", "--set", "train.eval_every=0"]) == 0
    final = run / "final"
    assert json.loads((final / "model_index.json").read_text())["resolution"] == [HEIGHT, WIDTH]
    assert AVSyncDPipeline.from_pretrained(final).resolution == (HEIGHT, WIDTH)

    # animate: the model's size by default; --static alone takes --height/--width
    image, audio = REPO / "data" / "examples" / "lion_and_gun.png", REPO / "data" / "examples" / "lions_roaring.wav"
    mp4 = tmp_path / "lion.mp4"
    assert animate_main(["--model", str(final), "--image", str(image), "--audio", str(audio), "--steps", "2",
                         "--prompt", "hitting with a stick", "--out", str(mp4)]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["size"] == [HEIGHT, WIDTH]
    info = probe(mp4)
    assert (info.height, info.width) == (HEIGHT, WIDTH)
    static = tmp_path / "static.mp4"
    assert animate_main(["--static", "--image", str(image), "--audio", str(audio), "--height", "48", "--width", "80",
                         "--out", str(static)]) == 0
    assert (probe(static).height, probe(static).width) == (48, 80)
    with pytest.raises(SystemExit):
        animate_main(["--static", "--image", str(image), "--audio", str(audio), "--height", "30", "--out", str(static)])
    assert "multiple of 8" in capsys.readouterr().err

    # evaluate: generates at the model's size and scores against 32×64 ground truth
    out = tmp_path / "eval"
    assert evaluate_main(["--manifest", str(wide_manifest), "--split", "test", "--model", str(final), "--static",
                          "--guidance", "1", "--steps", "2", "--out", str(out), "--imagebind", str(eval_weights["imagebind"]),
                          "--imagebind-preset", "tiny", "--sync-classifier", str(eval_weights["sync"]),
                          "--bootstrap", "10", "--set", "clips_per_video=1", "--set", "report_samples=1"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["protocol"]["resolution"] == [HEIGHT, WIDTH]
    generated = sorted((out / "generations").rglob("*.mp4"))
    assert len(generated) == 2  # static + the model at η = 1, one test clip
    assert all((probe(p).height, probe(p).width) == (HEIGHT, WIDTH) for p in generated)
    assert all(np.isfinite(row["metrics"]["RelSync"]["value"]) for row in summary["rows"].values())
