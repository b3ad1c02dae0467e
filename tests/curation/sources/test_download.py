"""yt-dlp against a real HTTP server on loopback: success, sections, 404, 5xx, hostile ids."""

import time

import pytest

from curation.config import DownloadConfig
from curation.media import probe
from curation.sources.download import download_item, download_items
from curation.sources.item import SourceItem
from curation.sources.vggsound import with_urls

FAST = DownloadConfig(retries=0, socket_timeout_s=5, timeout_s=60)


def _item(ytid, start=0, label="hitting metal"):
    return SourceItem(video_id=f"{ytid}_{start:06d}", label=label, ytid=ytid, start_s=float(start), end_s=start + 10.0)


def test_download_of_a_section_gives_a_playable_clip_and_the_archive_skips_reruns(tmp_path, mirror):
    base, requests = mirror
    [item] = with_urls([_item("clipA_1-x", start=1)], base + "/{ytid}.mp4")
    config = FAST.model_copy(update={"clip_s": 2.0})
    item = item.__class__(**{**item.__dict__, "end_s": 3.0})
    result = download_item(item, tmp_path / "media", config)
    assert result.ok, result.reason
    assert result.path == tmp_path / "media" / "hitting_metal" / "clipA_1-x_000001.mp4"
    info = probe(result.path)
    assert info.has_audio and info.width == 604
    assert 1.5 <= info.duration_s <= 3.0  # a 2 s section of the 6 s file (keyframe aligned)
    assert "generic clipA_1-x" in (tmp_path / "media" / "download-archive.txt").read_text()

    # Rerun: the file is there, nothing is requested again.
    seen = len(requests)
    assert download_item(item, tmp_path / "media", config).ok
    assert len(requests) == seen
    # File deleted but id archived: yt-dlp skips it, and we say why instead of pretending success.
    result.path.unlink()
    again = download_item(item, tmp_path / "media", config)
    assert not again.ok and "archive" in again.reason and not again.transient


def test_whole_file_download_and_an_id_starting_with_a_dash(tmp_path, mirror):
    base, _ = mirror
    [item] = with_urls([_item("-dashStart")], base + "/{ytid}.mp4")
    result = download_item(item, tmp_path, FAST.model_copy(update={"sections": False}))
    assert result.ok, result.reason
    assert result.path.name == "-dashStart_000000.mp4" and result.path.parent.name == "hitting_metal"
    assert probe(result.path).duration_s == pytest.approx(6.0, abs=0.1)


def test_a_404_is_a_permanent_failure_with_yt_dlps_reason(tmp_path, mirror):
    base, _ = mirror
    [item] = with_urls([_item("missingVid")], base + "/{ytid}.mp4")
    result = download_item(item, tmp_path / "media", FAST)
    assert not result.ok and not result.transient
    assert "404" in result.reason, result.reason
    assert not list((tmp_path / "media").rglob("*.mp4"))


def test_server_errors_are_transient(tmp_path, mirror):
    base, _ = mirror
    [item] = with_urls([_item("clipB")], base + "/status/503/{ytid}.mp4")
    result = download_item(item, tmp_path, FAST)
    assert not result.ok and result.transient and "503" in result.reason


def test_a_stalled_server_hits_the_hard_timeout(tmp_path, mirror):
    base, _ = mirror
    [item] = with_urls([_item("clipB")], base + "/stall/{ytid}.mp4")
    started = time.monotonic()
    result = download_item(item, tmp_path, FAST.model_copy(update={"timeout_s": 4, "socket_timeout_s": 20}))
    assert time.monotonic() - started < 15
    assert not result.ok and result.transient and "timed out" in result.reason


@pytest.mark.parametrize("ytid", ["; rm -rf ~", "--exec=touch pwned", "../../etc/passwd", "a b", "x" * 100, ""])
def test_hostile_ids_never_reach_yt_dlp(tmp_path, mirror, ytid):
    base, requests = mirror
    hostile = SourceItem(video_id=f"{ytid}_000000", label="x", ytid=ytid, start_s=0.0, end_s=10.0,
                         url=f"{base}/{ytid}.mp4")
    [result] = download_items([hostile], tmp_path / "media", FAST)
    assert not result.ok and result.reason == "unsafe_id" and not result.transient
    assert requests == [] and not (tmp_path / "media").exists()
