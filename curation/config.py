"""Typed configuration of the curation pipeline, loaded from YAML.

One config object travels through every stage; a YAML file overrides any subset of the
defaults below (unknown keys are an error, so typos do not pass silently).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from curation.layered_config import StrictConfig, load_layered



class MediaConfig(StrictConfig):
    """How every video is probed and decoded (once) for analysis."""

    fps: float = Field(8.0, gt=0, description="analysis frame rate, frames per second")
    short_side: int = Field(224, ge=16, description="analysis frames are resized so their short side has this many pixels")
    sample_rate: int = Field(16000, ge=8000, description="mono audio sample rate, Hz")
    require_audio: bool = True
    max_file_mb: float = Field(1024.0, gt=0, description="larger files are rejected as too_large")
    max_duration_s: float = Field(600.0, gt=0, description="longer videos are rejected as too_long")
    max_pixels: int = Field(3840 * 2160, gt=0, description="larger frames are rejected as too_large")
    max_decoded_mb: float = Field(
        2048.0, gt=0, description="videos whose analysis frames (pixels x frames x 3 bytes at the analysis size "
        "and rate) would exceed this are rejected as too_large before decoding")
    max_decode_s: float = Field(600.0, gt=0, description="wall-clock limit on decoding one video (decode_timeout)")
    frame_pick: Literal["nearest", "at_or_after"] = Field(
        "nearest", description="which source frame serves each target time T: the one nearest to T (curation, "
        "training) or the first at or after T (the authors' evaluation loader)")


class SceneConfig(StrictConfig):
    """PySceneDetect ContentDetector settings (applied to the analysis frames)."""

    threshold: float = 27.0
    min_scene_len_s: float = Field(0.5, ge=0)
    frame_width: int = Field(
        256, ge=32, description="width of the frames the detector sees; 256 is what the scenedetect CLI "
        "downscales to, smaller is faster on low-resolution sources at some risk of differing cuts")


class WindowConfig(StrictConfig):
    length_s: float = Field(3.0, gt=0)
    stride_s: float = Field(0.5, gt=0)


class FilterRule(StrictConfig):
    """Keep a window only if `metric` lies within the bounds.

    Each bound is absolute (`min`/`max`) or a quantile of the whole run's values
    (`min_quantile`/`max_quantile`), never both for the same side.
    """

    metric: str
    min: float | None = None
    max: float | None = None
    min_quantile: float | None = Field(None, ge=0, le=1)
    max_quantile: float | None = Field(None, ge=0, le=1)
    low_reason: str = "too_low"
    high_reason: str = "too_high"

    @model_validator(mode="after")
    def _one_bound_per_side(self) -> "FilterRule":
        if self.min is not None and self.min_quantile is not None:
            raise ValueError(f"filter on {self.metric}: give min or min_quantile, not both")
        if self.max is not None and self.max_quantile is not None:
            raise ValueError(f"filter on {self.metric}: give max or max_quantile, not both")
        if all(v is None for v in (self.min, self.max, self.min_quantile, self.max_quantile)):
            raise ValueError(f"filter on {self.metric}: no bound given")
        for low, high, kind in ((self.min, self.max, ""), (self.min_quantile, self.max_quantile, "_quantile")):
            if low is not None and high is not None and low > high:  # would drop every window
                raise ValueError(f"filter on {self.metric}: min{kind} {low:g} > max{kind} {high:g}")
        return self


def _default_filters() -> list[FilterRule]:
    # Paper §3.1 gives no numbers; these absolute defaults suit mean |Δpixel| on a 0..255 scale
    # and peak amplitude on a -1..1 scale, and are meant to be tuned per dataset.
    return [
        FilterRule(metric="pixel_diff_mean", min=0.5, max=40.0, low_reason="too_static", high_reason="too_much_motion"),
        FilterRule(metric="audio_max_amplitude", min=0.02, low_reason="too_quiet"),
    ]


class DownloadConfig(StrictConfig):
    """yt-dlp settings. Section downloads need ffmpeg: imageio-ffmpeg's static binary is used."""

    retries: int = Field(3, ge=0, description="yt-dlp --retries and --fragment-retries")
    timeout_s: float = Field(300.0, gt=0, description="hard timeout of one yt-dlp process")
    socket_timeout_s: float = Field(30.0, gt=0)
    sections: bool = Field(True, description="download only [start, start+clip_s] of each video")
    clip_s: float = Field(10.0, gt=0, description="length of a VGGSound segment")
    format: str = "bv*[height<=480]+ba/b[height<=480]/bv*+ba/b"
    rate_limit: str | None = Field(None, description="yt-dlp --limit-rate, e.g. '2M'")
    workers: int = Field(1, ge=1, le=32, description="parallel yt-dlp processes within a batch")
    keep_media: Literal["all", "passing", "none"] = Field(
        "all", description="downloaded sources to keep: all; passing (finalize deletes those without a clip); "
        "none (a batch deletes its downloads once committed). ~0.75 MB per 10 s VGGSound source at 480p: "
        "~150 GB for all of VGGSound with `all` (docs/scaling.md)")


class CurationConfig(StrictConfig):
    media: MediaConfig = MediaConfig()
    scenes: SceneConfig = SceneConfig()
    windows: WindowConfig = WindowConfig()
    metrics: list[str] = Field(default_factory=lambda: ["pixel", "amplitude"])
    metric_options: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="keyword options per metric, e.g. {psync: {checkpoint: ...}}"
    )
    filters: list[FilterRule] = Field(default_factory=_default_filters)
    download: DownloadConfig = DownloadConfig()
    batch_size: int = Field(8, ge=1, description="videos per Prefect task")
    min_clips_per_class: int = Field(100, ge=1, description="AVSync-AC class balancing")


def load_config(path: str | Path | None = None, overrides: list[str] | tuple = ()) -> CurationConfig:
    """Defaults, then the YAML file at `path` when given, then `overrides` (`--set media.fps=12`,
    last): the trainers' loader shape (`curation.layered_config.load_layered`)."""
    return load_layered({"defaults": CurationConfig}, "defaults", path, overrides)
