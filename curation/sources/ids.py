"""Ids from CSVs are hostile: only `[A-Za-z0-9_-]` may reach a file name or a command line."""

from __future__ import annotations

import re

_SAFE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def is_safe_id(text: str) -> bool:
    """True for a plausible YouTube-style id: 1–64 characters of `[A-Za-z0-9_-]`, nothing else.

    An id may start with '-' (YouTube ids do); callers keep such ids off option positions
    (`--` before URLs) and only use them inside paths they build themselves.
    """
    return isinstance(text, str) and _SAFE_ID.fullmatch(text) is not None


def vggsound_key(ytid: str, start_s: float) -> str:
    """The VGGSound clip key `<ytid>_<start:06d>` (start in whole seconds)."""
    return f"{ytid}_{int(start_s):06d}"
