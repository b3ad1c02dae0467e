"""A local folder of videos: `root/<label>/.../<file>`, the subfolder name is the label."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from curation.sources.item import SourceItem

# Files with these suffixes are offered to the pipeline; a broken one becomes a failed row
# there. Other files (notes, sidecars such as _truth.json) are not videos and are skipped.
VIDEO_SUFFIXES = frozenset({".mp4", ".m4v", ".mkv", ".webm", ".mov", ".avi", ".mpg", ".mpeg", ".flv", ".ts"})
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


def local_video_id(relative: Path) -> str:
    """Deterministic manifest key from a path relative to the root: the sanitised path, plus a
    short hash of the exact path when sanitising changed it (so `a b.mp4` and `a_b.mp4` differ)."""
    stem = "__".join(relative.with_suffix("").parts)
    safe = _UNSAFE.sub("_", stem).strip("_") or "video"
    if safe != stem:
        safe = f"{safe[:80]}_{hashlib.sha1(str(relative).encode()).hexdigest()[:8]}"
    return safe


def scan_video_folder(root: str | Path) -> list[SourceItem]:
    """Every video file under `root/<label>/` (recursively), sorted by path.

    Files directly in `root` have no label and are rejected with a clear error, since a
    curation run without labels cannot be balanced by class.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"video folder not found: {root}")
    items: list[SourceItem] = []
    unlabelled: list[str] = []
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES):
        relative = path.relative_to(root)
        if len(relative.parts) < 2:
            unlabelled.append(relative.name)
            continue
        items.append(SourceItem(video_id=local_video_id(relative), label=relative.parts[0], path=str(path.resolve())))
    if unlabelled:
        raise ValueError(f"{len(unlabelled)} video(s) directly in {root} have no label folder, e.g. {unlabelled[0]!r}: "
                         "put them in <root>/<label>/")
    return items
