"""Support for the pipeline tests: the small generated source with its micro config, and a real
local Prefect server (subprocesses on 127.0.0.1) with its CLI and a JSON client."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PREFECT = str(Path(sys.executable).parent / "prefect")

# Over the pipeline's `tiny` preset: smaller still, so the whole DAG runs in minutes on 2 shared cores.
MICRO_CONFIG = """\
sync:
  max_steps: 1
  settings:
    model: {audio_widths: [4, 8, 8, 16], video_widths: [4, 8, 8, 16], head_width: 16, image_size: 32}
    train: {batch_size: 1, eval_videos: 1, warmup_steps: 0}
avsyncd:
  max_steps: 1
  sample_steps: 1
  overrides: ["train.eval_clips=1", "train.batch_size=1", "train.grad_accum=1"]
evaluate:
  overrides: {clips_per_video: 1, steps: 1, bootstrap: 10, bootstrap_frechet: 0, report_samples: 1}
"""


def write_pipeline_source(root: Path) -> tuple[Path, Path]:
    """Two classes × two generated videos (clean shots, hard cuts) under root/videos, and the
    micro config root/micro.yaml."""
    from curation.sources.demo_set import make_demo_set
    from curation.sources.synthetic import DEMO_CLASSES

    make_demo_set(root / "videos", seed=0, videos_per_class=2, size=(128, 96),
                  classes={name: DEMO_CLASSES[name] for name in ("drum_hitting", "hammering")})
    (root / "micro.yaml").write_text(MICRO_CONFIG)
    return root / "videos", root / "micro.yaml"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_healthy(url: str, process: subprocess.Popen, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"prefect server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"{url} not healthy after {timeout_s} s")


def stop(process: subprocess.Popen) -> None:
    """SIGTERM the process group (server, worker and what they started), SIGKILL after 20 s."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


class LocalPrefect:
    """`prefect server start` on a free 127.0.0.1 port with its own PREFECT_HOME, plus the CLI
    (`run`), long-running children (`start`, logs under `logs/`) and GET/POST on its API."""

    def __init__(self, root: Path):
        self.port = free_port()
        self.api = f"http://127.0.0.1:{self.port}/api"
        self.env = dict(os.environ, PREFECT_HOME=str(root / "home"), PREFECT_API_URL=self.api,
                        PREFECT_SERVER_ANALYTICS_ENABLED="false", PREFECT_CLI_PROMPT="false",
                        COLUMNS="250")  # wide enough that rich never truncates deployment names
        self.logs = root / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.started: list[subprocess.Popen] = []

    def start(self, name: str, *args: str) -> subprocess.Popen:
        process = subprocess.Popen([PREFECT, *args], cwd=REPO, env=self.env, start_new_session=True,
                                   stdout=open(self.logs / f"{name}.log", "w"), stderr=subprocess.STDOUT)
        self.started.append(process)
        return process

    def run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run([PREFECT, *args], cwd=REPO, env=self.env, capture_output=True, text=True, timeout=timeout)

    def serve(self, timeout_s: float = 300) -> "LocalPrefect":
        server = self.start("server", "server", "start", "--host", "127.0.0.1", "--port", str(self.port))
        wait_healthy(f"{self.api}/health", server, timeout_s)
        return self

    def call(self, path: str, body: dict | None = None):
        """GET `path` of the API (POST `body` as JSON when given) → the decoded JSON answer."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.api + path, data=data, method="GET" if body is None else "POST",
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"null")

    def log(self, name: str, tail: int = 3000) -> str:
        path = self.logs / f"{name}.log"
        return path.read_text(errors="replace")[-tail:] if path.is_file() else ""

    def stop_all(self) -> None:
        for process in reversed(self.started):
            stop(process)
        self.started.clear()
        # A worker starts each flow run in a session of its own: after a failure some may be left
        # (a paused run, its review page). Only processes pointed at this server are ended.
        mark = f"PREFECT_API_URL={self.api}".encode()
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit() and int(entry.name) != os.getpid():
                try:
                    if mark in (entry / "environ").read_bytes().split(b"\0"):
                        os.kill(int(entry.name), signal.SIGKILL)
                except OSError:
                    pass
