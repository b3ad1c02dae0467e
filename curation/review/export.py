"""The accepted clips of a review → an AVSync15 manifest with a reproducible stratified split.

Per class, the accepted clips are grouped by source video (clips of one video never straddle
train and test), the videos shuffled with a generator seeded by (`seed`, class name) — so a
class's split does not change when other classes gain clips — and dealt out: test first up to
`test_per_class` clips, then train up to `train_per_class`. A class with fewer accepted clips
than the target keeps the same test share (at least one test clip once it has two clips) and is
reported as short, never padded; accepted clips beyond the target are left out and reported.
The table is written by the one AVSync15 writer, `curation.avsync15.write_avsync15_manifest`.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from curation.avsync15 import avsync15_classes, class_prompt, write_avsync15_manifest
from curation.review.candidates import DEFAULT_CLASSES, Candidate, load_candidates
from curation.review.decisions import DecisionLog, DecisionRecord
from curation.review.session import review_dir

@dataclass
class ClassSplit:
    review_class: str
    accepted: int
    train: int
    test: int
    left_out: int  # accepted beyond the target

    @property
    def exported(self) -> int:
        return self.train + self.test


@dataclass
class ExportReport:
    path: Path
    target_per_class: int
    classes: list[ClassSplit] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(c.exported for c in self.classes)

    @property
    def short(self) -> list[ClassSplit]:
        return [c for c in self.classes if c.exported < self.target_per_class]

    def lines(self) -> list[str]:
        out = [f"{self.path}: {self.rows} clips in {sum(c.exported > 0 for c in self.classes)} classes"]
        for c in self.classes:
            note = ""
            if c.exported < self.target_per_class:
                note = f"  SHORT by {self.target_per_class - c.exported} (not padded)"
            elif c.left_out:
                note = f"  ({c.left_out} accepted beyond the target left out)"
            out.append(f"  {c.review_class:28s} train {c.train:4d}  test {c.test:3d}{note}")
        return out


def split_class(clips: list[Candidate], review_class: str, train_per_class: int, test_per_class: int,
                seed: int) -> tuple[dict[str, str], ClassSplit]:
    """{clip key: "train" | "test"} for one class's accepted clips, and its counts."""
    target = train_per_class + test_per_class
    n = len(clips)
    want_test = test_per_class if n >= target else round(n * test_per_class / target) if target else 0
    if n >= 2 and test_per_class > 0:
        want_test = max(want_test, 1)
    want_train = min(n, target) - want_test
    videos: dict[str, list[Candidate]] = {}
    for clip in sorted(clips, key=lambda c: c.key):
        videos.setdefault(clip.video_id, []).append(clip)
    names = sorted(videos)
    rng = np.random.default_rng([seed, zlib.crc32(review_class.encode())])
    splits: dict[str, str] = {}
    n_test = n_train = 0
    for index in rng.permutation(len(names)):
        group = videos[names[index]]
        if n_test + len(group) <= want_test:
            split = "test"
            n_test += len(group)
        elif n_train + len(group) <= want_train:
            split = "train"
            n_train += len(group)
        else:
            continue
        splits.update({clip.key: split for clip in group})
    return splits, ClassSplit(review_class, n, n_train, n_test, n - n_train - n_test)


_VGGSOUND_KEY = re.compile(r"(?P<ytid>[A-Za-z0-9_-]{11})_(?P<start>\d{6})")


def _vggsound_segment(video_id: str) -> tuple[str | None, float | None]:
    """(ytid, segment start s) when `video_id` is a VGGSound key `<11-character ytid>_<start:06d>`
    (a VGGSound CSV run, or a local copy that kept its file names), else (None, None)."""
    match = _VGGSOUND_KEY.fullmatch(video_id)
    return (match["ytid"], float(match["start"])) if match else (None, None)


def _video_facts(run_dir: Path) -> dict[str, dict]:
    """video_id → the source file's fps, size and audio flag, from the run's videos.parquet."""
    path = run_dir / "videos.parquet"
    if not path.is_file():
        return {}
    columns = ["fps", "width", "height", "has_audio"]
    videos = pd.read_parquet(path, columns=["video_id", *columns]).dropna(subset=["fps"])
    return {row.video_id: {c: getattr(row, c) for c in columns} for row in videos.itertuples(index=False)}


def accepted_clips(candidates: list[Candidate], latest: dict[str, DecisionRecord]) -> list[Candidate]:
    return [c for c in candidates if (r := latest.get(c.key)) is not None and r.decision == "accept"]


def export_accepted(run_dir: str | Path, out: str | Path, classes_file: str | Path = DEFAULT_CLASSES,
                    train_per_class: int = 90, test_per_class: int = 10, seed: int = 0,
                    table: str = "avsync_ac") -> ExportReport:
    """Write the review's accepted clips as an AVSync15 manifest at `out` (`source` = review).
    Raises ValueError when nothing was accepted (an empty manifest would only fail later)."""
    if train_per_class < 0 or test_per_class < 0 or train_per_class + test_per_class == 0:
        raise ValueError("--train-per-class and --test-per-class must be >= 0 and not both 0")
    run_dir = Path(run_dir)
    candidates = load_candidates(run_dir, classes_file, table)
    latest = DecisionLog(review_dir(run_dir) / "decisions.jsonl").latest()
    accepted = accepted_clips(candidates, latest)
    if not accepted:
        raise ValueError(f"no accepted clip in {review_dir(run_dir) / 'decisions.jsonl'}: review the candidates "
                         f"first (python -m curation.review --run {run_dir})")
    videos = _video_facts(run_dir)
    report = ExportReport(Path(out), train_per_class + test_per_class)
    rows = []
    by_class: dict[str, list[Candidate]] = {name: [] for name in avsync15_classes(classes_file)}
    for clip in accepted:
        by_class[clip.review_class].append(clip)
    for review_class, clips in by_class.items():
        splits, counts = split_class(clips, review_class, train_per_class, test_per_class, seed)
        report.classes.append(counts)
        for clip in clips:
            if clip.key not in splits:
                continue
            record = latest[clip.key]
            ytid, segment_start = _vggsound_segment(clip.video_id)
            rows.append({
                "video_id": clip.video_id, "label": review_class, "prompt": class_prompt(review_class),
                "split": splits[clip.key], "path": clip.path, "start_s": clip.start_s, "end_s": clip.end_s,
                "duration_s": clip.duration_s, "source": "review", "status": "ok",
                "ytid": ytid, "vggsound_start_s": segment_start, "vggsound_label": clip.label,
                **videos.get(clip.video_id, {}),
                "clip_index": clip.clip_index, "vggsound_split": clip.split,
                "reviewer": record.reviewer, "reviewed_at": record.time,
            })
    frame = pd.DataFrame(rows).sort_values(["label", "split", "video_id", "clip_index"], kind="stable")
    write_avsync15_manifest(frame.reset_index(drop=True), out)
    return report


__all__ = ["ClassSplit", "ExportReport", "accepted_clips", "export_accepted", "split_class"]
