"""`python -m flows.curate --out s3://…` end to end: downloads from a loopback mirror into a local
--media-dir, ledger, manifests and run record on a loopback S3 server (moto's server mode)."""

import json
import secrets

import pandas as pd
import pytest

from curation import store
from tests.s3_support import BUCKET, loopback_s3, s3_keys


@pytest.fixture(scope="module")
def s3():
    with loopback_s3() as endpoint:
        yield endpoint


@pytest.mark.slow
def test_cli_curates_into_s3_with_a_local_media_folder(prefect_api, s3, mirror, tmp_path, capsys):
    from flows.curate import main

    base, _ = mirror
    csv = tmp_path / "vggsound.csv"
    csv.write_text("clipA_1-x,0,hitting metal,train\nmissingVid,0,hitting metal,train\nclipB,2,hitting metal,test\n")
    config = tmp_path / "config.yaml"
    config.write_text("min_clips_per_class: 1\ndownload: {retries: 0, socket_timeout_s: 5, clip_s: 4.0}\n")
    out, media = f"s3://{BUCKET}/cli-{secrets.token_hex(4)}", tmp_path / "media"
    argv = ["--csv", str(csv), "--url-template", base + "/{ytid}.mp4", "--out", out, "--media-dir", str(media),
            "--config", str(config), "--batch-size", "1"]
    assert main(argv) == 0
    assert f"manifests: {out}" in capsys.readouterr().out
    videos = pd.read_parquet(store.join(out, "videos.parquet")).set_index("video_id")
    assert videos.status.to_dict() == {"clipA_1-x_000000": "ok", "clipB_000002": "ok", "missingVid_000000": "failed"}
    assert all(path.startswith(str(media)) for path in videos.loc[videos.status == "ok", "path"])
    assert (media / "download-archive.txt").read_text().count("generic") == 2
    keys = s3_keys(out)
    assert {".flow_run.json", "summary.json", "clips.parquet", "avsync_ac.parquet", "windows.parquet"} <= set(keys)
    assert not any(key.startswith("media/") for key in keys)
    record = json.loads(store.read_bytes(*store.resolve(store.join(out, ".flow_run.json"))))
    windows = pd.read_parquet(store.join(out, "windows.parquet"))
    assert len(windows) > 0
    # A rerun resumes from the S3 ledger: only the retryable failure is tried again; same manifests.
    assert main(argv) == 0
    pd.testing.assert_frame_equal(pd.read_parquet(store.join(out, "windows.parquet")), windows)
    assert json.loads(store.read_bytes(*store.resolve(store.join(out, ".flow_run.json"))))["flow_run_id"] != record["flow_run_id"]
