"""Ground-truth sync metric of the toy domain: find the flashes in a video and match them to the
sound's onsets.

A flash is a frame whose mean brightness rises well above the frame before it (the lamp lights
up; it then fades over the next frames, so only the onset frame rises). Detected frames are
matched one-to-one to the true event frames within ±`tolerance` frames (an optimal assignment, so
one detection never counts for two events), giving precision, recall, F1 and the mean absolute
timing error of the matches, in frames. Frame 0 is the given image and is never an event.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

# A rise of the mean luma between two frames, relative to the clip's own brightness range, that
# counts as a flash onset: a lit frame of the toy rises by ~100 % of the range, its fading
# neighbours fall, noise moves < 5 %.
RELATIVE_RISE = 0.35
# Clips whose whole brightness range is below this (0..255 luma) hold no flash at all.
MIN_RANGE = 6.0


def frame_brightness(frames: np.ndarray) -> np.ndarray:
    """(F, H, W, 3) uint8 RGB → (F,) mean luma (BT.601), 0..255."""
    rgb = frames.astype(np.float32)
    return (0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]).reshape(len(frames), -1).mean(axis=1)


def detect_flashes(frames: np.ndarray, relative_rise: float = RELATIVE_RISE, min_range: float = MIN_RANGE) -> list[int]:
    """Frame indices (≥ 1) where a flash starts, from (F, H, W, 3) uint8 frames."""
    luma = frame_brightness(frames)
    span = float(luma.max() - luma.min())
    if span < min_range:
        return []
    rise = np.diff(luma)  # rise[k - 1] = luma[k] - luma[k - 1]
    return [k + 1 for k in np.flatnonzero(rise > relative_rise * span).tolist()]


@dataclass
class EventScore:
    """Counts and rates over one or many clips. timing_error_frames: mean |detected − true| over matches."""

    true_events: int
    detected: int
    matched: int
    timing_error_frames: float

    @property
    def precision(self) -> float:
        return self.matched / self.detected if self.detected else (1.0 if self.true_events == 0 else 0.0)

    @property
    def recall(self) -> float:
        return self.matched / self.true_events if self.true_events else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def as_dict(self) -> dict:
        return asdict(self) | {"precision": self.precision, "recall": self.recall, "f1": self.f1}


def match_events(detected: Sequence[int], true: Sequence[int], tolerance: int = 1) -> EventScore:
    """One-to-one matching of detected to true event frames within ±tolerance (Hungarian)."""
    from scipy.optimize import linear_sum_assignment

    detected, true = list(detected), list(true)
    if not detected or not true:
        return EventScore(len(true), len(detected), 0, float("nan"))
    distance = np.abs(np.subtract.outer(np.asarray(detected), np.asarray(true))).astype(np.float64)
    cost = np.where(distance <= tolerance, distance, 1e6)
    rows, cols = linear_sum_assignment(cost)
    good = distance[rows, cols] <= tolerance
    errors = distance[rows, cols][good]
    return EventScore(len(true), len(detected), int(good.sum()), float(errors.mean()) if len(errors) else float("nan"))


def combine(scores: Sequence[EventScore]) -> EventScore:
    """Micro-average: pooled counts, match-weighted timing error."""
    matched = sum(s.matched for s in scores)
    weighted = sum(s.timing_error_frames * s.matched for s in scores if s.matched)
    return EventScore(sum(s.true_events for s in scores), sum(s.detected for s in scores), matched,
                      weighted / matched if matched else float("nan"))


def score_video(frames: np.ndarray, true_events: Sequence[int], tolerance: int = 1) -> EventScore:
    """Detect the flashes of one generated video and match them to its sound's event frames."""
    return match_events(detect_flashes(frames), true_events, tolerance)
