"""The tiny SD folder loads through the same path a real SD-1.5 folder takes; missing ones fail."""

import json
import shutil

import pytest
import torch

from model.stable_diffusion import encode_prompts, load_stable_diffusion, missing_parts
from model.unet import AVSyncUNet, is_new_parameter


def test_tiny_folder_is_a_complete_diffusers_sd_folder(tiny_base):
    assert missing_parts(tiny_base) == []
    index = json.loads((tiny_base / "model_index.json").read_text())
    assert index["_class_name"] == "StableDiffusionPipeline" and index["unet"] == ["diffusers", "UNet2DConditionModel"]
    parts = load_stable_diffusion(tiny_base)
    # the CLIP BPE from open_clip gives OpenAI CLIP's ids: <start> dog barking <end>
    assert parts.tokenizer("dog barking").input_ids == [49406, 1929, 32676, 49407]
    assert parts.tokenizer.model_max_length == 77
    assert encode_prompts(parts.tokenizer, parts.text_encoder, ["dog barking"]).shape == (1, 77, 32)
    assert parts.training_scheduler().config.beta_schedule == "scaled_linear"
    unet = AVSyncUNet.from_pretrained_2d(parts.unet_dir, audio_dim=24)
    sd = load_stable_diffusion(tiny_base).unet_dir
    from safetensors.torch import load_file

    state = load_file(str(sd / "diffusion_pytorch_model.safetensors"))
    for name, value in unet.unet.state_dict().items():
        if not is_new_parameter(name):
            assert torch.equal(value, state[name]), name  # 2D weights load unchanged


def test_missing_or_incomplete_folders_fail_clearly(tiny_base, tmp_path):
    with pytest.raises(FileNotFoundError, match="Stable Diffusion folder not found"):
        load_stable_diffusion(tmp_path / "stable-diffusion-v1-5")
    broken = tmp_path / "broken"
    shutil.copytree(tiny_base, broken)
    (broken / "unet" / "diffusion_pytorch_model.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match="unet/config.json"):
        load_stable_diffusion(broken)
    with pytest.raises(FileNotFoundError, match="no UNet weights"):
        AVSyncUNet.from_pretrained_2d(broken / "unet")
