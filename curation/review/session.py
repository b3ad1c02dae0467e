"""One review of one curation run: its candidates, its decision log, its clip cuts, progress and
the "finished" marker. No web framework here; `curation.review.app` serves it.

Files under `DIR/review/`: `decisions.jsonl` (the log, see `decisions.py`), `cache/` (clip cuts),
`finished.json` (written by `finish`).
"""

from __future__ import annotations

import json
import logging
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from curation.manifest import write_json_atomic
from curation.avsync15 import avsync15_classes
from curation.review.candidates import DEFAULT_CLASSES, Candidate, load_candidates
from curation.review.clip_cache import ClipCache
from curation.review.decisions import DecisionLog, DecisionRecord

log = logging.getLogger(__name__)

TARGET_PER_CLASS = 100  # AVSync15: 100 clips per class (paper §3.1)

# Called once the review is marked finished, with the content of finished.json.
FinishHook = Callable[[dict], None]


def review_dir(run_dir: str | Path) -> Path:
    return Path(run_dir) / "review"


def post_json_hook(url: str, timeout_s: float = 30.0) -> FinishHook:
    """A finish hook that POSTs finished.json's content as JSON to `url` (e.g. a service that
    resumes a suspended orchestrator run). A non-2xx answer raises."""
    def hook(summary: dict) -> None:
        request = urllib.request.Request(url, data=json.dumps(summary).encode(), method="POST",
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            if not 200 <= response.status < 300:
                raise RuntimeError(f"finish hook {url} answered {response.status}")
    return hook


@dataclass
class ReviewSession:
    run_dir: Path
    classes_file: Path = DEFAULT_CLASSES
    reviewer: str = "reviewer"
    table: str = "avsync_ac"
    target_per_class: int = TARGET_PER_CLASS
    on_finish: FinishHook | None = None
    candidates: list[Candidate] = field(init=False)

    def __post_init__(self) -> None:
        self.run_dir = Path(self.run_dir)
        self.classes_file = Path(self.classes_file)
        self.candidates = load_candidates(self.run_dir, self.classes_file, self.table)
        self.by_key = {c.key: c for c in self.candidates}
        self.classes = avsync15_classes(self.classes_file)
        self.decisions = DecisionLog(review_dir(self.run_dir) / "decisions.jsonl")
        self.clips = ClipCache(review_dir(self.run_dir) / "cache")

    @property
    def finished_path(self) -> Path:
        return review_dir(self.run_dir) / "finished.json"

    def decision_of(self, key: str, latest: dict[str, DecisionRecord]) -> dict:
        record = latest.get(key)
        if record is None:
            return {"decision": "undecided", "version": 0, "reviewer": None, "time": None}
        return {"decision": record.decision, "version": record.version, "reviewer": record.reviewer,
                "time": record.time}

    def progress(self, latest: dict[str, DecisionRecord] | None = None) -> list[dict]:
        """Per class (class list order): candidates, accepted / rejected / skipped / undecided, and
        how many accepted clips are still missing for the target."""
        latest = self.decisions.latest() if latest is None else latest
        rows = {name: {"class": name, "candidates": 0, "accept": 0, "reject": 0, "skip": 0, "undecided": 0}
                for name in self.classes}
        for clip in self.candidates:
            row = rows[clip.review_class]
            row["candidates"] += 1
            row[self.decision_of(clip.key, latest)["decision"]] += 1
        for row in rows.values():
            row["target"] = self.target_per_class
            row["missing"] = max(0, self.target_per_class - row["accept"])
        return list(rows.values())

    def state(self) -> dict:
        """Everything the page shows, as one JSON-able dict."""
        latest = self.decisions.latest()
        return {
            "run_dir": str(self.run_dir),
            "reviewer": self.reviewer,
            "target_per_class": self.target_per_class,
            "classes": self.classes,
            "seq": self.decisions.last_seq,
            "clips": [clip.to_dict() | self.decision_of(clip.key, latest) for clip in self.candidates],
            "progress": self.progress(latest),
            "finished": json.loads(self.finished_path.read_text()) if self.finished_path.is_file() else None,
        }

    def decide(self, key: str, decision: str, reviewer: str | None, base_version: int | None) -> DecisionRecord:
        """Record a decision on a candidate (KeyError for a clip that is not one)."""
        if key not in self.by_key:
            raise KeyError(key)
        return self.decisions.record(key, decision, reviewer or self.reviewer, base_version)

    def finish(self, reviewer: str | None = None) -> dict:
        """Write `finished.json` (time, reviewer, per-class progress), then call the hook. The
        marker is written before the hook runs, so a failing hook loses nothing; its error is
        returned under `hook_error` and logged."""
        summary = {
            "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "reviewer": reviewer or self.reviewer,
            "run_dir": str(self.run_dir.resolve()),
            "decisions": str(self.decisions.path.resolve()),
            "decisions_recorded": self.decisions.last_seq,
            "progress": self.progress(),
        }
        write_json_atomic(summary, self.finished_path)
        result = dict(summary)
        if self.on_finish is not None:
            try:
                self.on_finish(summary)
                result["hook"] = "ok"
            except Exception as exc:
                log.exception("the finish hook failed")
                result["hook"] = "failed"
                result["hook_error"] = f"{type(exc).__name__}: {exc}"
        return result

    def close(self) -> None:
        self.clips.stop()


__all__ = ["TARGET_PER_CLASS", "FinishHook", "ReviewSession", "post_json_hook", "review_dir"]
