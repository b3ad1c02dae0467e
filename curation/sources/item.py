"""The unit every source yields: one video to curate, with its label."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SourceItem:
    """One source video.

    `video_id` is the manifest key: `<ytid>_<start:06d>` for VGGSound segments, the file stem
    for local folders. Exactly one of `path` (a local file) or `url` (to download) is set.
    """

    video_id: str
    label: str
    path: str | None = None
    url: str | None = None
    split: str | None = None
    ytid: str | None = None
    start_s: float | None = None
    end_s: float | None = None
