"""Typed configuration of the sync classifier: model sizes, data sampling, training.

One `SyncConfig` travels through training, evaluation and scoring. Sizes are named presets
(`tiny` for CPU tests/demo/benchmarks, `paper` for the authors' architecture, SPEC "Sync
classifier"); a YAML file and `section.key=value` overrides refine a preset (unknown keys are
errors). The model section is saved next to every checkpoint (`config.json`), so a checkpoint
is self-describing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from curation.layered_config import StrictConfig, load_layered
from model.encoders.imagebind_audio import CLIP_S, FBANK_MEAN, FBANK_STD, MEL_BINS, MEL_FRAMES, SAMPLE_RATE


class ModelConfig(StrictConfig):
    """Architecture and input format. Everything a checkpoint needs to be rebuilt."""

    audio_widths: tuple[int, int, int, int] = Field((64, 128, 256, 512), description="audio conv blocks' channels")
    video_widths: tuple[int, int, int, int] = Field((64, 128, 256, 512), description="R(2+1)D stages' channels")
    head_width: int = Field(512, ge=2, description="first hidden layer of the head; the second is half of it")
    # Input format (SPEC): 2 s of audio as a 128x204 log-mel; 12 frames at 6 fps, square crops.
    clip_s: float = Field(CLIP_S, gt=0, description="clip length, seconds")
    video_fps: float = Field(6.0, gt=0, description="frames per second fed to the video encoder")
    num_frames: int = Field(12, ge=1)
    image_size: int = Field(224, ge=16, description="square crop side, pixels")
    # The audio front end is ImageBind's (model.encoders.imagebind_audio); these are its constants.
    sample_rate: int = Field(SAMPLE_RATE, description="audio sample rate, Hz")
    num_mel_bins: int = MEL_BINS
    fbank_frames: int = Field(MEL_FRAMES, description="log-mel frames after padding/cropping (10 ms hop)")
    fbank_mean: float = FBANK_MEAN
    fbank_std: float = FBANK_STD

    @model_validator(mode="after")
    def _consistent(self) -> "ModelConfig":
        if abs(self.num_frames / self.video_fps - self.clip_s) > 1e-6:
            raise ValueError(f"num_frames / video_fps = {self.num_frames / self.video_fps} s must equal clip_s = {self.clip_s}")
        return self


class DataConfig(StrictConfig):
    """How training examples are drawn (paper/SPEC: 21 clips 0.2 s apart, random-compact)."""

    num_clips: int = Field(21, ge=2, description="candidate clips per example (K)")
    shift_s: float = Field(0.2, gt=0, description="gap between consecutive clip starts, seconds")
    hflip: bool = Field(True, description="random horizontal flip, independently per clip")
    decode_fps: float = Field(25.0, gt=0, description="rate at which source frames are decoded before "
                              "nearest-timestamp sampling at video_fps (25 fps = one frame per 0.04 s offset)")
    manifest: str | None = Field(None, description="Parquet manifest with path, start_s, end_s (curation clips)")
    split: str | None = Field(None, description="keep only manifest rows with this split, if the column exists")
    synthetic: bool = Field(False, description="draw examples from the synthetic audio-visual generator")
    synthetic_seed: int = Field(0, description="seed of the synthetic training stream (held-out sets use others)")
    num_workers: int = Field(0, ge=0, description="DataLoader worker processes")
    cache_mb: float = Field(1024.0, ge=0, description="per process: decoded manifest rows (uint8 frames, audio, its "
                            "log-mel) kept in memory up to this size, so each row is decoded and analysed once and "
                            "later examples only cut clips from it (0: decode the needed span per example)")
    synthetic_pool: int = Field(0, ge=0, description="render this many synthetic videos once and cut every example "
                                "from them (0: render a fresh video per example)")
    synthetic_pool_s: float = Field(12.0, gt=0, description="length of each pooled synthetic video, seconds")


class TrainConfig(StrictConfig):
    """Optimisation (SPEC: AdamW 2e-4, wd 1e-2, 100 warm-up steps, tau 0.1, clip 1.0)."""

    batch_size: int = Field(4, ge=1, description="videos per step (each gives num_clips clips)")
    lr: float = Field(2e-4, gt=0)
    weight_decay: float = 1e-2
    warmup_steps: int = Field(100, ge=0)
    lr_schedule: Literal["constant", "cosine"] = Field(
        "constant", description="after warm-up: constant (SPEC), or cosine decay to 0 at max_steps (converges "
        "in fewer steps when the step budget is fixed in advance, as in the demo)")
    max_steps: int = Field(40_000, ge=1)
    max_minutes: float | None = Field(None, gt=0, description="also stop (and save) after this much wall time")
    max_cpu_minutes: float | None = Field(None, gt=0, description="also stop after the process used this much CPU "
                                          "time (all threads): a compute budget that others' load does not shrink")
    grad_clip: float = Field(1.0, gt=0)
    tau: float = Field(0.1, gt=0, description="temperature of the contrastive loss")
    mixed_precision: Literal["auto", "no", "bf16", "fp16"] = Field(
        "auto", description="auto: bf16/fp16 where the hardware does it natively, else fp32 (curation/precision.py)")
    seed: int = 0
    log_every: int = Field(10, ge=1)
    checkpoint_every: int = Field(500, ge=1)
    keep_checkpoints: int = Field(2, ge=1, description="most recent resumable checkpoints kept")
    eval_every: int = Field(0, ge=0, description="steps between held-out sync evaluations (0: only at the end)")
    eval_videos: int = Field(32, ge=1, description="held-out synthetic videos per evaluation")
    target_accuracy: float | None = Field(0.9, ge=0, le=1, description="held-out accuracy (A→V and V→A) a run "
                                          "should reach; below it the run ends with a loud warning and "
                                          "`reached_target: false` in its result (None: no check)")
    num_threads: int | None = Field(None, ge=1, description="torch CPU threads (None: the idle cores, 'sync_classifier.train.threads_for_this_machine')")
    init_from: str | None = Field(None, description="AVID-CMA checkpoint (.pth.tar) to initialise both encoders")


class SyncConfig(StrictConfig):
    model: ModelConfig = ModelConfig()
    data: DataConfig = DataConfig()
    train: TrainConfig = TrainConfig()


def _tiny() -> SyncConfig:
    """Small enough to train on 2 CPU cores: ~0.5 s per step of 4 videos x 21 clips, so the default
    2400 steps take ~20 min (BENCHMARKS.md). Same layers and audio input; 1/4 of the widths and
    48² crops. lr 1e-3 learns ~2x faster than 2e-4 here; 2e-3 diverged."""
    return SyncConfig(
        model=ModelConfig(audio_widths=(16, 32, 64, 128), video_widths=(16, 32, 64, 128), head_width=128,
                          image_size=48),
        train=TrainConfig(batch_size=4, lr=1e-3, warmup_steps=50, max_steps=2400, checkpoint_every=250,
                          eval_every=250),
    )


PRESETS: dict[str, Any] = {"paper": SyncConfig, "tiny": _tiny}


def load_config(preset: str = "paper", path: str | Path | None = None, overrides: list[str] | tuple = (),
                flags: dict[str, Any] | None = None) -> SyncConfig:
    """A preset, then the YAML file at `path` (any subset of keys), then a CLI's `flags` (dotted key →
    value), then `overrides` (`train.lr=1e-3`, last): `curation.layered_config.load_layered`."""
    return load_layered(PRESETS, preset, path, overrides, flags)

