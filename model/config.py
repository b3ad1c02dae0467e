"""Typed configuration of AVSyncD training and inference: one `AVSyncDConfig` (model / data /
train), named presets `tiny` (CPU tests, demo, benchmarks) and `paper` (SPEC "AVSyncD"), refined
by a YAML file and `section.key=value` overrides (unknown keys are errors). The resolved config is
saved as `config.yaml` in every run folder and checked on resume.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from curation.layered_config import StrictConfig, load_layered

TINY_BASE = "tiny"  # `model.pretrained` value: build the project's tiny SD folder (model/stable_diffusion.py)


class ModelConfig(StrictConfig):
    """Which base model, which audio encoder, which of the paper's components (Table 2(a))."""

    pretrained: str | None = Field(None, description="Stable Diffusion folder in diffusers layout (unet/ vae/ "
                                   f"text_encoder/ tokenizer/ scheduler/), or '{TINY_BASE}' for the project's tiny one")
    audio_encoder: Literal["imagebind", "stand-in"] = Field("imagebind", description="audio tokens: ImageBind-huge "
                                                            "(model/encoders) or the frozen stand-in")
    imagebind_checkpoint: str | None = Field(None, description="imagebind_huge.pth (for audio_encoder=imagebind)")
    imagebind_preset: str = Field("huge", description="ImageBind size preset of that checkpoint (model/encoders)")
    temporal_conv: Literal["first_frame", "standard", "none"] = "first_frame"
    first_frame_attention: bool = True
    temporal_attention: bool = True
    audio_attention: bool = Field(True, description="False = I2VD (no audio)")
    norm_across_frames: bool = Field(True, description="ResNet GroupNorm statistics over all frames (authors' code)")
    zero_temporal_out_bias: bool = Field(True, description="also zero the temporal attention's output bias")
    tiny_seed: int = Field(0, description="seed of the tiny base model and stand-in encoder weights")

    def unet_options(self) -> dict[str, Any]:
        return dict(temporal_conv=self.temporal_conv, first_frame_attention=self.first_frame_attention,
                    temporal_attention=self.temporal_attention, audio_attention=self.audio_attention,
                    norm_across_frames=self.norm_across_frames, zero_temporal_out_bias=self.zero_temporal_out_bias)


class DataConfig(StrictConfig):
    """Training windows: 12 frames at 6 fps (2 s), centre crops of height × width (square by
    default), 16 kHz mono audio."""

    manifest: str | None = Field(None, description="Parquet clip manifest (path, label, start_s, end_s[, split])")
    split: str | None = Field("train", description="manifest rows with this split (if the column exists)")
    val_split: str | None = Field("test", description="held-out rows for the validation loss (if present)")
    num_frames: int = Field(12, ge=2)
    fps: float = Field(6.0, gt=0)
    resolution: int = Field(256, ge=16, description="square side, pixels, for whichever of height / width is unset")
    height: int | None = Field(None, ge=16, description="frame height, pixels (default: resolution); TheGreatestHits: 128")
    width: int | None = Field(None, ge=16, description="frame width, pixels (default: resolution); TheGreatestHits: 256")
    sample_rate: int = 16000
    hflip: bool = Field(True, description="random horizontal flip, the same for the whole clip")
    num_workers: int = Field(0, ge=0)

    @property
    def clip_s(self) -> float:
        return self.num_frames / self.fps

    @property
    def size(self) -> tuple[int, int]:
        """(height, width) of the training frames: `height` / `width`, each defaulting to `resolution`."""
        return (self.height or self.resolution, self.width or self.resolution)


class TrainConfig(StrictConfig):
    """SPEC: AdamW 1e-4, wd 1e-2, constant lr, clip 1.0, batch 4×8 GPUs×2 accumulation, 37k steps."""

    batch_size: int = Field(4, ge=1, description="videos per process per micro-step")
    grad_accum: int = Field(2, ge=1)
    lr: float = Field(1e-4, gt=0)
    weight_decay: float = 1e-2
    max_steps: int = Field(37_000, ge=1)
    max_minutes: float | None = Field(None, gt=0, description="also stop (and save) after this much wall time")
    grad_clip: float = Field(1.0, gt=0)
    mixed_precision: Literal["auto", "no", "bf16", "fp16"] = Field(
        "auto", description="auto: bf16/fp16 where the hardware does it natively, else fp32 (curation/precision.py)")
    gradient_checkpointing: bool = True
    audio_drop_prob: float = Field(0.2, ge=0, le=1, description="null-audio probability (classifier-free guidance)")
    seed: int = 123
    log_every: int = Field(10, ge=1)
    checkpoint_every: int = Field(1000, ge=1)
    keep_checkpoints: int = Field(2, ge=1)
    eval_every: int = Field(0, ge=0, description="steps between validation losses (0: start and end only)")
    eval_clips: int = Field(8, ge=1, description="held-out windows in the validation loss")
    num_threads: int | None = Field(None, ge=1)


class AVSyncDConfig(StrictConfig):
    model: ModelConfig = ModelConfig()
    data: DataConfig = DataConfig()
    train: TrainConfig = TrainConfig()


def _paper() -> AVSyncDConfig:
    return AVSyncDConfig(train=TrainConfig(mixed_precision="fp16"))


def _tiny() -> AVSyncDConfig:
    """Trains on 2 CPU cores in minutes: tiny SD-shaped base, stand-in audio, 64² frames."""
    return AVSyncDConfig(
        model=ModelConfig(pretrained=TINY_BASE, audio_encoder="stand-in"),
        data=DataConfig(resolution=64),
        train=TrainConfig(batch_size=2, grad_accum=1, lr=1e-3, max_steps=200, gradient_checkpointing=False,
                          mixed_precision="no", checkpoint_every=100, log_every=10, eval_every=50, eval_clips=6),
    )


PRESETS = {"paper": _paper, "tiny": _tiny}


def load_config(preset: str = "paper", path: str | Path | None = None, overrides: list[str] | tuple = (),
                flags: dict[str, Any] | None = None) -> AVSyncDConfig:
    """A preset, then the YAML file at `path` (any subset of keys), then a CLI's `flags` (dotted key →
    value), then `overrides` (`train.lr=1e-3`, last): `curation.layered_config.load_layered`."""
    return load_layered(PRESETS, preset, path, overrides, flags)

