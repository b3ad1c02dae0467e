"""Download VGGSound segments with yt-dlp, one subprocess per video, with a hard timeout.

yt-dlp runs as `python -m yt_dlp` with an argument list (never a shell), so a stuck download
can be killed (Prefect cannot interrupt a blocking call) and yt-dlp's own retry, section and
archive logic is used as is. Its error line ("ERROR: ...") is kept as the failure reason.
Ids never reach the command line unless they pass `is_safe_id`, and the URL always follows
`--`, so an id starting with '-' cannot be read as an option.
"""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from curation.config import DownloadConfig
from curation.sources.ids import is_safe_id
from curation.sources.item import SourceItem
from curation.sources.vggsound import label_folder

ARCHIVE_NAME = "download-archive.txt"
# Failures a later attempt may fix; everything else (404, private, removed...) is permanent.
_TRANSIENT = re.compile(
    r"timed? ?out|timeout|temporar|connection (reset|refused|aborted)|remote end closed|"
    r"HTTP Error (429|5\d\d)|too many requests|network is unreachable|name resolution|"
    r"incomplete read|IncompleteRead|EOF occurred",
    re.IGNORECASE,
)
_SAFE_LABEL = re.compile(r"[^A-Za-z0-9_-]+")


@dataclass(frozen=True)
class DownloadResult:
    video_id: str
    path: Path | None
    ok: bool
    reason: str | None = None  # yt-dlp's error text, or our own short code
    transient: bool = False


def target_path(dest_dir: Path, item: SourceItem) -> Path:
    """dest/<label folder>/<video_id>.mp4, with the label reduced to the safe alphabet."""
    folder = _SAFE_LABEL.sub("_", label_folder(item.label)).strip("_") or "unlabelled"
    return dest_dir / folder / f"{item.video_id}.mp4"


def ffmpeg_location() -> str:
    """imageio-ffmpeg's static binary: section downloads need ffmpeg and the machine has none."""
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def ytdlp_command(item: SourceItem, output: Path, archive: Path, config: DownloadConfig) -> list[str]:
    command = [
        sys.executable, "-m", "yt_dlp",
        "--no-playlist", "--no-progress", "--no-warnings", "--ignore-config", "--no-cache-dir",
        "--retries", str(config.retries), "--fragment-retries", str(config.retries),
        "--socket-timeout", str(config.socket_timeout_s),
        "--format", config.format, "--merge-output-format", "mp4",
        "--ffmpeg-location", ffmpeg_location(),
        "--download-archive", str(archive),
        "--output", str(output),
    ]
    if config.sections and item.start_s is not None:
        end = item.end_s if item.end_s is not None else item.start_s + config.clip_s
        command += ["--download-sections", f"*{item.start_s:g}-{end:g}"]
    if config.rate_limit:
        command += ["--limit-rate", config.rate_limit]
    return command + ["--", item.url]


def _error_text(output: str) -> str:
    errors = [line.strip() for line in output.splitlines() if line.strip().startswith("ERROR:")]
    if errors:
        return errors[-1].removeprefix("ERROR:").strip()[:500]
    tail = [line.strip() for line in output.splitlines() if line.strip()]
    return (tail[-1] if tail else "yt-dlp failed without a message")[:500]


def download_item(item: SourceItem, dest_dir: str | Path, config: DownloadConfig | None = None) -> DownloadResult:
    """Fetch one item to `target_path(dest_dir, item)` unless it is already there."""
    config = config or DownloadConfig()
    dest_dir = Path(dest_dir)
    if item.ytid is None or not is_safe_id(item.video_id) or not is_safe_id(item.ytid) or not item.url:
        return DownloadResult(item.video_id, None, False, "unsafe_id")
    output = target_path(dest_dir, item)
    if output.is_file() and output.stat().st_size > 0:
        return DownloadResult(item.video_id, output, True)
    output.parent.mkdir(parents=True, exist_ok=True)
    archive = dest_dir / ARCHIVE_NAME
    try:
        result = subprocess.run(ytdlp_command(item, output, archive, config), capture_output=True, text=True,
                                timeout=config.timeout_s, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return DownloadResult(item.video_id, None, False, f"yt-dlp timed out after {config.timeout_s:g} s", True)
    if result.returncode != 0:
        reason = _error_text(result.stderr + "\n" + result.stdout)
        return DownloadResult(item.video_id, None, False, reason, bool(_TRANSIENT.search(reason)))
    if not output.is_file():
        # yt-dlp skips ids in its archive: the file was downloaded once and removed since.
        reason = "listed in the download archive but the file is missing; remove its line to fetch it again"
        return DownloadResult(item.video_id, None, False, reason)
    return DownloadResult(item.video_id, output, True)


def download_items(items: list[SourceItem], dest_dir: str | Path, config: DownloadConfig | None = None) -> list[DownloadResult]:
    """Download items one after another (a batch task runs this; batches run in parallel)."""
    return [download_item(item, dest_dir, config) for item in items]
