"""The evaluation command end to end on a tiny setup: generated sync videos, the tiny AVSyncD of
tests/model/conftest.py, a micro sync classifier, a tiny ImageBind in the official key layout, the
reference release's random FID Inception (pytorch-fid layout) and TorchScript I3D stand-in; the
report renders in headless Chromium and its videos play; clear errors for bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from model.encoders.imagebind_layout import write_random_checkpoint
from model.evaluate import evaluation_clips, main, uniform_clip_starts
from model.synthetic_data import write_synthetic_manifest
from sync_classifier.config import load_config as load_sync_config
from sync_classifier.model import SyncClassifier


@pytest.fixture(scope="session")
def eval_manifest(tmp_path_factory):
    """2 test videos of 3 s (real H.264 + AAC files)."""
    return write_synthetic_manifest(tmp_path_factory.mktemp("eval-data"), train_videos=0, test_videos=2,
                                    duration_s=3.0, size=48, fps=12.0, seed=3)


@pytest.fixture(scope="session")
def eval_weights(tmp_path_factory):
    root = tmp_path_factory.mktemp("eval-weights")
    torch.manual_seed(0)
    model_config = load_sync_config("tiny").model.model_copy(
        update=dict(audio_widths=(4, 8, 8, 16), video_widths=(4, 8, 8, 16), head_width=16, image_size=32))
    sync = SyncClassifier(model_config).eval().save_pretrained(root / "sync")
    imagebind = write_random_checkpoint(root / "imagebind_tiny.pth", "tiny", seed=0, other_modalities=False)
    return {"sync": Path(sync), "imagebind": imagebind}


def tiny_args(manifest, out, weights, model=None):
    args = ["--manifest", str(manifest), "--split", "test", "--static", "--out", str(out),
            "--imagebind", str(weights["imagebind"]), "--imagebind-preset", "tiny",
            "--sync-classifier", str(weights["sync"]), "--steps", "2", "--bootstrap", "50",
            "--set", "clips_per_video=2", "--set", "resolution=[32, 32]", "--set", "report_samples=2"]
    if model is not None:
        args += ["--model", str(model), "--guidance", "1", "4"]
    return args


def assert_first_video_plays_with_sound(page) -> None:
    page.evaluate("() => { const v = document.querySelector('section.clip video'); v.muted = false; return v.play(); }")
    page.wait_for_function("""() => { const v = document.querySelector('section.clip video');
        return v.currentTime > 0.3 && v.readyState >= 2 && v.webkitAudioDecodedByteCount > 0; }""", timeout=30000)


def test_uniform_clip_starts_follow_the_authors_linspace():
    np.testing.assert_allclose(uniform_clip_starts(0.0, 10.0, 3, 2.0), [0.0, 4.0, 8.0])
    np.testing.assert_allclose(uniform_clip_starts(1.0, 5.0, 1, 2.0), [2.0])
    with pytest.raises(ValueError, match="shorter than one"):
        uniform_clip_starts(0.0, 1.5, 3, 2.0)


def test_test_clips_ids_and_empty_split(eval_manifest, tmp_path):
    clips = evaluation_clips(eval_manifest, "test", 3, 2.0)
    assert len(clips) == 6 and clips["clip_id"].str.fullmatch(r".+__clip[0-2]").all()
    assert clips.groupby("video_id")["start_s"].apply(lambda s: np.allclose(s, [0.0, 0.5, 1.0])).all()
    assert set(clips["prompt"]) == {label.replace("_", " ") for label in clips["label"]}
    table = pd.read_parquet(eval_manifest).assign(split="train")
    empty = tmp_path / "no_test.parquet"
    table.to_parquet(empty)
    with pytest.raises(ValueError, match="split 'test'"):
        evaluation_clips(empty, "test", 3, 2.0)


@pytest.mark.parametrize("flag, name, published", [
    ("--imagebind", "imagebind_huge.pth", "dl.fbaipublicfiles.com/imagebind"),
    ("--inception", "pt_inception-2015-12-05-6726825d.pth", "github.com/mseitzer/pytorch-fid/releases"),
    ("--i3d", "i3d_torchscript.pt", "stylegan-v"),
    ("--sync-classifier", "sync", "python -m sync_classifier.train"),
])
def test_missing_weight_file_stops_at_once(eval_manifest, tmp_path, capsys, flag, name, published):
    code = main(["--manifest", str(eval_manifest), "--static", "--out", str(tmp_path / "o"), flag,
                 str(tmp_path / "nope" / name)])
    assert code == 2
    err = capsys.readouterr().err
    assert f"nope/{name}" in err and published in err
    assert not (tmp_path / "o" / "generations").exists()  # nothing generated before the check


@pytest.mark.slow
def test_evaluate_end_to_end(eval_manifest, eval_weights, trained_run, tmp_path, chromium_browser, capsys):
    out = tmp_path / "eval"
    model = trained_run.final_pipeline
    assert main(tiny_args(eval_manifest, out, eval_weights, model)) == 0
    summary = json.loads((out / "summary.json").read_text())
    tag = f"{model.parent.name}-final"
    assert summary["row_order"] == ["ground_truth", "static", f"{tag}_eta1", f"{tag}_eta4"]
    for row in summary["rows"].values():
        for name in ("IA", "IT", "RelSync", "AlignSync"):
            metric = row["metrics"][name]
            assert np.isfinite(metric["value"]) and metric["ci95"][0] <= metric["value"] <= metric["ci95"][1]
    gt = summary["rows"]["ground_truth"]["metrics"]
    assert gt["RelSync"]["value"] == pytest.approx(50.0)  # Eq. 2: the reference against itself
    # Static repeats the first frame: its P_Align is exactly 1/2 per frame, so AlignSync = RelSync / 2.
    static = summary["rows"]["static"]["metrics"]
    assert static["AlignSync"]["value"] == pytest.approx(static["RelSync"]["value"] / 2, rel=1e-3)
    assert summary["decoder"]["pyav"] and set(summary["weights"]) == {"imagebind", "sync_classifier"}
    assert all(len(w["sha256"]) == 64 for w in summary["weights"].values())
    assert any("FID not computed" in n for n in summary["notes"])

    scores = pd.read_parquet(out / "scores.parquet")
    assert len(scores) == 4 * 4 and set(scores["clip_id"]) == set(evaluation_clips(eval_manifest, "test", 2, 2.0)["clip_id"])
    for t in summary["rows"]:
        if t != "ground_truth":
            assert len(list((out / "generations" / t).glob("*__clip*.mp4"))) == 4

    # A second evaluation reuses every generation and every cached feature.
    first_misses = summary["cache"]["misses"]
    assert first_misses > 0
    assert main(tiny_args(eval_manifest, out, eval_weights, model)) == 0
    again = json.loads((out / "summary.json").read_text())
    assert again["timings_s"]["generation"] == {} and again["cache"]["misses"] == 0
    assert again["rows"] == summary["rows"]

    # The report: Table 1 with every row, per-class charts, videos that play with sound.
    page = chromium_browser.new_page()
    page.goto((out / "report.html").as_uri())
    assert page.locator("#results tbody tr").count() == 4
    assert page.locator("svg.bars").count() == 4
    videos = page.locator("section.clip video")
    assert videos.count() == 2 * 4
    assert_first_video_plays_with_sound(page)
    page.close()

    # A lost generation is refused by name, never dropped; a normal run regenerates just it.
    victim = sorted((out / "generations" / "static").glob("*.mp4"))[1]
    victim.unlink()
    assert main(tiny_args(eval_manifest, out, eval_weights, model) + ["--no-generate"]) == 2
    err = capsys.readouterr().err
    assert "static: 1 missing" in err and victim.stem in err and "refusing" in err
    assert main(tiny_args(eval_manifest, out, eval_weights, model)) == 0
    regenerated = json.loads((out / "summary.json").read_text())
    assert list(regenerated["timings_s"]["generation"]) == ["static"] and victim.is_file()


@pytest.mark.slow
def test_fid_and_fvd_rows_of_the_whole_command(eval_manifest, inception_path, fixtures_dir, tmp_path, chromium_browser):
    """FID (asva and standard protocols) and FVD through the whole command, with the reference
    release's random Inception in pytorch-fid's state-dict layout and its TorchScript I3D stand-in
    (the real call signature). Ground truth against itself is 0, Static is not; every number carries
    its protocol label; a second run recomputes nothing; the report shows the columns, the protocols
    and the known differences from the authors, and its videos play."""
    out = tmp_path / "eval"
    args = ["--manifest", str(eval_manifest), "--static", "--out", str(out), "--inception", str(inception_path),
            "--i3d", str(fixtures_dir / "asva_release" / "eval" / "i3d_standin_torchscript.pt"),
            "--bootstrap-frechet", "20", "--set", "clips_per_video=1", "--set", "resolution=[32, 32]",
            "--set", "report_samples=1"]
    assert main(args) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["metrics"] == ["FID", "FVD", "FID (standard)"] and summary["clips"] == 2
    assert set(summary["weights"]) == {"inception", "i3d"}
    assert all(len(w["sha256"]) == 64 for w in summary["weights"].values())
    gt, static = summary["rows"]["ground_truth"]["metrics"], summary["rows"]["static"]["metrics"]
    for name in ("FID", "FID (standard)", "FVD"):
        assert gt[name]["value"] == pytest.approx(0.0, abs=1e-6 * max(1.0, static[name]["value"]))
        assert np.isfinite(static[name]["value"]) and static[name]["value"] > 1e-3
        low, high = static[name]["ci95"]
        assert np.isfinite(low) and low <= high
    assert static["FID"]["protocol"].startswith("asva (229²") and "BatchNorm eval" in static["FID"]["protocol"]
    assert static["FID (standard)"]["protocol"].startswith("standard (torchmetrics / torch-fidelity: 299²")
    assert static["FVD"]["protocol"].startswith("asva (StyleGAN-V I3D, 12 frames at 224²")
    assert static["FID"]["value"] != pytest.approx(static["FID (standard)"]["value"], rel=1e-3)  # two protocols
    differences = " ".join(summary["protocol"]["differences_from_authors"])
    assert "BatchNorm" in differences and "frame pick" not in differences  # the authors' frame pick by default
    assert "at or after" in summary["protocol"]["frame_pick"]
    assert any("FVD: 2 clips for a 400-d covariance" in n for n in summary["notes"])

    assert main(args) == 0  # every feature comes from the cache
    again = json.loads((out / "summary.json").read_text())
    assert again["cache"]["misses"] == 0 and again["rows"] == summary["rows"]

    page = chromium_browser.new_page()
    page.goto((out / "report.html").as_uri())
    header = page.locator("#results thead").inner_text()
    assert "FID" in header and "FVD" in header and "FID (standard)" in header
    assert page.locator("#results tbody tr").count() == 2
    assert "229²" in page.locator("#protocols").inner_text()
    assert "first source frame at or after" in page.locator("#protocols").inner_text()
    assert "BatchNorm" in page.locator("#differences").inner_text()
    assert page.locator("section.clip video").count() == 2
    assert_first_video_plays_with_sound(page)
    page.close()


@pytest.mark.slow
def test_standard_16_frame_fvd_when_the_clips_allow_it(eval_manifest, fixtures_dir, tmp_path):
    """Clips of 16 frames: StyleGAN-V's 16-frame FVD (the network rescales and resizes) beside the
    asva 12-frame one, each labelled; with 12-frame clips the summary says why it is absent."""
    i3d = fixtures_dir / "asva_release" / "eval" / "i3d_standin_torchscript.pt"
    args = ["--manifest", str(eval_manifest), "--static", "--i3d", str(i3d), "--bootstrap-frechet", "5",
            "--set", "clips_per_video=1", "--set", "resolution=[32, 32]", "--set", "report_samples=0"]
    assert main(args + ["--out", str(tmp_path / "f16"), "--set", "num_frames=16", "--set", "fps=8"]) == 0
    summary = json.loads((tmp_path / "f16" / "summary.json").read_text())
    assert summary["metrics"] == ["FVD", "FVD (standard)"]
    static = summary["rows"]["static"]["metrics"]
    assert static["FVD (standard)"]["protocol"].startswith("standard (StyleGAN-V fvd2048_16f")
    assert np.isfinite(static["FVD (standard)"]["value"]) and static["FVD (standard)"]["value"] > 0
    assert static["FVD (standard)"]["value"] != pytest.approx(static["FVD"]["value"], rel=1e-3)
    assert not any("16-frame clips" in n for n in summary["notes"])
    assert main(args + ["--out", str(tmp_path / "f12")]) == 0
    summary = json.loads((tmp_path / "f12" / "summary.json").read_text())
    assert summary["metrics"] == ["FVD"] and any("not computed: the protocol's clips are 12" in n for n in summary["notes"])
