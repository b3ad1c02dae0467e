"""The clips a reviewer sees: a curation run's AVSync-AC candidates narrowed to the chosen classes,
with the scores of the windows each clip is made of and the reasons neighbouring windows were
filtered.

Inputs (schemas in docs/manifests.md): `DIR/avsync_ac.parquet` (or `clips.parquet`) and
`DIR/windows.parquet`. A clip is keyed `<video_id>__<clip_index>`.

Classes: a class list file (`data/classes/avsync15.txt` by default) in the format of
`curation.sources.vggsound.read_class_folders`: a VGGSound label, optionally a tab and the
class folder it belongs to. A candidate whose label (VGGSound wording or a local folder name)
matches a listed label or folder (`curation.avsync15.class_mapping`) gets that folder as its
review class ("hammering nails" and "forging swords" → `hammering`); others are left out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from curation.avsync15 import CLASSES_FILE, avsync15_classes, class_mapping
from curation.manifest import WINDOW_KEY_SCHEMA
from curation.sources.vggsound import normalise_label

CANDIDATE_TABLES = ("avsync_ac", "clips")
DEFAULT_CLASSES = CLASSES_FILE  # data/classes/avsync15.txt: AVSync15's 15
_WINDOW_BOOKKEEPING = set(WINDOW_KEY_SCHEMA.names) | {"passed", "reasons"}


@dataclass(frozen=True)
class Candidate:
    """One clip to review. Times are seconds in the source video `path`.

    scores:  metric → mean over the passing windows merged into the clip
    dropped: filter reason → number of windows of the same scene overlapping the clip that were
             filtered (why the clip starts or ends where it does)
    video_dropped: filter reason → number of filtered windows anywhere in the source video
    """

    key: str
    review_class: str
    label: str  # the run's label (VGGSound wording or local folder)
    video_id: str
    clip_index: int
    path: str
    start_s: float
    end_s: float
    split: str | None
    scene_index: int
    n_windows: int
    scores: dict[str, float] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)
    video_dropped: dict[str, int] = field(default_factory=dict)

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s

    def to_dict(self) -> dict:
        return {"key": self.key, "review_class": self.review_class, "label": self.label, "video_id": self.video_id,
                "clip_index": self.clip_index, "start_s": self.start_s, "end_s": self.end_s,
                "duration_s": round(self.duration_s, 3), "split": self.split, "scene_index": self.scene_index,
                "n_windows": self.n_windows, "scores": self.scores, "dropped": self.dropped,
                "video_dropped": self.video_dropped}


def clip_key(video_id: str, clip_index: int) -> str:
    return f"{video_id}__{int(clip_index)}"


def class_folders(path: str | Path) -> dict[str, str]:
    """Class list file → {normalised label or folder: class folder}, with what to do when the
    file is missing or names no class."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"class list not found: {path} (one class per line; pass --classes FILE)")
    mapping = class_mapping(path)
    if not mapping:
        raise ValueError(f"class list {path} names no class")
    return mapping


def load_candidates(run_dir: str | Path, classes_file: str | Path = DEFAULT_CLASSES,
                    table: str = "avsync_ac") -> list[Candidate]:
    """The run's candidate clips of the listed classes, ordered by class (file order), then
    video and clip. Raises FileNotFoundError / ValueError with what to do when the run or the
    class list is not usable."""
    run_dir = Path(run_dir)
    if table not in CANDIDATE_TABLES:
        raise ValueError(f"table must be one of {CANDIDATE_TABLES}, got {table!r}")
    clips_path = run_dir / f"{table}.parquet"
    if not clips_path.is_file():
        raise FileNotFoundError(f"{clips_path} not found: is {run_dir} a finished curation run (python -m flows.curate)?")
    clips = pd.read_parquet(clips_path)
    mapping = class_folders(classes_file)
    order = {folder: i for i, folder in enumerate(avsync15_classes(classes_file))}
    clips = clips.assign(review_class=[mapping.get(normalise_label(str(label))) for label in clips["label"]])
    clips = clips[clips["review_class"].notna()]
    windows_path = run_dir / "windows.parquet"
    windows = pd.read_parquet(windows_path) if windows_path.is_file() else None
    by_video = {video_id: group for video_id, group in windows.groupby("video_id")} if windows is not None else {}
    candidates = []
    for row in clips.itertuples(index=False):
        video_windows = by_video.get(row.video_id)
        scores, dropped = _window_evidence(video_windows, row.scene_index, row.start_s, row.end_s)
        candidates.append(Candidate(
            key=clip_key(row.video_id, row.clip_index), review_class=row.review_class, label=str(row.label),
            video_id=str(row.video_id), clip_index=int(row.clip_index), path=_absolute(row.path, run_dir),
            start_s=float(row.start_s), end_s=float(row.end_s), split=row.split if isinstance(row.split, str) else None,
            scene_index=int(row.scene_index), n_windows=int(row.n_windows), scores=scores, dropped=dropped,
            video_dropped=_reason_counts(video_windows)))
    candidates.sort(key=lambda c: (order.get(c.review_class, len(order)), c.video_id, c.clip_index))
    return candidates


def _absolute(path: str, run_dir: Path) -> str:
    return str(Path(path) if Path(path).is_absolute() else (run_dir / path).resolve())


def _window_evidence(windows: pd.DataFrame | None, scene_index: int, start_s: float,
                     end_s: float) -> tuple[dict[str, float], dict[str, int]]:
    """(mean metric of the clip's passing windows, reason counts of the overlapping filtered ones)."""
    if windows is None:
        return {}, {}
    eps = 1e-6
    scene = windows[windows["scene_index"] == scene_index]
    overlapping = scene[(scene["start_s"] < end_s - eps) & (scene["end_s"] > start_s + eps)]
    inside = overlapping[overlapping["passed"].astype(bool) & (overlapping["start_s"] >= start_s - eps)
                         & (overlapping["end_s"] <= end_s + eps)]
    metrics = [c for c in windows.columns if c not in _WINDOW_BOOKKEEPING]
    scores = {}
    for metric in sorted(metrics):
        value = inside[metric].mean() if len(inside) else math.nan
        if not math.isnan(value):
            scores[metric] = round(float(value), 4)
    return scores, _reason_counts(overlapping)


def _reason_counts(windows: pd.DataFrame | None) -> dict[str, int]:
    """Filter reason → number of the `windows` that were filtered for it."""
    counts: dict[str, int] = {}
    if windows is None:
        return counts
    for reasons in windows.loc[~windows["passed"].astype(bool), "reasons"]:
        for reason in filter(None, str(reasons).split(";")):
            counts[reason] = counts.get(reason, 0) + 1
    return dict(sorted(counts.items()))


__all__ = ["CANDIDATE_TABLES", "DEFAULT_CLASSES", "Candidate", "class_folders", "clip_key",
           "load_candidates"]
