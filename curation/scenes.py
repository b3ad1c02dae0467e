"""Scene cuts with PySceneDetect's ContentDetector, fed frames from our single decode.

PySceneDetect normally opens and decodes the video itself. Here its detector's per-frame API
is driven by `curation.media.decode` through a frame sink: the detector sees every source
frame (like the `scenedetect` CLI, at a similar downscaled width) while the video is decoded
once for all analysis steps.
"""

from __future__ import annotations

import numpy as np
from scenedetect import ContentDetector
from scenedetect.common import FrameTimecode

from curation.config import SceneConfig


class SceneCutter:
    """A `FrameSink` that runs ContentDetector on each frame as it is decoded.

    frame: (H, W, 3) uint8 BGR; time_s: seconds on the decoded media's timeline.
    """

    def __init__(self, fps: float, config: SceneConfig | None = None):
        config = config or SceneConfig()
        self.fps = fps
        self._detector = ContentDetector(threshold=config.threshold, min_scene_len=float(config.min_scene_len_s))
        self._times: list[float] = []
        self._cut_frames: set[int] = set()

    def __call__(self, time_s: float, frame: np.ndarray) -> None:
        index = len(self._times)
        self._times.append(time_s)
        for timecode in self._detector.process_frame(FrameTimecode(index, fps=self.fps), frame):
            self._cut_frames.add(timecode.frame_num)

    def cut_times(self) -> list[float]:
        """Start times (s) of every scene after the first."""
        for timecode in self._detector.post_process(FrameTimecode(len(self._times), fps=self.fps)):
            self._cut_frames.add(timecode.frame_num)
        return [self._times[i] for i in sorted(self._cut_frames) if 0 < i < len(self._times)]

    def scenes(self, duration_s: float) -> list[tuple[float, float]]:
        """Scenes as (start_s, end_s) covering [0, duration_s)."""
        bounds = [0.0] + [t for t in self.cut_times() if 0 < t < duration_s] + [duration_s]
        return [(round(a, 6), round(b, 6)) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]
