"""Training from a manifest of generated clips: checkpoints, exact resume, frozen weights, CLI."""

import json

import pytest
import torch
from safetensors.torch import load_file

from curation.manifest import read_clip_rows
from model.data import StepBatches, TrainingWindows, prompt_for
from model.train import latest_checkpoint, main, train
from model.unet import AVSyncUNet, is_new_parameter

from .conftest import micro_train_config


def test_training_windows_are_2s_12_frames_from_the_manifest(synthetic_manifest):
    config = micro_train_config(synthetic_manifest, "unused")
    rows = read_clip_rows(synthetic_manifest, "train", need_label=True)
    from curation.sources.synthetic import DEMO_CLASSES

    assert len(rows) == 4 and {r.label for r in rows} <= set(DEMO_CLASSES)
    example = TrainingWindows(rows, config.data, seed=0)[3]
    assert example["frames"].shape == (3, 12, 32, 32) and example["audio"].shape == (32000,)
    assert -1 <= example["frames"].min() and example["frames"].max() <= 1 and " " in example["prompt"]
    assert prompt_for("playing_violin__fiddle") == prompt_for("playing_violin_fiddle") == "playing violin fiddle"
    # two processes, accumulation 2: disjoint examples, resumable by step
    seen = [i for p in (0, 1) for batch in StepBatches(0, 3, 2, 2, p, 2) for i in batch]
    assert sorted(seen) == list(range(24))
    assert list(StepBatches(2, 3, 2, 2, 0, 2)) == [[16, 17], [20, 21]]


def test_train_checkpoints_resume_exactly_and_keep_sd_frozen(tmp_path, synthetic_manifest, tiny_base):
    straight = train(micro_train_config(synthetic_manifest, tiny_base, max_steps=3, checkpoint_every=10), tmp_path / "a")
    first = train(micro_train_config(synthetic_manifest, tiny_base, max_steps=2, checkpoint_every=10), tmp_path / "b")
    assert first.steps == 2 and latest_checkpoint(tmp_path / "b").name == "step-000002"
    resumed = train(micro_train_config(synthetic_manifest, tiny_base, max_steps=3, checkpoint_every=10), tmp_path / "b")
    assert resumed.resumed_from == 2 and resumed.steps == 3
    a = load_file(str(latest_checkpoint(tmp_path / "a") / "trainable.safetensors"))
    b = load_file(str(latest_checkpoint(tmp_path / "b") / "trainable.safetensors"))
    assert a.keys() == b.keys() and all(is_new_parameter(k) for k in a)
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)  # 2 + 1 steps == 3 steps
    checkpoint = latest_checkpoint(tmp_path / "b")
    assert {p.name for p in checkpoint.iterdir()} == {"trainable.safetensors", "optimizer.pt", "config.yaml", "state.json"}
    # the final pipeline: SD's weights untouched, new layers trained
    unet = AVSyncUNet.from_pretrained(straight.final_pipeline / "unet")
    base = load_file(str(tiny_base / "unet" / "diffusion_pytorch_model.safetensors"))
    for name, value in unet.unet.state_dict().items():
        if is_new_parameter(name):
            continue
        assert torch.equal(value, base[name]), name
    assert any(not torch.equal(v, torch.zeros_like(v)) for k, v in a.items() if "conv_temp.weight" in k)
    metrics = json.loads((straight.final_pipeline / "metrics.json").read_text())
    assert [row["step"] for row in metrics["validation"]] == [0, 3]
    assert list((tmp_path / "a" / "logs").rglob("events.out.tfevents*"))  # TensorBoard


def test_resume_refuses_a_different_model(tmp_path, synthetic_manifest, tiny_base):
    train(micro_train_config(synthetic_manifest, tiny_base, max_steps=1), tmp_path / "run")
    changed = micro_train_config(synthetic_manifest, tiny_base, max_steps=2)
    changed.model.first_frame_attention = False
    with pytest.raises(ValueError, match="different model config"):
        train(changed, tmp_path / "run")


def test_cli_trains_i2vd_and_fails_clearly_without_a_base(tmp_path, synthetic_manifest, tiny_base, capsys):
    args = ["--preset", "tiny", "--manifest", str(synthetic_manifest), "--pretrained", str(tiny_base), "--i2vd",
            "--max-steps", "1", "--threads", "1", "--out", str(tmp_path / "i2vd"), "--set", "data.resolution=32",
            "--set", "train.eval_clips=1"]
    assert main(args) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["steps"] == 1
    assert not any("attn_audio" in k for k in load_file(str(latest_checkpoint(tmp_path / "i2vd") / "trainable.safetensors")))
    with pytest.raises(FileNotFoundError, match="Stable Diffusion folder not found"):
        main(["--manifest", str(synthetic_manifest), "--pretrained", str(tmp_path / "nowhere"), "--out", str(tmp_path / "x")])
    with pytest.raises(ValueError, match="--pretrained"):
        main(["--manifest", str(synthetic_manifest), "--out", str(tmp_path / "y")])


def test_training_with_the_imagebind_audio_encoder_records_it_by_reference(tmp_path, synthetic_manifest, tiny_base):
    # The real encoder (model/encoders) on a random checkpoint in the official key layout, tiny preset
    # (229 tokens × 32): the same loading path as imagebind_huge.pth.
    from model.encoders.imagebind_layout import write_random_checkpoint
    from model.pipeline import AVSyncDPipeline

    checkpoint = write_random_checkpoint(tmp_path / "imagebind_tiny.pth", "tiny")
    config = micro_train_config(synthetic_manifest, tiny_base, max_steps=1)
    config.model.audio_encoder = "imagebind"
    config.model.imagebind_checkpoint = str(checkpoint)
    config.model.imagebind_preset = "tiny"
    result = train(config, tmp_path / "run")
    folder = result.final_pipeline / "audio_encoder"
    assert [p.name for p in folder.iterdir()] == ["reference.json"]  # never the CC BY-NC-SA weights
    pipeline = AVSyncDPipeline.from_pretrained(result.final_pipeline)
    assert type(pipeline.audio_encoder).__name__ == "ImageBindAudioEncoder" and pipeline.unet.config.audio_dim == 32
    video = pipeline(torch.zeros(32, 32, 3, dtype=torch.uint8).numpy(), torch.zeros(8000).numpy(), "x",
                     num_inference_steps=2)
    assert video.frames.shape == (12, 32, 32, 3)
    checkpoint.unlink()
    with pytest.raises(FileNotFoundError, match="not bundled"):
        AVSyncDPipeline.from_pretrained(result.final_pipeline)
