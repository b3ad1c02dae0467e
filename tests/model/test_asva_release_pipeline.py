"""The full pipeline-folder conversion: `python -m model.convert_asva --unet CKPT/modules/unet
--pretrained SD15_DIR --imagebind imagebind.pth --out DIR`, on tiny models in the real formats —
the authors' release UNet (tests/fixtures/asva_release, its audio cross-attention widened to the
tiny ImageBind's 32 and saved as their `.bin`) inside an experiment folder with their training
`config.yaml` (non-square, TheGreatestHits-style), the project's tiny SD-1.5-layout folder and a
tiny ImageBind checkpoint in `imagebind_huge.pth`'s key layout. DIR then works with
`AVSyncDPipeline.from_pretrained` and `model.animate --model DIR`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file

from curation.media import probe
from model.convert_asva import authors_clip_format, convert_asva_unet
from model.convert_asva import main as convert_main
from model.encoders.imagebind_layout import write_random_checkpoint
from model.pipeline import AVSyncDPipeline

from .test_asva_release_unet import UNET, weights

REPO = Path(__file__).resolve().parents[2]
HEIGHT, WIDTH = 32, 64  # TheGreatestHits' 128 × 256, scaled down


@pytest.fixture(scope="module")
def imagebind_tiny(tmp_path_factory) -> Path:
    """Random tiny ImageBind weights saved like imagebind_huge.pth (every modality's keys)."""
    return write_random_checkpoint(tmp_path_factory.mktemp("imagebind") / "imagebind_tiny.pth", "tiny", seed=0)


@pytest.fixture(scope="module")
def experiment(tmp_path_factory) -> Path:
    """EXP/ckpts/checkpoint-16000/modules/unet (the authors' layout) + EXP/config.yaml (their
    animation_train.py writes it): the release UNet with 32-wide audio tokens, as a `.bin`."""
    source = weights.reference_root() / UNET
    exp = tmp_path_factory.mktemp("checkpoints") / "thegreatesthits_audio-cond_cfg"
    unet_dir = exp / "ckpts" / "checkpoint-16000" / "modules" / "unet"
    unet_dir.mkdir(parents=True)
    config = json.loads((source / "config.json").read_text())
    config["audio_cross_attention_dim"] = 32
    (unet_dir / "config.json").write_text(json.dumps(config, indent=2))
    state = load_file(str(source / "diffusion_pytorch_model.safetensors"))
    generator = torch.Generator().manual_seed(0)
    for key in [k for k in state if ".attn_audio.to_k." in k or ".attn_audio.to_v." in k]:
        state[key] = 0.2 * torch.randn(state[key].shape[0], 32, generator=generator)
    torch.save(state, unet_dir / "diffusion_pytorch_model.bin")
    (exp / "config.yaml").write_text(yaml.safe_dump({"train": {"dataset": {
        "img_size": [HEIGHT, WIDTH], "video_fps": 6, "video_num_frame": 12}}}))
    return exp


def test_asva_release_pipeline_folder_converts_and_animates(experiment, tiny_base, imagebind_tiny, tmp_path, capsys):
    unet_dir = experiment / "ckpts" / "checkpoint-16000" / "modules" / "unet"
    out = tmp_path / "avsyncd-thegreatesthits"
    assert convert_main(["--unet", str(unet_dir), "--pretrained", str(tiny_base), "--imagebind", str(imagebind_tiny),
                         "--imagebind-preset", "tiny", "--out", str(out)]) == 0
    assert f"{HEIGHT}×{WIDTH} (from {experiment / 'config.yaml'})" in capsys.readouterr().out

    pipeline = AVSyncDPipeline.from_pretrained(out)
    assert pipeline.resolution == (HEIGHT, WIDTH) and (pipeline.num_frames, pipeline.fps) == (12, 6.0)
    assert pipeline.audio_encoder.token_dim == 32 and pipeline.audio_encoder_reference["preset"] == "tiny"
    direct = convert_asva_unet(unet_dir).state_dict()
    assert all(torch.equal(value, direct[key]) for key, value in pipeline.unet.state_dict().items())
    assert not (out / "audio_encoder" / "imagebind_tiny.pth").exists()  # ImageBind is recorded, never copied

    from model.animate import main as animate_main

    mp4 = tmp_path / "lion.mp4"
    assert animate_main(["--model", str(out), "--image", str(REPO / "data" / "examples" / "lion_and_gun.png"),
                         "--audio", str(REPO / "data" / "examples" / "lions_roaring.wav"), "--prompt", "lions roaring",
                         "--steps", "2", "--out", str(mp4)]) == 0
    info = probe(mp4)
    assert (info.height, info.width, info.has_audio) == (HEIGHT, WIDTH, True)


def test_asva_release_clip_format_and_refusals(experiment, tiny_base, imagebind_tiny, tmp_path, capsys):
    # no config.yaml: TheGreatestHits' experiment folder still gets its 128 × 256, others 256 × 256
    bare = tmp_path / "checkpoints" / "thegreatesthits_audio-cond_cfg" / "ckpts" / "checkpoint-16000" / "modules"
    shutil.copytree(experiment / "ckpts" / "checkpoint-16000" / "modules", bare)
    assert (authors_clip_format(bare / "unet")["height"], authors_clip_format(bare / "unet")["width"]) == (128, 256)
    other = tmp_path / "mine" / "modules"
    shutil.copytree(bare, other)
    assert authors_clip_format(other / "unet")["height"] == 256
    # --height/--width win over the experiment's config
    out = tmp_path / "override"
    assert convert_main(["--unet", str(other / "unet"), "--pretrained", str(tiny_base), "--imagebind", str(imagebind_tiny),
                         "--imagebind-preset", "tiny", "--height", "64", "--width", "32", "--out", str(out)]) == 0
    assert json.loads((out / "model_index.json").read_text())["resolution"] == [64, 32]
    capsys.readouterr()

    def refused(*args: str) -> str:
        with pytest.raises(SystemExit) as stop:
            convert_main(list(args) + ["--out", str(tmp_path / "refused")])
        assert stop.value.code == 2
        return capsys.readouterr().err

    # the modules folder, or the checkpoint folder, instead of modules/unet
    assert f"pass --unet {other / 'unet'}" in refused("--unet", str(other))
    assert f"pass --unet {other / 'unet'}" in refused("--unet", str(other.parent))
    # a pipeline folder without --imagebind names the file and where it is published
    assert "dl.fbaipublicfiles.com/imagebind" in refused("--unet", str(other / "unet"), "--pretrained", str(tiny_base))
    # the fixture's UNet takes 24-wide audio tokens: the tiny ImageBind's 32 do not fit
    release = weights.reference_root() / UNET
    assert "24-wide audio tokens" in refused("--unet", str(release), "--pretrained", str(tiny_base),
                                             "--imagebind", str(imagebind_tiny), "--imagebind-preset", "tiny")
    assert "unknown ImageBind preset" in refused("--unet", str(other / "unet"), "--pretrained", str(tiny_base),
                                                 "--imagebind", str(imagebind_tiny), "--imagebind-preset", "small")
    assert not (tmp_path / "refused").exists()
