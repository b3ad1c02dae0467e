"""Issue 15 item 5 through the flow: a run over several batch tasks reads yt-dlp's download archive
once (not per batch) and hands each task its own ids, for a local `out` and an `s3://` one (media
and archive in the local media folder); outcomes are those of reading it per batch."""

import secrets
from pathlib import Path

import pandas as pd
import pytest

from curation import pipeline, store
from curation.sources import download
from tests.s3_support import BUCKET, loopback_s3


@pytest.fixture(params=["local", "s3"])
def out(request, tmp_path):
    if request.param == "local":
        yield str(tmp_path / "out")
        return
    with loopback_s3():
        yield f"s3://{BUCKET}/archive-{secrets.token_hex(4)}"


@pytest.mark.slow
def test_the_flow_reads_the_download_archive_once(prefect_api, mirror, tmp_path, out, monkeypatch):
    from flows.curate import curate_vggsound

    base, requests = mirror
    csv = tmp_path / "vggsound.csv"
    csv.write_text("clipA_1-x,0,hitting metal,train\nclipB,2,hitting metal,test\n"
                   "-dashStart,0,hitting metal,train\nmissingVid,0,hitting metal,train\n")
    config = tmp_path / "config.yaml"
    config.write_text("min_clips_per_class: 1\ndownload: {retries: 0, socket_timeout_s: 5, sections: false}\n")
    media = tmp_path / "media"
    media.mkdir()
    (media / download.ARCHIVE_NAME).write_text("generic clipB_000002\n")  # downloaded once, file since deleted
    reads = []
    real_read = download.read_archive
    monkeypatch.setattr(download, "read_archive", lambda dest: reads.append(Path(dest)) or real_read(dest))

    curate_vggsound(csv=str(csv), url_template=base + "/{ytid}.mp4", out=out, config=str(config), batch_size=1,
                    media_dir=str(media))
    assert reads == [pipeline.media_folder(out, media)]  # 4 batch tasks, one read
    videos = pd.read_parquet(store.join(out, "videos.parquet")).set_index("video_id")
    assert videos.status.to_dict() == {"clipA_1-x_000000": "ok", "clipB_000002": "failed",
                                       "-dashStart_000000": "ok", "missingVid_000000": "failed"}
    assert download.ARCHIVE_NAME in videos.loc["clipB_000002", "detail"] and "/clipB.mp4" not in requests
    assert "404" in videos.loc["missingVid_000000", "detail"]
