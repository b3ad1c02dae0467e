"""Issue 15, failure handling at scale, on real processes: a Ray worker running a batch task or a
shard's flow-run process SIGKILLed mid-batch, a sharded parent kill -9'd, the Prefect server
restarted mid-run. Each time the run, or a rerun, gives the manifests of an uninterrupted
thread-runner run on the same generated input.

A process is killed "mid-batch" when it holds one of the source videos open (PyAV decodes
in-process) and that video has no committed row yet; the tests check both at the moment of the
kill, that the process is gone, and that the video was committed afterwards (the batch ran again)."""

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from curation import manifest
from curation.sources.collect import collect_items
from tests.flows.pipeline_support import REPO, LocalPrefect, stop, wait_healthy, write_pipeline_source
from tests.flows.test_curate_failures import _state
from tests.flows.test_curate_ray import _manifests, _same_manifests, ray_teardown  # noqa: F401 (a fixture)

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no usage report from a test cluster


@dataclass
class Killed:
    pid: int
    title: str  # the process's command line (a Ray worker shows the task it runs: `ray::curate-batch`)
    flow_run_id: str | None  # PREFECT__FLOW_RUN_ID of a flow-run process started by a runner
    video_id: str  # the source video it had open
    was_committed: bool  # that video's row was in the ledger before the kill


def _kill_when_decoding(videos: Path, out: Path, killed: list[Killed], timeout_s: float = 150) -> None:
    """SIGKILL the first descendant of this process seen holding a file of `videos` open; append
    what it was to `killed` (nothing if none was seen within `timeout_s`)."""
    ids = {str(Path(item.path).resolve()): item.video_id for item in collect_items(videos=str(videos))}
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for process in psutil.Process().children(recursive=True):
            try:
                opened = [ids[f.path] for f in process.open_files() if f.path in ids]
                if not opened:
                    continue
                title, environ = " ".join(process.cmdline()), process.environ()
                committed = opened[0] in manifest.done_video_ids(out, include_retryable=True)
                process.send_signal(signal.SIGKILL)
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                continue  # it finished meanwhile: wait for the next one
            process.wait(timeout=30)  # reaped by its parent (a zombie until then)
            killed.append(Killed(process.pid, title, environ.get("PREFECT__FLOW_RUN_ID"), opened[0], committed))
            return
        time.sleep(0.01)


def _killer(videos: Path, out: Path) -> tuple[threading.Thread, list[Killed]]:
    killed: list[Killed] = []
    thread = threading.Thread(target=_kill_when_decoding, args=(videos, out, killed), daemon=True)
    thread.start()
    return thread, killed


@pytest.fixture
def source(tmp_path):
    """Four generated videos (6–12 s, 128×96) in two classes, in batches of two; a config that keeps
    every class."""
    videos, _ = write_pipeline_source(tmp_path / "source")
    config = tmp_path / "config.yaml"
    config.write_text("min_clips_per_class: 1\nbatch_size: 2\n")
    return videos, str(config)


@pytest.mark.slow
def test_a_ray_worker_killed_mid_batch_is_retried_and_the_run_gives_the_thread_manifests(prefect_api, source,
                                                                                           tmp_path, ray_teardown):
    """Ray reruns a task whose worker died (`max_retries` in the flow's remote options); Prefect's
    own retries never see it (nothing raises in the task engine). The rerun redoes the batch's
    uncommitted videos from the ledger, so no result persistence is needed."""
    from flows.curate import curate_vggsound, ray_task_runner

    videos, config = source
    threads = curate_vggsound(videos=str(videos), out=str(tmp_path / "threads"), config=config)
    out = tmp_path / "ray"
    killer, killed = _killer(videos, out)
    on_ray = curate_vggsound.with_options(task_runner=ray_task_runner(num_cpus=2))
    summary = on_ray(videos=str(videos), out=str(out), config=config, max_in_flight=2, ray_cpus=1)
    killer.join(timeout=30)
    assert len(killed) == 1, "no Ray worker was seen decoding a video"
    victim = killed[0]
    assert victim.title.startswith("ray::curate-batch") and not victim.was_committed
    assert not psutil.pid_exists(victim.pid)
    assert victim.video_id in manifest.done_video_ids(out)  # committed after the kill: the batch ran again
    assert summary == threads and summary["videos_ok"] == 4 and summary["clips"] > 0
    _same_manifests(_manifests(out), _manifests(tmp_path / "threads"))


@pytest.mark.slow
def test_a_shard_run_killed_mid_batch_then_a_rerun_gives_one_runs_manifests(prefect_api, shard_runner, source,
                                                                              tmp_path):
    from flows.curate import ShardsFailed, curate_vggsound, curate_vggsound_sharded

    videos, config = source
    whole = curate_vggsound(videos=str(videos), out=str(tmp_path / "one"), config=config)
    out = tmp_path / "shards"
    sharded = dict(videos=str(videos), out=str(out), config=config, n_shards=2, max_queued_shards=2,
                   poll_seconds=0.5)
    killer, killed = _killer(videos, out)
    with pytest.raises(ShardsFailed, match="1 of 2 shards did not finish .*CRASHED"):
        curate_vggsound_sharded(**sharded, shard_retries=0)  # no retry: the rerun below has to finish it
    killer.join(timeout=30)
    assert len(killed) == 1, "no shard process was seen decoding a video"
    victim = killed[0]
    assert victim.flow_run_id and not victim.was_committed and not psutil.pid_exists(victim.pid)
    assert _state(victim.flow_run_id) == "CRASHED"  # the runner saw its process die
    assert victim.video_id not in manifest.done_video_ids(out)

    summary = curate_vggsound_sharded(**sharded)
    assert victim.video_id in manifest.done_video_ids(out)
    assert summary == whole and summary["videos_ok"] == 4
    _same_manifests(_manifests(out), _manifests(tmp_path / "one"))


@pytest.mark.slow
def test_a_kill_9_sharded_parent_is_marked_crashed_by_the_rerun_which_gives_one_runs_manifests(
        prefect_api, shard_runner, source, tmp_path):
    """The parent runs as its own process and submits its shards to a deployment nobody serves
    (they stay Scheduled, so nothing of it runs on after the kill); the rerun on the same `out`
    marks it Crashed and curates everything through the served shard deployment."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId
    from prefect.settings import PREFECT_API_URL

    from flows.curate import curate_vggsound, curate_vggsound_sharded

    videos, config = source
    whole = curate_vggsound(videos=str(videos), out=str(tmp_path / "one"), config=config)
    out = tmp_path / "shards"
    sharded = dict(videos=str(videos), out=str(out), config=config, n_shards=2, poll_seconds=0.5)
    unserved = curate_vggsound.to_deployment(name="curate-vggsound-unserved").apply()
    parent = subprocess.Popen(
        [sys.executable, "-c", "import json, sys; from flows.curate import curate_vggsound_sharded as f; "
                               "f(**json.loads(sys.argv[1]))",
         json.dumps(sharded | {"shard_deployment": "curate-vggsound/curate-vggsound-unserved"})],
        cwd=REPO, env=dict(os.environ, PREFECT_API_URL=PREFECT_API_URL.value()), stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        submitted = DeploymentFilter(id=DeploymentFilterId(any_=[unserved]))
        with get_client(sync_client=True) as client:  # killed once it has recorded itself and submitted a shard
            while not ((out / ".flow_run.json").exists() and client.read_flow_runs(deployment_filter=submitted)):
                assert parent.poll() is None, parent.stderr.read().decode()[-2000:]
                assert time.monotonic() < deadline, "the parent never submitted a shard"
                time.sleep(0.1)
        parent_id = json.loads((out / ".flow_run.json").read_text())["flow_run_id"]
        parent.send_signal(signal.SIGKILL)
        assert parent.wait(timeout=30) == -signal.SIGKILL
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
    assert _state(parent_id) == "RUNNING"  # nobody told the API

    summary = curate_vggsound_sharded(**sharded)
    assert _state(parent_id) == "CRASHED"
    assert summary == whole and summary["videos_ok"] == 4
    _same_manifests(_manifests(out), _manifests(tmp_path / "one"))


@pytest.mark.slow
def test_the_prefect_server_restarted_mid_run_then_a_rerun_gives_one_runs_manifests(prefect_api, source, tmp_path):
    """`python -m flows.curate` on a real `prefect server start`; once the first batch has committed,
    the server is stopped and started again on the same port and database. The run either rides it
    out or ends; either way a rerun on the same `out` gives the uninterrupted run's manifests."""
    from flows.curate import curate_vggsound

    videos, config = source
    for video in list(videos.glob("*/*.mp4")):  # 16 videos at one per batch: a run of seconds, not one
        for copy in range(3):
            shutil.copy(video, video.with_name(f"{video.stem}_copy{copy}.mp4"))
    whole = curate_vggsound(videos=str(videos), out=str(tmp_path / "one"), config=config, batch_size=1)
    out = tmp_path / "restarted"
    prefect = LocalPrefect(tmp_path / "server")
    command = [sys.executable, "-m", "flows.curate", "--videos", str(videos), "--out", str(out), "--config", config,
               "--batch-size", "1"]
    try:
        server = prefect.serve(timeout_s=120).started[0]
        run = subprocess.Popen(command, cwd=REPO, env=prefect.env, start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=open(prefect.logs / "run.log", "w"))
        prefect.started.append(run)
        deadline = time.monotonic() + 120
        while not manifest.done_video_ids(out, include_retryable=True):
            assert run.poll() is None, prefect.log("run")
            assert time.monotonic() < deadline, "no batch committed"
            time.sleep(0.05)
        stop(server)
        assert run.poll() is None and len(manifest.done_video_ids(out, include_retryable=True)) < 16  # mid-run
        restarted = prefect.start("server-again", "server", "start", "--host", "127.0.0.1", "--port", str(prefect.port))
        wait_healthy(f"{prefect.api}/health", restarted, timeout_s=120)
        try:
            run.wait(timeout=120)
        except subprocess.TimeoutExpired:
            stop(run)  # hung on the lost API: as good as killed, the rerun takes over
        rerun = subprocess.run(command, cwd=REPO, env=prefect.env, capture_output=True, text=True, timeout=180)
        assert rerun.returncode == 0, rerun.stderr[-3000:]
    finally:
        prefect.stop_all()
    _same_manifests(_manifests(out), _manifests(tmp_path / "one"))
    assert whole["videos_ok"] == 16
