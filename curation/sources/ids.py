"""Ids from CSVs and folder names are hostile: only `[A-Za-z0-9_-]` may reach a file name or a
command line.

Rules the rest of `curation.sources` follows:
- an id is used in a path or a command only if `is_safe_id` accepts it;
- ids may start with '-' (YouTube ids do), so URLs go after `--` on command lines and paths are
  built under an absolute folder, never relative to the working directory;
- a CSV row whose id fails the check is kept as a *rejected* item (see `is_rejected`), so the
  pipeline writes a failed row with reason `UNSAFE_ID` instead of losing it silently.
"""

from __future__ import annotations

import math
import re

from curation.sources.item import SourceItem

UNSAFE_ID = "unsafe_id"
MAX_ID_LEN = 64
_SAFE_ID = re.compile(rf"[A-Za-z0-9_-]{{1,{MAX_ID_LEN}}}")
_UNSAFE_RUN = re.compile(r"[^A-Za-z0-9_-]+")
# VGGSound keys print the start with 6 digits; larger starts would not round-trip.
_MAX_START_S = 1_000_000


def is_safe_id(text: object) -> bool:
    """True for 1–64 characters of `[A-Za-z0-9_-]`, nothing else (no '.', '/', space, '=')."""
    return isinstance(text, str) and _SAFE_ID.fullmatch(text) is not None


def is_valid_start(start_s: float) -> bool:
    """A VGGSound start time (seconds) that fits `<start:06d>`: finite, 0 <= start < 10^6."""
    return isinstance(start_s, (int, float)) and math.isfinite(start_s) and 0 <= start_s < _MAX_START_S


def vggsound_key(ytid: str, start_s: float) -> str:
    """The VGGSound clip key `<ytid>_<start:06d>`, start truncated to whole seconds.

    Raises ValueError for an unsafe ytid or an invalid start, so no hostile key is ever built.
    """
    if not is_safe_id(ytid) or not is_valid_start(start_s):
        raise ValueError(f"not a valid VGGSound clip: ytid={ytid!r}, start={start_s!r}")
    key = f"{ytid}_{int(start_s):06d}"
    if not is_safe_id(key):  # an 58+ character ytid would push the key past MAX_ID_LEN
        raise ValueError(f"VGGSound key too long: {key!r}")
    return key


def safe_chars(text: str) -> str:
    """`text` with each run of characters outside `[A-Za-z0-9_-]` replaced by '_', outer '_' removed
    (may be empty; not unique: "a b" and "a_b" both give "a_b")."""
    return _UNSAFE_RUN.sub("_", text).strip("_")


def is_rejected(item: SourceItem) -> bool:
    """True for an item a list reader kept only to report it: its id or start was unsafe.

    Readers mark such rows by leaving `ytid`, `url` and `path` all None; `video_id` holds the raw
    text of the row (for the failed row) and must not be used as a path.
    """
    return item.ytid is None and item.url is None and item.path is None
