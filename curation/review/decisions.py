"""The review's decisions: an append-only JSON-lines log, durable and safe under concurrent writers.

`DIR/review/decisions.jsonl` holds one record per click, never rewritten:

    {"seq": 7, "clip": "<video_id>__<clip_index>", "decision": "accept", "version": 3,
     "reviewer": "ana", "time": "2026-12-01T22:41:07.123+00:00"}

- durable: each record is written with one `write` on an `O_APPEND` descriptor and `fsync`ed
  before the call returns, so an acknowledged decision survives a crash or a power cut;
- concurrent writers (two browser tabs, even two server processes on the same run) serialise on
  an exclusive `flock` of `decisions.jsonl.lock`; under it a writer first reads what others
  appended since its last look, so its view is current;
- optimistic concurrency: every clip has a `version` (0 = never decided, +1 per record). A
  writer states the version it last saw (`base_version`); if someone decided the clip since,
  the write is refused with `DecisionConflict` carrying the current record, and nothing is
  written. `base_version=None` means "overwrite whatever is there" (last write wins);
- a torn last line (a writer killed mid-`write`) is skipped on replay, reported in
  `torn_lines`, and fenced off with a newline before the next append, so it never glues onto a
  good record.

The current decision of a clip is its latest record; `undecided` clears a decision (undo).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

log = logging.getLogger(__name__)

DECISIONS = ("accept", "reject", "skip", "undecided")


@dataclass(frozen=True)
class DecisionRecord:
    """One line of the log. `version` is the clip's version after this record (1, 2, ...)."""

    seq: int
    clip: str
    decision: str
    version: int
    reviewer: str
    time: str

    def to_dict(self) -> dict:
        return asdict(self)


class DecisionConflict(Exception):
    """The clip was decided by someone else since `base_version`; `current` is that decision."""

    def __init__(self, clip: str, base_version: int, current: DecisionRecord):
        super().__init__(f"{clip}: version {current.version} by {current.reviewer} ({current.decision}) "
                         f"is newer than the version {base_version} this decision was based on")
        self.clip, self.base_version, self.current = clip, base_version, current


class DecisionLog:
    """Replays `path` on open and appends decisions to it (see the module doc)."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock_path = self.path.with_name(self.path.name + ".lock")
        self._thread_lock = threading.Lock()
        self._records: list[DecisionRecord] = []
        self._latest: dict[str, DecisionRecord] = {}
        self._offset = 0  # bytes of the log already replayed
        self._torn_tail = False  # the file ends in a partial line (a writer died mid-write)
        self.torn_lines = 0
        with self._locked():
            pass  # replays the existing log

    # -- reading ---------------------------------------------------------------------------------

    def latest(self) -> dict[str, DecisionRecord]:
        """Current decision per clip (clips never decided are absent)."""
        with self._locked():
            return dict(self._latest)

    def records_after(self, seq: int) -> list[DecisionRecord]:
        """Every record with `seq` greater than the given one, oldest first (for other tabs)."""
        with self._locked():
            return self._records[seq:] if seq >= 0 else list(self._records)

    @property
    def last_seq(self) -> int:
        with self._locked():
            return len(self._records)

    # -- writing ---------------------------------------------------------------------------------

    def record(self, clip: str, decision: str, reviewer: str, base_version: int | None) -> DecisionRecord:
        """Append a decision and fsync it. Raises `DecisionConflict` (nothing written) when
        `base_version` is given and is not the clip's current version; `ValueError` for a bad
        decision or an empty clip / reviewer."""
        if decision not in DECISIONS:
            raise ValueError(f"decision must be one of {', '.join(DECISIONS)}, got {decision!r}")
        if not clip or not reviewer or not reviewer.strip():
            raise ValueError("a decision needs a clip and a reviewer name")
        with self._locked():
            current = self._latest.get(clip)
            version = current.version if current else 0
            if base_version is not None and base_version != version:
                raise DecisionConflict(clip, base_version, current)
            record = DecisionRecord(seq=len(self._records) + 1, clip=clip, decision=decision, version=version + 1,
                                    reviewer=reviewer.strip(), time=datetime.now(timezone.utc).isoformat(
                                        timespec="milliseconds"))
            line = json.dumps(record.to_dict(), sort_keys=True) + "\n"
            self._append(("\n" if self._torn_tail else "") + line)
            self._torn_tail = False
            self._apply(record)
            return record

    def _append(self, text: str) -> None:
        created = not self.path.exists()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            data = text.encode("utf-8")
            written = os.write(fd, data)
            if written != len(data):  # a short write on a local disk means it is full
                raise OSError(f"short write to {self.path}: {written} of {len(data)} bytes")
            os.fsync(fd)
        finally:
            os.close(fd)
        if created:  # make the new directory entry durable too
            dir_fd = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        self._offset += len(text.encode("utf-8"))

    # -- replay ----------------------------------------------------------------------------------

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """Hold the thread lock and the cross-process file lock, after catching up with the log."""
        with self._thread_lock:
            with open(self._lock_path, "a") as lock_file:
                fcntl.flock(lock_file, fcntl.LOCK_EX)
                try:
                    self._catch_up()
                    yield
                finally:
                    fcntl.flock(lock_file, fcntl.LOCK_UN)

    def _catch_up(self) -> None:
        """Replay bytes appended since the last look (by this or another process)."""
        if not self.path.exists():
            return
        with open(self.path, "rb") as handle:
            handle.seek(self._offset)
            data = handle.read()
        if not data:
            return
        complete, newline, tail = data.rpartition(b"\n")
        if newline:  # a torn tail seen earlier has been fenced off by whoever appended next
            self._torn_tail = False
            for raw in complete.split(b"\n"):
                self._replay_line(raw)
        self._offset += len(data)
        # Writers hold the lock until their line is complete, so a partial tail seen under the
        # lock is a dead writer's leftover.
        if tail:
            self._torn_tail = True
            self.torn_lines += 1
            log.warning("%s: ignoring a torn last line (%d bytes)", self.path, len(tail))

    def _replay_line(self, raw: bytes) -> None:
        if not raw.strip():
            return
        try:
            fields = json.loads(raw)
            record = DecisionRecord(**{name: fields[name] for name in DecisionRecord.__dataclass_fields__})
        except (ValueError, KeyError, TypeError):
            self.torn_lines += 1
            log.warning("%s: ignoring an unreadable line: %.80r", self.path, raw)
            return
        # Keep sequence numbers dense in this view even if a line was lost to a crash.
        self._apply(DecisionRecord(len(self._records) + 1, record.clip, record.decision, record.version,
                                   record.reviewer, record.time))

    def _apply(self, record: DecisionRecord) -> None:
        self._records.append(record)
        self._latest[record.clip] = record


__all__ = ["DECISIONS", "DecisionConflict", "DecisionLog", "DecisionRecord"]
