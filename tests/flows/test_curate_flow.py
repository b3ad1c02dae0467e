"""The curate-vggsound flow end to end under Prefect's test harness, and its CLI."""

import asyncio
import shutil
import subprocess
import sys

import pandas as pd
import pytest


@pytest.fixture
def small_folder(tmp_path, media_dir):
    folder = tmp_path / "videos"
    (folder / "hitting").mkdir(parents=True)
    (folder / "movie").mkdir()
    shutil.copy(media_dir / "hitting_metal.mp4", folder / "hitting" / "metal.mp4")
    shutil.copy(media_dir / "issue-134-rotate.mp4", folder / "movie" / "rotated.mp4")
    (folder / "movie" / "broken.mp4").write_bytes(b"\x00" * 1000)
    return folder


@pytest.mark.slow
def test_flow_writes_manifests_and_publishes_artifacts(prefect_api, small_folder, tmp_path):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    from flows.curate import curate_vggsound

    config = tmp_path / "config.yaml"
    config.write_text("min_clips_per_class: 1\nbatch_size: 2\n")
    out = tmp_path / "out"
    summary = curate_vggsound(videos=str(small_folder), out=str(out), config=str(config))
    assert summary["videos"] == 3 and summary["videos_ok"] == 2
    videos = pd.read_parquet(out / "videos.parquet")
    assert videos.set_index("status").loc["failed", "reason"] == "not_a_video"
    assert len(pd.read_parquet(out / "avsync_ac.parquet")) == summary["avsync_ac_clips"] > 0

    async def artifact_keys():
        async with get_client() as client:
            found = await client.read_artifacts(artifact_filter=ArtifactFilter(
                key=ArtifactFilterKey(any_=["curation-pass-rates", "curation-progress", "curation-manifests"])))
            return {a.key: a for a in found}

    artifacts = asyncio.run(artifact_keys())
    assert set(artifacts) == {"curation-pass-rates", "curation-progress", "curation-manifests"}
    assert artifacts["curation-progress"].data == 100.0

    # A second run over the same folder resumes: nothing left to do, same manifests.
    before = pd.read_parquet(out / "windows.parquet")
    again = curate_vggsound(videos=str(small_folder), out=str(out), config=str(config))
    assert again["windows"] == summary["windows"]
    pd.testing.assert_frame_equal(pd.read_parquet(out / "windows.parquet"), before)


def test_cli_help_lists_the_flow_parameters():
    result = subprocess.run([sys.executable, "-m", "flows.curate", "--help"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    for option in ("--csv", "--url-template", "--videos", "--out", "--config", "--classes", "--limit"):
        assert option in result.stdout


def test_cli_rejects_missing_sources():
    result = subprocess.run([sys.executable, "-m", "flows.curate", "--out", "x"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "exactly one of --csv or --videos" in result.stderr


@pytest.mark.slow
def test_flow_downloads_from_a_csv_through_a_url_template(prefect_api, mirror, tmp_path):
    from flows.curate import curate_vggsound

    base, requests = mirror
    csv = tmp_path / "vggsound.csv"
    csv.write_text("clipA_1-x,0,hitting metal,train\nmissingVid,0,hitting metal,train\n"
                   '"-bad id;",0,hitting metal,test\nclipB,2,hitting metal,test\n')
    config = tmp_path / "config.yaml"
    config.write_text("min_clips_per_class: 1\ndownload: {retries: 0, socket_timeout_s: 5, clip_s: 4.0}\n")
    out = tmp_path / "out"
    summary = curate_vggsound(csv=str(csv), url_template=base + "/{ytid}.mp4", out=str(out), config=str(config))
    videos = pd.read_parquet(out / "videos.parquet").set_index("video_id")
    assert videos.loc["clipA_1-x_000000", "status"] == "ok"
    assert videos.loc["clipB_000002", "status"] == "ok"
    assert videos.loc["clipB_000002", "duration_s"] == pytest.approx(4.0, abs=0.6)  # a 4 s section
    assert videos.loc["missingVid_000000", "reason"] == "download_failed"
    assert "404" in videos.loc["missingVid_000000", "detail"]
    assert videos.loc["-bad id;_0", "reason"] == "unsafe_id"
    assert summary["videos_ok"] == 2
    assert (out / "media" / "download-archive.txt").read_text().count("generic") == 2
    assert not any("bad" in r for r in requests)


@pytest.fixture
def slot_probe():
    """A registered metric that records how many of its calls hold the device at once. Each call
    waits (up to 6 s) for a second one to join it, so two unbounded batches always overlap."""
    import threading
    import time

    import numpy as np

    from curation.metrics import _REGISTRY, register_batched
    from curation.metrics.neural_scoring import holding_device

    state = {"active": 0, "most": 0}
    lock = threading.Lock()

    @register_batched("slot_probe_for_tests", ["slot_probe"])
    def probe(videos, **_):
        with holding_device():
            with lock:
                state["active"] += 1
                state["most"] = max(state["most"], state["active"])
            deadline = time.monotonic() + 6.0
            while state["most"] < 2 and time.monotonic() < deadline:
                time.sleep(0.05)
            with lock:
                state["active"] -= 1
        return [{"slot_probe": np.ones(len(video.windows))} for video in videos]

    yield state
    _REGISTRY.pop("slot_probe_for_tests")


@pytest.mark.slow
@pytest.mark.parametrize("gpu_slots", [1, 2])
def test_neural_scoring_holds_the_gpu_concurrency_limit(prefect_api, small_folder, tmp_path, slot_probe, gpu_slots):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate

    from flows.curate import curate_vggsound

    with get_client(sync_client=True) as client:
        client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name="gpu", limit=gpu_slots))
    try:
        config = tmp_path / "config.yaml"
        config.write_text("min_clips_per_class: 1\nbatch_size: 1\nmetrics: [pixel, amplitude, slot_probe_for_tests]\n")
        summary = curate_vggsound(videos=str(small_folder), out=str(tmp_path / "out"), config=str(config))
    finally:
        with get_client(sync_client=True) as client:
            client.delete_global_concurrency_limit_by_name("gpu")
    assert summary["videos_ok"] == 2
    # The flow's two task threads score concurrently; the `gpu` limit lets only `gpu_slots` hold the device.
    assert slot_probe["most"] == gpu_slots
