"""Download VGGSound segments with yt-dlp: one subprocess per video, with a hard timeout.

Why a subprocess: Prefect cannot interrupt a blocking call, so a stuck download must be a process
we can kill (with its ffmpeg child: the process group goes). yt-dlp's own retries, section
download, merging and archive are used as they are, and its "ERROR: ..." line is the reason.

Safety: an item reaches the command line only if its video_id (and ytid) pass `is_safe_id`; the
URL always follows `--`, and every path is absolute, so an id starting with '-' is never read as
an option. No shell is involved.

Skipping: an item whose file exists is not fetched again. yt-dlp keeps `<dest>/download-archive.txt`;
its entries are made per segment (`<extractor> <video_id>`, the info id is rewritten before the
archive check) because one YouTube video can hold several VGGSound segments (595 ytids of the test
split have two). An item that is in the archive but whose file is gone is reported as failed
(permanent, reason says so) without starting yt-dlp: the archive is a record the user keeps;
deleting the line fetches it again. A run reads the archive once (`read_archive`, in the flow) and
hands each batch the archived ids among its own items; an id another process archives meanwhile is
caught by yt-dlp's own check of the file ("has already been recorded in the archive").

Sections: [start_s, start_s + clip_s] on the source's timeline (a YouTube video, or a mirror of
whole videos). For a mirror serving VGGSound's already-cut 10 s clips, set `sections: false`.

ffmpeg: section downloads and merges need it; imageio-ffmpeg's static binary is passed with
`--ffmpeg-location`. yt-dlp wants ffprobe only for post-processors we do not use (SponsorBlock,
chapter splitting, concatenation, the m3u8 fix-up, which falls back to ffmpeg), so none is needed.
"""

from __future__ import annotations

import functools
import os
import re
import signal
import subprocess
import sys
from collections.abc import Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from curation.config import DownloadConfig
from curation.sources.ids import UNSAFE_ID, is_rejected, is_safe_id
from curation.sources.item import SourceItem
from curation.sources.vggsound import label_folder

ARCHIVE_NAME = "download-archive.txt"
# Smaller outputs hold no media: e.g. an ftyp+moov with 0 packets, which ffmpeg writes (exit 0)
# when a server ignores byte ranges during a section download.
MIN_VIDEO_BYTES = 1024
_REASON_CHARS = 300
# Failures a later attempt may fix; everything else (404, unavailable, private, removed) is permanent.
_TRANSIENT = re.compile(
    r"timed? ?out|timeout|temporar|connection (reset|refused|aborted)|remote end closed|"
    r"HTTP Error (408|429|5\d\d)|too many requests|network is unreachable|no route to host|name resolution|"
    r"incomplete ?read|EOF occurred|try again later|not a bot|rate.?limit",
    re.IGNORECASE,
)
_BOILERPLATE = re.compile(r";? *please report this issue.*$", re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True)
class DownloadResult:
    """Outcome of one item. `reason`: yt-dlp's error text (trimmed) or one of our short codes
    (`unsafe_id`, `no_url`); `transient`: a later retry may succeed (timeouts, 5xx, 429);
    `retry_on_rerun`: a retry with the same config would fail again, but the reason names a
    setting to change, so the next run should try it again."""

    video_id: str
    path: Path | None
    ok: bool
    reason: str | None = None
    transient: bool = False
    retry_on_rerun: bool = False


def is_transient(reason: str) -> bool:
    """Whether a failure text looks like one a retry could fix (network trouble, 5xx, 429)."""
    return _TRANSIENT.search(reason) is not None


def target_path(dest_dir: str | Path, item: SourceItem) -> Path:
    """`<dest_dir>/<label_folder(label)>/<video_id>.mp4`, absolute. Call only for safe ids."""
    return Path(dest_dir).absolute() / label_folder(item.label) / f"{item.video_id}.mp4"


@functools.cache
def ffmpeg_location() -> str:
    """Path of imageio-ffmpeg's static ffmpeg (the machine has no system ffmpeg)."""
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def _seconds(value: float) -> str:
    return f"{value:.3f}".rstrip("0").rstrip(".")


def ytdlp_command(item: SourceItem, output: Path, archive: Path, config: DownloadConfig) -> list[str]:
    """The argument list for one item (no shell). `output` and `archive` must be absolute."""
    command = [
        sys.executable, "-m", "yt_dlp",
        "--ignore-config", "--no-cache-dir", "--no-playlist", "--no-progress", "--no-warnings", "--no-mtime",
        "--retries", str(config.retries), "--fragment-retries", str(config.retries),
        "--socket-timeout", _seconds(config.socket_timeout_s),
        "--format", config.format, "--merge-output-format", "mp4",
        "--ffmpeg-location", ffmpeg_location(),
        "--download-archive", str(archive),
        # Archive entries per segment, not per YouTube video (module doc).
        "--replace-in-metadata", "id", ".+", item.video_id,
        # '%' starts an output-template field in yt-dlp; the path is literal.
        "--output", str(output).replace("%", "%%"),
    ]
    if config.sections and item.start_s is not None:
        command += ["--download-sections", f"*{_seconds(item.start_s)}-{_seconds(item.start_s + config.clip_s)}"]
    if config.rate_limit:
        command += ["--limit-rate", config.rate_limit]
    return command + ["--", item.url]


def _error_text(stderr: str, stdout: str) -> str:
    lines = [line.strip() for line in (stderr + "\n" + stdout).splitlines() if line.strip()]
    errors = [line.removeprefix("ERROR:").strip() for line in lines if line.startswith("ERROR:")]
    text = errors[-1] if errors else (lines[-1] if lines else "yt-dlp failed without a message")
    return _BOILERPLATE.sub("", text).strip()[:_REASON_CHARS]


def _run(command: list[str], timeout_s: float) -> tuple[int | None, str, str]:
    """Run with a hard timeout; on expiry kill the whole process group (yt-dlp and its ffmpeg)
    and return code None."""
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, encoding="utf-8", errors="replace", start_new_session=True)
    try:
        stdout, stderr = process.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        stdout, stderr = process.communicate()
        return None, stdout, stderr
    return process.returncode, stdout, stderr


def read_archive(dest_dir: str | Path) -> set[str]:
    """video_ids recorded in `<dest_dir>/download-archive.txt` (lines `<extractor> <id>`)."""
    try:
        lines = (Path(dest_dir) / ARCHIVE_NAME).read_text(encoding="utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        return set()
    return {line.split(" ", 1)[1].strip() for line in lines if " " in line}


def _existing(path: Path) -> bool:
    return path.is_file() and path.stat().st_size >= MIN_VIDEO_BYTES


def _archived_but_missing(item: SourceItem, output: Path) -> DownloadResult:
    return DownloadResult(item.video_id, None, False,
                          f"in {ARCHIVE_NAME} but {output.name} is missing: delete its line there to fetch it again")


def download_item(item: SourceItem, dest_dir: str | Path, config: DownloadConfig | None = None,
                  archived: Collection[str] | None = None) -> DownloadResult:
    """Fetch one item to `target_path(dest_dir, item)` unless it is there already.

    With `config.sections`, only [start_s, start_s + config.clip_s] seconds are fetched.
    `archived`: video_ids read from the archive earlier (`read_archive`, at least this item's), to
    save re-reading it; None reads it here.
    """
    config = config or DownloadConfig()
    if is_rejected(item) or not is_safe_id(item.video_id) or (item.ytid is not None and not is_safe_id(item.ytid)):
        return DownloadResult(item.video_id, None, False, UNSAFE_ID)
    if not item.url:
        return DownloadResult(item.video_id, None, False, "no_url")
    dest_dir = Path(dest_dir).absolute()
    output = target_path(dest_dir, item)
    if _existing(output):
        return DownloadResult(item.video_id, output, True)
    if item.video_id in (read_archive(dest_dir) if archived is None else archived):
        return _archived_but_missing(item, output)
    output.parent.mkdir(parents=True, exist_ok=True)
    try:
        code, stdout, stderr = _run(ytdlp_command(item, output, dest_dir / ARCHIVE_NAME, config), config.timeout_s)
    except OSError as exc:  # e.g. E2BIG: a URL template expanding to an argument over the kernel's limit
        return DownloadResult(item.video_id, None, False, f"could not start yt-dlp: {exc}"[:_REASON_CHARS])
    if code is None:
        return DownloadResult(item.video_id, None, False, f"yt-dlp timed out after {config.timeout_s:g} s", True)
    if code != 0:
        reason = _error_text(stderr, stdout)
        return DownloadResult(item.video_id, None, False, reason, is_transient(reason))
    if not output.is_file():
        if "has already been recorded in the archive" in stdout:  # another process archived it meanwhile
            return _archived_but_missing(item, output)
        return DownloadResult(item.video_id, None, False, "yt-dlp exited 0 but wrote no file: " + _error_text("", stdout))
    if not _existing(output):
        size = output.stat().st_size
        output.unlink()
        # yt-dlp archived it as done: forget that, so a rerun with `sections: false` fetches it.
        _drop_archive_line(dest_dir, item.video_id)
        return DownloadResult(item.video_id, None, False,
                              f"downloaded file holds no media ({size} bytes); a section download needs a server "
                              "that honours HTTP byte ranges (or set download.sections: false)", retry_on_rerun=True)
    return DownloadResult(item.video_id, output, True)


def _drop_archive_line(dest_dir: Path, video_id: str) -> None:
    """Remove `<extractor> <video_id>` lines from the archive (rewritten atomically)."""
    archive = dest_dir / ARCHIVE_NAME
    try:
        lines = archive.read_text(encoding="utf-8", errors="surrogateescape").splitlines(keepends=True)
    except FileNotFoundError:
        return
    kept = [line for line in lines if line.split(" ", 1)[-1].strip() != video_id]
    if len(kept) != len(lines):
        tmp = archive.with_name(f".{ARCHIVE_NAME}.{os.getpid()}.tmp")
        tmp.write_text("".join(kept), encoding="utf-8", errors="surrogateescape")
        os.replace(tmp, archive)


def download_items(items: Sequence[SourceItem], dest_dir: str | Path, config: DownloadConfig | None = None,
                   workers: int = 1, archived: Collection[str] | None = None) -> list[DownloadResult]:
    """One result per item, in order. `workers` > 1 runs that many yt-dlp processes at once
    (downloads wait on the network, not the CPU). `archived`: as for `download_item` (the run's
    snapshot, at least these items' ids); None reads the archive once for all of them."""
    archived = read_archive(dest_dir) if archived is None else archived

    def one(item: SourceItem) -> DownloadResult:
        try:
            return download_item(item, dest_dir, config, archived)
        except Exception as exc:  # one item's trouble (a full disk, a bug) fails that item, not the batch
            return DownloadResult(item.video_id, None, False, f"{type(exc).__name__}: {exc}"[:_REASON_CHARS])

    if workers <= 1 or len(items) <= 1:
        return [one(item) for item in items]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(one, items))
