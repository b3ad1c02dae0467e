"""Playable cuts of the candidate clips: the clip's window only, as a small H.264 + AAC mp4 the
browser plays with its sound, and a JPEG of its first frame (the grid shows posters and loads a
video only when it is selected: Chromium opens at most 6 connections per host, and a grid of
preloading videos would hold them all).

A clip is decoded with the project's one decode path (`curation.media.decode`, here at the
source frame rate, capped) and encoded with its one mp4 writer (`media.write_mp4`, index
up front so playback starts before the file is fully loaded). Cuts are cached under
`DIR/review/cache/`, named by a hash of (source path, size, mtime, window), written to a
temporary name and renamed, so a half-written cut is never served. Concurrent requests for the
same clip wait for one cut. Pre-cutting in review order runs in the background one clip at a
time; a poster decodes only its frame (a poster request must not wait for a cut: it holds one of
the browser's few connections meanwhile).
"""

from __future__ import annotations

import hashlib
import logging
import os
import queue
import tempfile
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

import cv2

from curation.config import MediaConfig
from curation.media import decode, probe
from curation.review.candidates import Candidate
from curation.media import write_mp4

log = logging.getLogger(__name__)

MAX_FPS = 30.0  # playback rate cap; higher source rates are sampled down
SHORT_SIDE = 240  # pixels: a grid tile, not the full source resolution
SAMPLE_RATE = 44100  # Hz: keeps music and speech intelligible (the analysis uses 16 kHz)


class ClipCache:
    def __init__(self, cache_dir: str | os.PathLike, short_side: int = SHORT_SIDE):
        self.cache_dir = Path(cache_dir)
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        self.short_side = short_side
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self._queue: queue.Queue[Candidate | None] = queue.Queue()
        self._worker: threading.Thread | None = None
        self.errors: dict[str, str] = {}  # clip key → why it could not be cut

    def cached_path(self, clip: Candidate) -> Path:
        source = Path(clip.path)
        stat = source.stat() if source.exists() else None
        identity = f"{source.resolve()}|{stat.st_size if stat else 0}|{stat.st_mtime_ns if stat else 0}|" \
                   f"{clip.start_s:.6f}|{clip.end_s:.6f}|{self.short_side}"
        return self.cache_dir / f"{hashlib.sha1(identity.encode()).hexdigest()[:20]}.mp4"

    def poster(self, clip: Candidate) -> Path:
        """The JPEG poster of `clip` (the first frame of its window, at the cut's size)."""
        target = self.cached_path(clip).with_suffix(".jpg")
        if target.is_file():
            return target
        with self._lock_for(target.name):
            if not target.is_file():
                config = MediaConfig(fps=5.0, short_side=self.short_side, require_audio=False)
                media = decode(clip.path, config, start_s=clip.start_s, end_s=min(clip.end_s, clip.start_s + 0.2))
                ok, jpeg = cv2.imencode(".jpg", cv2.cvtColor(media.frames[0], cv2.COLOR_RGB2BGR),
                                        [cv2.IMWRITE_JPEG_QUALITY, 85])
                if not ok:
                    raise RuntimeError(f"could not encode the poster of {clip.key}")
                _write_atomic(target, lambda tmp: Path(tmp).write_bytes(jpeg.tobytes()))
        return target

    def get(self, clip: Candidate) -> Path:
        """The cut of `clip`, cutting it now if needed. Raises `curation.media.MediaError` when the
        source cannot be decoded (the reason is also kept in `errors`)."""
        target = self.cached_path(clip)
        if target.is_file():
            return target
        with self._lock_for(target.name):
            if target.is_file():
                return target
            try:
                self._cut(clip, target)
            except Exception as exc:
                self.errors[clip.key] = str(exc)
                raise
            return target

    def _lock_for(self, name: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(name, threading.Lock())

    def _cut(self, clip: Candidate, target: Path) -> None:
        info = probe(clip.path, MediaConfig(require_audio=False))
        fps = min(info.fps, MAX_FPS) if info.fps > 0 else 25.0
        config = MediaConfig(fps=fps, short_side=self.short_side, sample_rate=SAMPLE_RATE, require_audio=False)
        media = decode(clip.path, config, start_s=clip.start_s, end_s=clip.end_s, info=info)
        audio = media.audio if info.has_audio else None
        _write_atomic(target, lambda tmp: write_mp4(tmp, media.frames, fps, audio, SAMPLE_RATE, crf=23,
                                                     movflags="faststart"))

    # -- background pre-cutting ------------------------------------------------------------------

    def prefetch(self, clips: Iterable[Candidate]) -> None:
        """Cut `clips` in order on one background thread (requests for a clip still cut it at
        once; the per-clip lock keeps the two from doing the work twice)."""
        for clip in clips:
            self._queue.put(clip)
        if self._worker is None:
            self._worker = threading.Thread(target=self._prefetch_loop, name="clip-prefetch", daemon=True)
            self._worker.start()

    def _prefetch_loop(self) -> None:
        while (clip := self._queue.get()) is not None:
            try:
                self.get(clip)
            except Exception as exc:  # recorded in `errors`; the page shows it when asked
                log.warning("cannot cut %s: %s", clip.key, exc)

    def stop(self) -> None:
        """Drop queued pre-cuts and end the background thread after its current clip."""
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        if self._worker is not None:
            self._queue.put(None)
            self._worker.join(timeout=30)
            self._worker = None


def _write_atomic(target: Path, write: Callable[[str], object]) -> None:
    """Call `write(temporary path)` next to `target`, then rename it into place."""
    fd, tmp = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=target.suffix, dir=target.parent)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, target)
    finally:
        Path(tmp).unlink(missing_ok=True)


__all__ = ["ClipCache"]
