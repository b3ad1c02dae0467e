"""yt-dlp (a real subprocess) against a real HTTP server on 127.0.0.1 serving a real VGGSound clip.

The server logs every request, so "nothing was fetched" is checked, not assumed. Paths:
`/<ytid>.mp4` serves the clip with byte ranges (as ffmpeg needs for sections), `/status/NNN/...`
answers NNN, `/norange/...` ignores Range headers, `/stall-ranged/...` hangs on ranged requests
(ffmpeg's) while answering the others (yt-dlp's own probe).
"""

import http.server
import os
import re
import shutil
import threading
import time
from pathlib import Path

import av
import pandas as pd
import pytest

from curation.config import DownloadConfig
from curation.sources.download import (ARCHIVE_NAME, download_item, download_items, is_transient, target_path,
                                      ytdlp_command)
from curation.sources.ids import UNSAFE_ID
from curation.sources.item import SourceItem
from curation.sources.vggsound import read_vggsound_csv, with_urls

CLIP = "M1pPtg6a_g8_000230.mp4"  # real VGGSound clip: 10.0 s, 480x360 H.264, AAC stereo ("playing piano")
SERVED_IDS = ("M1pPtg6a_g8", "-dash_Start", "other")
FAST = DownloadConfig(retries=0, socket_timeout_s=5, timeout_s=60)


class _Handler(http.server.SimpleHTTPRequestHandler):
    log: list[tuple[str, str, str | None]]
    release: threading.Event

    def log_message(self, *args):
        pass

    def do_HEAD(self):
        self._serve(body=False)

    def do_GET(self):
        self._serve(body=True)

    def _serve(self, body: bool):
        ranged = self.headers.get("Range")
        self.log.append((self.command, self.path, ranged))
        path = self.path
        if status := re.fullmatch(r"/status/(\d{3})/.*", path):
            self.send_error(int(status[1]))
            return
        if path.startswith("/stall-ranged/"):
            if ranged:
                self.release.wait(30)
                return
            path = path.removeprefix("/stall-ranged")
        honour_range = not path.startswith("/norange/")
        file = Path(self.translate_path(path.removeprefix("/norange")))
        if not file.is_file():
            self.send_error(404)
            return
        data = file.read_bytes()
        match = re.fullmatch(r"bytes=(\d+)-(\d*)", ranged or "")
        if honour_range and match:
            start, end = int(match[1]), min(int(match[2] or len(data) - 1), len(data) - 1)
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{end}/{len(data)}")
            data = data[start : end + 1]
        else:
            self.send_response(200)
        self.send_header("Content-Type", "video/mp4")
        self.send_header("Accept-Ranges", "bytes" if honour_range else "none")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        try:
            if body:
                self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass


@pytest.fixture(scope="module")
def server(tmp_path_factory, media_dir):
    """(base URL, request log) of a ThreadingHTTPServer on 127.0.0.1, port chosen by the OS."""
    root = tmp_path_factory.mktemp("mirror")
    for ytid in SERVED_IDS:
        shutil.copy(media_dir / CLIP, root / f"{ytid}.mp4")
    log: list = []
    release = threading.Event()
    handler = type("Handler", (_Handler,), {"log": log, "release": release})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), lambda *a: handler(*a, directory=str(root)))
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", log
    finally:
        release.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@pytest.fixture
def mirror(server):
    base, log = server
    log.clear()
    return base, log


def _item(base, ytid="M1pPtg6a_g8", start=230, label="playing piano", route=""):
    [item] = with_urls([SourceItem(video_id=f"{ytid}_{start:06d}", label=label, ytid=ytid, start_s=float(start),
                                   end_s=start + 10.0)], f"{base}{route}/{{ytid}}.mp4")
    return item


def _streams(path):
    """(duration s, has video, has audio, decoded video frames, decoded audio frames) via PyAV."""
    with av.open(str(path)) as container:
        video, audio = container.streams.video, container.streams.audio
        frames = sum(1 for _ in container.decode(video=0)) if video else 0
        container.seek(0)
        samples = sum(1 for _ in container.decode(audio=0)) if audio else 0
        return container.duration / 1e6, bool(video), bool(audio), frames, samples


def test_whole_file_download_is_the_clip_and_decodes(tmp_path, mirror, media_dir):
    base, log = mirror
    dest = tmp_path / "50% done"  # '%' is yt-dlp's template character: must stay literal
    result = download_item(_item(base), dest, FAST.model_copy(update={"sections": False}))
    assert result.ok and result.reason is None, result.reason
    assert result.path == dest / "playing_piano" / "M1pPtg6a_g8_000230.mp4"
    assert result.path.read_bytes() == (media_dir / CLIP).read_bytes()
    duration, has_video, has_audio, frames, audio_frames = _streams(result.path)
    assert has_video and has_audio and frames == 300 and audio_frames > 100
    assert duration == pytest.approx(10.0, abs=0.1)
    assert [path for _, path, _ in log] and all(path == "/M1pPtg6a_g8.mp4" for _, path, _ in log)
    assert sorted(p.name for p in dest.rglob("*")) == sorted([ARCHIVE_NAME, "playing_piano", result.path.name])


def test_section_download_gives_a_shorter_playable_clip_for_a_dash_id(tmp_path, mirror):
    base, _ = mirror
    item = _item(base, ytid="-dash_Start", start=2)
    result = download_item(item, tmp_path, FAST.model_copy(update={"clip_s": 2.0}))
    assert result.ok, result.reason
    assert result.path == tmp_path / "playing_piano" / "-dash_Start_000002.mp4"
    duration, has_video, has_audio, frames, _ = _streams(result.path)
    assert has_video and has_audio
    assert 1.5 <= duration <= 3.2 and 30 <= frames <= 100  # 2 s of the 10 s clip (cut at key frames)


def test_the_archive_skips_reruns_per_segment(tmp_path, mirror):
    base, log = mirror
    config = FAST.model_copy(update={"sections": False})
    first = download_item(_item(base), tmp_path, config)
    assert first.ok, first.reason
    assert (tmp_path / ARCHIVE_NAME).read_text() == "generic M1pPtg6a_g8_000230\n"

    log.clear()
    assert download_item(_item(base), tmp_path, config) == first  # file there: nothing fetched
    first.path.unlink()
    again = download_item(_item(base), tmp_path, config)  # gone, but archived: still nothing fetched
    assert log == []
    assert not again.ok and not again.transient and ARCHIVE_NAME in again.reason and "delete its line" in again.reason

    # Another VGGSound segment of the same YouTube video is not mistaken for the first.
    other = download_item(_item(base, start=300), tmp_path, config)
    assert other.ok and other.path.name == "M1pPtg6a_g8_000300.mp4", other.reason
    assert log and (tmp_path / ARCHIVE_NAME).read_text().splitlines() == [
        "generic M1pPtg6a_g8_000230", "generic M1pPtg6a_g8_000300"]


def test_a_404_is_permanent_with_yt_dlps_reason(tmp_path, mirror):
    base, _ = mirror
    result = download_item(_item(base, ytid="missingVid"), tmp_path, FAST)
    assert not result.ok and not result.transient and result.path is None
    assert "HTTP Error 404: Not Found" in result.reason and not result.reason.startswith("ERROR")
    assert not list(tmp_path.rglob("*.mp4"))


def test_server_errors_are_transient(tmp_path, mirror):
    base, log = mirror
    result = download_item(_item(base, route="/status/503"), tmp_path, FAST)
    assert not result.ok and result.transient and "503" in result.reason, result.reason
    assert log and all(path.startswith("/status/503/") for _, path, _ in log)


def test_a_stall_hits_the_hard_timeout_and_leaves_no_process(tmp_path, mirror):
    base, log = mirror
    item = _item(base, route="/stall-ranged")
    started = time.monotonic()
    result = download_item(item, tmp_path, FAST.model_copy(update={"timeout_s": 4, "socket_timeout_s": 20}))
    assert time.monotonic() - started < 10
    assert not result.ok and result.transient and "timed out" in result.reason
    assert any(ranged for _, _, ranged in log)  # ffmpeg (a grandchild) was the one waiting
    leftovers = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if item.url.encode() in cmdline.read_bytes():
                leftovers.append(cmdline.parent.name)
        except OSError:
            pass
    assert leftovers == []  # the whole process group was killed


def test_a_server_without_byte_ranges_cannot_serve_sections(tmp_path, mirror):
    base, _ = mirror
    result = download_item(_item(base, route="/norange"), tmp_path, FAST)
    assert not result.ok and "byte ranges" in result.reason and not result.transient
    assert not list(tmp_path.rglob("*.mp4"))


@pytest.mark.parametrize("ytid", ["; rm -rf ~", "--exec=touch pwned", "../../x", "$(touch pwned)", "a b", "x" * 70, ""])
def test_hostile_ids_never_reach_yt_dlp(tmp_path, mirror, monkeypatch, ytid):
    base, log = mirror
    monkeypatch.chdir(tmp_path)
    forged = SourceItem(video_id=f"{ytid}_000000", label="x", ytid=ytid, start_s=0.0, end_s=10.0, url=f"{base}/{ytid}.mp4")
    only_id = SourceItem(video_id=ytid, label="x", url=f"{base}/other.mp4")  # no ytid, the key itself is hostile
    csv = tmp_path / "list.csv"
    csv.write_text(f'"{ytid}",0,x,test\n')
    read = with_urls(read_vggsound_csv(csv), base + "/{ytid}.mp4")
    results = download_items([forged, only_id, *read], tmp_path / "media", FAST)
    assert [(r.ok, r.reason, r.transient, r.path) for r in results] == [(False, UNSAFE_ID, False, None)] * 3
    assert log == [] and not (tmp_path / "media").exists() and not list(tmp_path.rglob("pwned"))


def test_hostile_rows_of_a_csv_file(tmp_path, mirror, fixtures_dir):
    base, log = mirror
    items = [i for i in with_urls(read_vggsound_csv(fixtures_dir / "sources" / "hostile_rows.csv"), base + "/{ytid}.mp4")
             if i.ytid is None]
    assert len(items) == 11
    assert {r.reason for r in download_items(items, tmp_path, FAST)} == {UNSAFE_ID} and log == []


def test_labels_and_missing_urls(tmp_path):
    item = SourceItem(video_id="abc_000000", label="../../etc, passwd", ytid="abc", start_s=0.0)
    assert target_path(tmp_path, item) == tmp_path / "etc_passwd" / "abc_000000.mp4"
    result = download_item(item, tmp_path, FAST)  # read but never given a URL
    assert (result.ok, result.reason) == (False, "no_url")


def test_the_command_line(tmp_path):
    item = SourceItem(video_id="-a_000030", label="x", ytid="-a", start_s=30.5, url="https://www.youtube.com/watch?v=-a")
    config = FAST.model_copy(update={"rate_limit": "2M", "clip_s": 10.0})
    command = ytdlp_command(item, tmp_path / "x" / "-a_000030.mp4", tmp_path / ARCHIVE_NAME, config)
    assert command[1:3] == ["-m", "yt_dlp"] and command[-2:] == ["--", item.url]
    assert command.count("--") == 1
    options = dict(zip(command, command[1:]))
    assert options["--download-sections"] == "*30.5-40.5"
    assert options["--limit-rate"] == "2M" and options["--retries"] == "0" and options["--socket-timeout"] == "5"
    assert options["--merge-output-format"] == "mp4" and "--no-playlist" in command
    assert os.path.isabs(options["--output"]) and os.path.isabs(options["--download-archive"])
    assert os.access(options["--ffmpeg-location"], os.X_OK)


def test_batches_keep_order_with_parallel_workers(tmp_path, mirror):
    base, _ = mirror
    items = [_item(base, ytid="other", start=0), _item(base, ytid="nothere"), _item(base, start=5)]
    results = download_items(items, tmp_path, FAST.model_copy(update={"sections": False}), workers=2)
    assert [r.video_id for r in results] == [i.video_id for i in items]
    assert [r.ok for r in results] == [True, False, True]


@pytest.mark.parametrize("message, transient", [
    ("[generic] x: Unable to download webpage: HTTP Error 404: Not Found (caused by <HTTPError 404: Not Found>)", False),
    ("[youtube] abcdefghijk: Video unavailable. This video has been removed by the uploader", False),
    ("[youtube] abcdefghijk: Private video. Sign in if you've been granted access to this video", False),
    ("[youtube] abcdefghijk: Sign in to confirm your age. This video may be inappropriate for some users.", False),
    ("[youtube] abcdefghijk: Sign in to confirm you\u2019re not a bot. Use --cookies-from-browser", True),
    ("[youtube] abcdefghijk: Unable to download webpage: HTTP Error 429: Too Many Requests", True),
    ("Unable to download webpage: <urlopen error [Errno 111] Connection refused>", True),
    ("unable to download video data: HTTP Error 502: Bad Gateway", True),
    ("[download] Got error: The read operation timed out", True),
])
def test_transient_or_permanent(message, transient):
    assert is_transient(message) is transient


def test_a_failed_section_download_leaves_no_archive_line_so_the_advice_works(tmp_path, mirror):
    """Regression (issue 14, defect 6): the error says `sections: false`; in the same folder, that works."""
    base, _ = mirror
    item = _item(base, route="/norange")
    failed = download_item(item, tmp_path, FAST)
    assert not failed.ok and "sections: false" in failed.reason and failed.retry_on_rerun and not failed.transient
    archive = tmp_path / ARCHIVE_NAME
    assert not archive.exists() or item.video_id not in archive.read_text()
    again = download_item(item, tmp_path, FAST.model_copy(update={"sections": False}))
    assert again.ok and again.path.stat().st_size > 100_000


def test_an_argument_over_the_kernel_limit_fails_that_item_alone(tmp_path, mirror):
    """Regression (issue 14, defect 1): `OSError: Argument list too long` from starting yt-dlp is that
    item's failure; the next item of the same call downloads."""
    base, _ = mirror
    huge = SourceItem(video_id="huge_000000", label="x", ytid="huge", start_s=0.0, end_s=10.0,
                      url=f"{base}/M1pPtg6a_g8.mp4?pad={'a' * 300_000}")
    results = download_items([huge, _item(base)], tmp_path, FAST.model_copy(update={"sections": False}))
    assert not results[0].ok and "Argument list too long" in results[0].reason and not results[0].transient
    assert results[1].ok


def test_a_run_reads_the_archive_once_and_still_sees_later_lines(tmp_path, mirror, monkeypatch):
    """Issue 15 item 5: over a run of several batches the archive is read once (not per batch);
    an archived item whose file is gone is still reported without a fetch, and a line another
    process appends mid-run is still honoured (by yt-dlp's own check of the file)."""
    from curation import pipeline
    from curation.config import load_config
    from curation.sources import download

    base, log = mirror
    fresh, gone, present = _item(base, ytid="-dash_Start", start=0), _item(base), _item(base, ytid="other", start=0)
    appended, missing = _item(base, start=300), _item(base, ytid="nothere", start=0)
    out = tmp_path / "out"
    media = pipeline.media_folder(out)
    config = load_config(None, ["batch_size=1", "min_clips_per_class=1", "download.retries=0",
                                "download.socket_timeout_s=5", "download.sections=false"])
    assert download_item(present, media, config.download).ok  # an earlier run's download, still there
    (media / ARCHIVE_NAME).write_text(f"generic {present.video_id}\ngeneric {gone.video_id}\n")  # `gone`: file deleted
    reads = []
    real_read = download.read_archive
    monkeypatch.setattr(download, "read_archive", lambda dest: reads.append(Path(dest)) or real_read(dest))

    def another_process_archives(report, done, total):
        if done == 1:
            with open(media / ARCHIVE_NAME, "a") as archive:
                archive.write(f"generic {appended.video_id}\n")

    log.clear()
    pipeline.run_curation([fresh, gone, present, appended, missing], out, config, on_batch=another_process_archives)
    assert reads == [media]
    videos = pd.read_parquet(out / "videos.parquet").set_index("video_id")
    assert videos.status.to_dict() == {fresh.video_id: "ok", gone.video_id: "failed", present.video_id: "ok",
                                       appended.video_id: "failed", missing.video_id: "failed"}
    for archived in (gone, appended):
        assert ARCHIVE_NAME in videos.loc[archived.video_id, "detail"], videos.loc[archived.video_id, "detail"]
        assert not target_path(media, archived).exists()
    assert "404" in videos.loc[missing.video_id, "detail"]
    fetched = {path for command, path, _ in log if command == "GET"}
    assert f"/{fresh.ytid}.mp4" in fetched and f"/{present.ytid}.mp4" not in fetched
