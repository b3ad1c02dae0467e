"""The authors' AVSyncD UNet, converted with `python -m model.convert_asva`, reproduces what their
own code computed on the reference release (tests/fixtures/asva_release/avsyncd or
$ASVA_REFERENCE_DIR/avsyncd; README section a): the first UNet call of their pipeline, every call
of a 5-step PNDM run with audio guidance 4 (driven by our scheduler loop), and a training-style call."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import pytest
import torch
from diffusers import PNDMScheduler
from safetensors.torch import load_file

from model.convert_asva import main as convert_main
from model.pipeline import guided_noise
from model.unet import AVSyncUNet

TESTS = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("asva_release_weights", TESTS / "asva_release_weights.py")
weights = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(weights)

UNET = Path("avsyncd") / "checkpoint-37000" / "modules" / "unet"
# Stable Diffusion v1.5's scheduler_config.json (what their pipeline's PNDM is built from).
SD15_SCHEDULER = dict(num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                      skip_prk_steps=True, steps_offset=1, set_alpha_to_one=False, prediction_type="epsilon")


def _close(got: torch.Tensor, want: torch.Tensor, rel: float = 1e-4) -> None:
    """max |Δ| ≤ rel · the output's scale (max |want|)."""
    scale = float(want.abs().max())
    delta = float((got.double() - want.double()).abs().max())
    assert delta <= rel * scale, f"max |Δ| {delta:.3g} > {rel} · {scale:.3g}"


@pytest.fixture(scope="module")
def reference_dir() -> Path:
    return weights.reference_root() / "avsyncd"


@pytest.fixture(scope="module")
def converted(reference_dir, tmp_path_factory) -> AVSyncUNet:
    out = tmp_path_factory.mktemp("asva_release_unet") / "unet"
    assert convert_main(["--unet", str(reference_dir.parent / UNET), "--out", str(out)]) == 0
    return AVSyncUNet.from_pretrained(out).eval()


def _call(unet: AVSyncUNet, sample, timestep, inputs) -> torch.Tensor:
    """Their per-frame conditioning → ours (one text / token set per video, the mask as is)."""
    with torch.no_grad():
        return unet(sample, timestep, inputs["encoder_hidden_states"][:, 0], inputs["audio_encoder_hidden_states"][:, 0],
                    inputs["audio_attention_mask"]).sample


def test_asva_release_unet_inference_step0(converted, reference_dir):
    step0 = load_file(str(reference_dir / "inference_step0.safetensors"))
    # Their conditioning is the same for every frame: taking frame 0 loses nothing.
    for key in ("encoder_hidden_states", "audio_encoder_hidden_states"):
        assert torch.equal(step0[key], step0[key][:, :1].expand_as(step0[key]))
    _close(_call(converted, step0["sample"], step0["timestep"], step0), step0["out"])


def test_asva_release_unet_inference_steps_with_our_scheduler_loop(converted, reference_dir):
    step0 = load_file(str(reference_dir / "inference_step0.safetensors"))
    run = load_file(str(reference_dir / "inference_steps.safetensors"))
    scheduler = PNDMScheduler(**SD15_SCHEDULER)
    scheduler.set_timesteps(5)
    assert scheduler.timesteps.tolist() == run["timesteps"].tolist()
    latents = run["samples"][0, 1].clone()  # (C, F, h, w): the audio half of the first call's batch
    for i, t in enumerate(scheduler.timesteps):
        sample = torch.stack([latents, latents])
        _close(sample, run["samples"][i], rel=1e-4)
        out = _call(converted, sample, t, step0)
        _close(out, run["outs"][i])
        noise = guided_noise(out[:1], out[1:], 4.0)[0]
        latents[:, 1:] = scheduler.step(noise[:, 1:], t, latents[:, 1:]).prev_sample
    _close(latents.transpose(0, 1), run["final_latents"])


def test_asva_release_unet_train_forward(converted, reference_dir):
    train = load_file(str(reference_dir / "train_forward.safetensors"))
    _close(_call(converted, train["sample"], train["timesteps"], train), train["out"])


def test_asva_release_unet_bin_and_wrong_folders(reference_dir, converted, tmp_path, capsys):
    """The same weights as .bin convert identically; a sync-classifier folder, a foreign class and
    a key that maps nowhere are refused with messages naming them."""
    source = reference_dir.parent / UNET
    bin_dir = tmp_path / "unet_bin"
    bin_dir.mkdir()
    shutil.copy(source / "config.json", bin_dir / "config.json")
    state = load_file(str(source / "diffusion_pytorch_model.safetensors"))
    torch.save(state, bin_dir / "diffusion_pytorch_model.bin")
    assert convert_main(["--unet", str(bin_dir), "--out", str(tmp_path / "from_bin")]) == 0
    again = AVSyncUNet.from_pretrained(tmp_path / "from_bin")
    for key, value in converted.state_dict().items():
        assert torch.equal(value, again.state_dict()[key]), key
    # a legacy (pre-zip) torch.save file cannot be memory-mapped: it is read whole, same weights
    torch.save(state, bin_dir / "diffusion_pytorch_model.bin", _use_new_zipfile_serialization=False)
    assert convert_main(["--unet", str(bin_dir), "--out", str(tmp_path / "from_legacy_bin")]) == 0
    legacy = AVSyncUNet.from_pretrained(tmp_path / "from_legacy_bin").state_dict()
    assert all(torch.equal(value, legacy[key]) for key, value in converted.state_dict().items())

    avsync_modules = weights.reference_root() / "avsync" / "checkpoint-40000" / "modules"
    with pytest.raises(SystemExit):
        convert_main(["--unet", str(avsync_modules), "--out", str(tmp_path / "x")])
    assert "sync_classifier.convert_asva" in capsys.readouterr().err

    state["down_blocks.0.attentions.0.transformer_blocks.0.attn_extra.weight"] = torch.zeros(1)
    torch.save(state, bin_dir / "diffusion_pytorch_model.bin")
    with pytest.raises(SystemExit):
        convert_main(["--unet", str(bin_dir), "--out", str(tmp_path / "y")])
    assert "attn_extra.weight" in capsys.readouterr().err

    (bin_dir / "config.json").write_text(json.dumps({"_class_name": "UNet2DConditionModel"}))
    with pytest.raises(SystemExit):
        convert_main(["--unet", str(bin_dir), "--out", str(tmp_path / "z")])
    assert "AudioUNet3DConditionModel" in capsys.readouterr().err
