"""The authors' released sync classifier, converted with `python -m sync_classifier.convert_asva`,
reproduces what their own code computed on the reference release (tests/fixtures/asva_release/avsync
or $ASVA_REFERENCE_DIR/avsync; README section b): embeddings, φ for all (audio, video) pairs,
RelSync and AlignSync — from their fbank and from our preprocessing of the raw inputs."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from sync_classifier.convert_asva import main as convert_main
from sync_classifier.model import SyncClassifier
from sync_classifier.preprocessing import audio_to_fbank, frames_to_tensor
from sync_classifier.sync_metrics import align_probability, alignsync, relsync

TESTS = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("asva_release_weights", TESTS / "asva_release_weights.py")
weights = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(weights)

MODULES = Path("avsync") / "checkpoint-40000" / "modules"


def _close(got: torch.Tensor, want: torch.Tensor, rel: float = 1e-4) -> None:
    """max |Δ| ≤ rel · the output's scale (max |want|)."""
    scale = float(want.abs().max())
    delta = float((got.double() - want.double()).abs().max())
    assert delta <= rel * scale, f"max |Δ| {delta:.3g} > {rel} · {scale:.3g}"


@pytest.fixture(scope="module")
def release_modules(tmp_path_factory) -> Path:
    """The authors' `modules/` folder: the reference's own when its .bin files are materialised,
    else its configs + the .bin files regenerated from the vendored recipe."""
    root = weights.reference_root()
    shipped = root / MODULES
    if all((shipped / name / "diffusion_pytorch_model.bin").is_file() for name in ("audio_encoder", "video_encoder", "head")):
        return shipped
    out = tmp_path_factory.mktemp("asva_release_avsync")
    shutil.copytree(shipped, out / MODULES)
    manifest = root / "avsync" / "weights_manifest.json"
    if not manifest.is_file():
        manifest = root / "weights_manifest.json"
    assert len(weights.materialize_manifest(manifest, out, prefix="avsync/")) == 3
    return out / MODULES


@pytest.fixture(scope="module")
def converted(release_modules, tmp_path_factory) -> SyncClassifier:
    out = tmp_path_factory.mktemp("converted") / "sync_classifier"
    assert convert_main(["--modules", str(release_modules), "--out", str(out)]) == 0
    return SyncClassifier.from_pretrained(out)


@pytest.fixture(scope="module")
def reference():
    folder = weights.reference_root() / "avsync"
    return load_file(str(folder / "inputs.safetensors")), load_file(str(folder / "outputs.safetensors"))


def _videos(video_uint8: torch.Tensor, image_size: int) -> torch.Tensor:
    """(B, F, H, W, 3) uint8 → (B, 3, F, S, S) through our preprocessing."""
    return torch.stack([frames_to_tensor(clip.numpy(), image_size).transpose(0, 1) for clip in video_uint8])


def test_asva_release_sync_classifier_reproduces_phi_relsync_alignsync(converted, reference):
    inputs, outputs = reference
    videos = _videos(inputs["video_uint8"], converted.config.image_size)
    _close(videos[0, :, :, :16, :16], inputs["preprocessed_video_first_clip_crop"])
    static = _videos(inputs["video_uint8"][:, :1].repeat(1, 12, 1, 1, 1), converted.config.image_size)
    with torch.no_grad():
        audio = converted.encode_audio(inputs["fbank"])
        video = converted.encode_video(videos)
        phi = converted.head.all_pairs(audio, video)
        diag = converted(inputs["fbank"], videos)
        phi_static = converted(inputs["fbank"], static)
        phi_rolled_audio = converted(inputs["fbank"][[1, 2, 3, 0]], videos)
    _close(audio, outputs["audio_embeddings"])
    _close(video, outputs["video_embeddings"])
    _close(phi, outputs["phi"])
    _close(diag, outputs["scores_diag"])
    rel_static = relsync(phi_static.numpy(), diag.numpy())
    np.testing.assert_allclose(rel_static, outputs["relsync_static_vs_gt"].numpy(), atol=1e-4)
    np.testing.assert_allclose(relsync(diag.numpy(), phi_rolled_audio.numpy()),
                               outputs["relsync_audio_ref_rolled"].numpy(), atol=1e-4)
    ia = outputs["ia_sim_standin"].numpy()  # the stand-in IA scorer on the static clips' frames
    got_align = [alignsync(r, align_probability(row[0], row[1:])) for r, row in zip(rel_static, ia)]
    np.testing.assert_allclose(got_align, outputs["alignsync_static"].numpy(), atol=1e-4)


def test_asva_release_sync_classifier_from_raw_waveforms(converted, reference):
    """Our fbank of the raw 16 kHz waveforms (not theirs) still gives their φ to 1e-4."""
    inputs, outputs = reference
    fbank = torch.stack([audio_to_fbank(w[0].numpy(), converted.config) for w in inputs["waveforms"]])
    _close(fbank, inputs["fbank"], rel=5e-4)  # float32 rounding of a different op order (docs/asva_compatibility.md)
    with torch.no_grad():
        phi = converted.head.all_pairs(converted.encode_audio(fbank),
                                       converted.encode_video(_videos(inputs["video_uint8"], converted.config.image_size)))
    _close(phi, outputs["phi"])


def test_asva_release_sync_classifier_safetensors_and_wrong_folders(release_modules, converted, tmp_path, capsys):
    """The same release as .safetensors converts to the same weights; a folder of another kind,
    a missing module and a foreign class are refused with a message naming the problem."""
    modules = tmp_path / "modules"
    for name in ("audio_encoder", "video_encoder", "head"):
        (modules / name).mkdir(parents=True)
        shutil.copy(release_modules / name / "config.json", modules / name / "config.json")
        state = torch.load(release_modules / name / "diffusion_pytorch_model.bin", weights_only=True, mmap=True)
        save_file({k: v.contiguous() for k, v in state.items()}, str(modules / name / "diffusion_pytorch_model.safetensors"))
    assert convert_main(["--modules", str(modules), "--out", str(tmp_path / "st")]) == 0
    again = SyncClassifier.from_pretrained(tmp_path / "st")
    for key, value in converted.state_dict().items():
        assert torch.equal(value, again.state_dict()[key]), key

    unet_modules = weights.reference_root() / "avsyncd" / "checkpoint-37000" / "modules"
    with pytest.raises(SystemExit):
        convert_main(["--modules", str(unet_modules), "--out", str(tmp_path / "x")])
    assert "model.convert_asva" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # the checkpoint folder instead of its modules/
        convert_main(["--modules", str(tmp_path), "--out", str(tmp_path / "x")])
    assert f"pass --modules {modules}" in capsys.readouterr().err
    (modules / "head" / "config.json").write_text('{"_class_name": "AudioConv2DNet"}')
    with pytest.raises(SystemExit):
        convert_main(["--modules", str(modules), "--out", str(tmp_path / "y")])
    assert "FCHead" in capsys.readouterr().err
    shutil.rmtree(modules / "head")
    with pytest.raises(SystemExit):
        convert_main(["--modules", str(modules), "--out", str(tmp_path / "z")])
    assert "head" in capsys.readouterr().err
