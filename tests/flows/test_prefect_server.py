"""The documented server workflow, for real: server → pool → deploy → worker → deployment run."""

import os
import shutil
import subprocess

import pandas as pd
import pytest

from tests.flows.pipeline_support import PREFECT, REPO
from tests.flows.pipeline_support import free_port as _free_port
from tests.flows.pipeline_support import stop as _stop
from tests.flows.pipeline_support import wait_healthy as _wait_healthy


@pytest.mark.slow
def test_deployment_run_curates_on_a_local_server_and_process_worker(tmp_path, media_dir):
    port = _free_port()
    env = dict(os.environ, PREFECT_HOME=str(tmp_path / "home"), PREFECT_API_URL=f"http://127.0.0.1:{port}/api",
               PREFECT_SERVER_ANALYTICS_ENABLED="false", PREFECT_CLI_PROMPT="false",
               COLUMNS="250")  # wide enough that rich never truncates deployment names
    videos = tmp_path / "videos"
    (videos / "hitting").mkdir(parents=True)
    shutil.copy(media_dir / "hitting_metal.mp4", videos / "hitting" / "metal.mp4")
    (videos / "hitting" / "broken.mp4").write_bytes(b"not a video")
    out = tmp_path / "out"
    logs = tmp_path / "logs"
    logs.mkdir()
    started: list[subprocess.Popen] = []

    def start(name: str, *args: str) -> subprocess.Popen:
        process = subprocess.Popen([PREFECT, *args], cwd=REPO, env=env, start_new_session=True,
                                   stdout=open(logs / f"{name}.log", "w"), stderr=subprocess.STDOUT)
        started.append(process)
        return process

    def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run([PREFECT, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)

    try:
        server = start("server", "server", "start", "--host", "127.0.0.1", "--port", str(port))
        _wait_healthy(f"http://127.0.0.1:{port}/api/health", server, timeout_s=120)
        # The steps of `make deploy`: both pools, the `gpu` concurrency limit, every deployment.
        for pool in ("asva-local", "asva-gpu"):
            assert run("work-pool", "create", pool, "--type", "process", "--overwrite").returncode == 0
        assert run("gcl", "create", "gpu", "--limit", "1").returncode == 0
        deployed = run("--no-prompt", "deploy", "--all")
        assert deployed.returncode == 0, deployed.stdout + deployed.stderr
        listed = run("deployment", "ls").stdout
        assert all(name in listed for name in ("curate-vggsound-gpu", "train-sync-classifier", "train-avsyncd"))
        start("worker", "worker", "start", "--pool", "asva-local")
        result = run("deployment", "run", "curate-vggsound/curate-vggsound", "--param", f"videos={videos}",
                     "--param", f"out={out}", "--watch", "--watch-timeout", "400", timeout=450)
        assert result.returncode == 0, result.stdout + result.stderr + (logs / "worker.log").read_text()[-3000:]
    finally:
        for process in reversed(started):
            _stop(process)

    videos_table = pd.read_parquet(out / "videos.parquet")
    assert sorted(videos_table.status) == ["failed", "ok"]
    assert videos_table.set_index("status").loc["failed", "reason"] == "not_a_video"
    assert len(pd.read_parquet(out / "windows.parquet")) > 0
