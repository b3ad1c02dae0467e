"""Fixed-length analysis windows inside scenes (paper §3.1: 3 s long, 0.5 s stride)."""

from __future__ import annotations

from dataclasses import dataclass

from curation.config import WindowConfig

# Float tolerance so a 3.0 s scene yields its one 3.0 s window despite rounding.
_EPS = 1e-6


@dataclass(frozen=True)
class Window:
    index: int  # position among the video's windows
    scene_index: int
    start_s: float
    end_s: float


def scene_windows(scenes: list[tuple[float, float]], config: WindowConfig | None = None) -> list[Window]:
    """All windows of `config.length_s`, starting every `config.stride_s` from each scene's
    start, that end inside that scene. A window never crosses a scene cut; scenes shorter
    than one window yield none."""
    config = config or WindowConfig()
    windows: list[Window] = []
    for scene_index, (scene_start, scene_end) in enumerate(scenes):
        k = 0
        while True:
            start = scene_start + k * config.stride_s
            end = start + config.length_s
            if end > scene_end + _EPS:
                break
            windows.append(Window(len(windows), scene_index, round(start, 6), round(end, 6)))
            k += 1
    return windows
