"""The asva-pipeline parent flow end to end under Prefect (a temporary API) on a small generated set
with tiny presets and automatic acceptance: every stage in order with its output and artifact, a
rerun that does no work, and a run killed (SIGKILL) during the PSync pass whose rerun gives the
manifests of the uninterrupted run."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from curation import stages
from tests.flows.pipeline_support import REPO, write_pipeline_source

pytestmark = pytest.mark.slow

MANIFESTS = ("windows.parquet", "clips.parquet", "avsync_ac.parquet")


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    return write_pipeline_source(tmp_path_factory.mktemp("pipeline-source"))


@pytest.fixture(scope="module")
def finished_run(prefect_api, source, tmp_path_factory):
    """One uninterrupted run, with the `gpu` concurrency limit in place (1 slot) and the PSync
    encoder watched: (out, markers, gpu slots seen busy while the classifier ran)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate

    from flows.pipeline import asva_pipeline
    from sync_classifier.model import SyncClassifier

    videos, config = source
    out = tmp_path_factory.mktemp("pipeline") / "run"
    busy_slots: list[int] = []
    encode_audio = SyncClassifier.encode_audio

    def watched(self, fbank):
        # During the PSync pass only (not the classifier's training, nor RelSync in the evaluation).
        if (out / "psync").exists() and not (out / "stages" / "psync.json").exists():
            with get_client(sync_client=True) as client:
                busy_slots.append(client.read_global_concurrency_limit_by_name("gpu").active_slots)
        return encode_audio(self, fbank)

    with get_client(sync_client=True) as client:
        client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name="gpu", limit=1))
    SyncClassifier.encode_audio = watched
    try:
        markers = asva_pipeline(out=str(out), videos=str(videos), preset="tiny", config=str(config), auto_accept=True)
    finally:
        SyncClassifier.encode_audio = encode_audio
        with get_client(sync_client=True) as client:
            client.delete_global_concurrency_limit_by_name("gpu")
    return out, markers, busy_slots


def _flow_run_count() -> int:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        return client.count_flow_runs()


def test_every_stage_runs_in_order_and_leaves_its_output(finished_run):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    out, markers, busy_slots = finished_run
    layout = stages.RunLayout(out)
    assert list(markers) == list(stages.STAGES) and not any(m.get("skipped") for m in markers.values())
    finished = [layout.marker(name).stat().st_mtime_ns for name in stages.STAGES]
    assert finished == sorted(finished)  # each stage's marker after the one before
    for name in stages.STAGES:
        assert all(path.exists() for path in layout.outputs(name)), name

    # PSync was scored on the ledger's passing windows only, holding the `gpu` slot.
    assert busy_slots and set(busy_slots) == {1}
    curated = pd.read_parquet(out / "curated" / "windows.parquet")
    scored = pd.read_parquet(out / "psync" / "windows.parquet")
    assert len(scored) == len(curated)
    merged = curated.merge(scored, on=["video_id", "window_index"], suffixes=("", "_psync"))
    assert merged["psync"].notna().equals(merged["passed"].astype(bool))
    assert (merged["pixel_diff_mean"] == merged["pixel_diff_mean_psync"]).all()  # copied, not recomputed
    assert not (out / "psync" / "media").exists()  # nothing downloaded again

    avsync15 = pd.read_parquet(out / "avsync15.parquet")
    assert set(avsync15["split"]) == {"train", "test"} and (avsync15["reviewer"] == "auto-accept").all()
    assert markers["sync"]["result"]["chance"] == pytest.approx(11 / 31)
    summary = json.loads((out / "eval" / "summary.json").read_text())
    assert summary["clips"] == int((avsync15["split"] == "test").sum())
    assert "static" in summary["row_order"] and len(summary["row_order"]) == 3  # ground truth, Static, AVSyncD
    with get_client(sync_client=True) as client:
        keys = {a.key for a in client.read_artifacts(artifact_filter=ArtifactFilter(
            key=ArtifactFilterKey(any_=[f"stage-{name}" for name in stages.STAGES])))}
    assert keys == {f"stage-{name}" for name in stages.STAGES}


def test_a_second_run_does_no_work(finished_run, source):
    from flows.pipeline import asva_pipeline

    out, first, _ = finished_run
    videos, config = source
    before = _flow_run_count()
    started = time.perf_counter()
    again = asva_pipeline(out=str(out), videos=str(videos), preset="tiny", config=str(config), auto_accept=True)
    assert all(marker.get("skipped") for marker in again.values())
    assert {k: m["key"] for k, m in again.items()} == {k: m["key"] for k, m in first.items()}
    assert _flow_run_count() == before + 1  # the parent only: no stage flow ran
    assert time.perf_counter() - started < 60


def test_a_run_killed_in_the_psync_pass_resumes_to_the_same_manifests(finished_run, source, tmp_path):
    """Stages 1–2 copied from the finished run (so the same classifier scores), then the CLI is
    killed with SIGKILL once the PSync pass has committed its first batch; the rerun skips stages
    1–2, scores only what is left and ends with the uninterrupted run's manifests."""
    from prefect.settings import PREFECT_API_URL

    from flows.pipeline import asva_pipeline

    finished, _, _ = finished_run
    videos, config = source
    out = tmp_path / "run"
    shutil.copytree(finished / "curated", out / "curated")
    shutil.copytree(finished / "sync", out / "sync")
    (out / "stages").mkdir()
    for name in ("curate", "sync"):
        shutil.copy(finished / "stages" / f"{name}.json", out / "stages" / f"{name}.json")
    env = dict(os.environ, PREFECT_API_URL=PREFECT_API_URL.value())
    command = [sys.executable, "-m", "flows.pipeline", "--videos", str(videos), "--out", str(out), "--preset", "tiny",
               "--config", str(config), "--auto-accept", "--until", "psync"]
    process = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    ledger = out / "psync" / "ledger"
    deadline = time.monotonic() + 300
    try:
        while not list(ledger.glob("*.videos.parquet")) and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.05)
        committed = len(list(ledger.glob("*.videos.parquet")))
        os.killpg(process.pid, signal.SIGKILL)
    finally:
        process.wait()
    n_videos = len(pd.read_parquet(out / "curated" / "videos.parquet"))
    assert 1 <= committed < n_videos, "the kill should land mid-pass"
    assert not (out / "stages" / "psync.json").exists()

    markers = asva_pipeline(out=str(out), videos=str(videos), preset="tiny", config=str(config), auto_accept=True,
                            until="export")
    assert markers["curate"].get("skipped") and markers["sync"].get("skipped")
    assert not markers["psync"].get("skipped")
    for name in MANIFESTS:
        pd.testing.assert_frame_equal(pd.read_parquet(out / "psync" / name), pd.read_parquet(finished / "psync" / name))
    ours, theirs = (pd.read_parquet(path / "avsync15.parquet").drop(columns="reviewed_at") for path in (out, finished))
    pd.testing.assert_frame_equal(ours, theirs)
