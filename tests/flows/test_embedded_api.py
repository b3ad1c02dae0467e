"""Regression (issue 14, defect 5): the embedded Prefect API gets a sane start-up budget, and a
kill -9 of the flow process does not leave it running without a parent."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _api_children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid and b"prefect.server.api.server:create_app" in cmdline:
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.slow
def test_kill_9_of_the_flow_process_takes_the_embedded_api_with_it(tmp_path):
    script = textwrap.dedent("""
        import time, flows, os
        from prefect import flow
        assert os.environ["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"] == "120"
        @flow
        def wait():
            print("running", flush=True)
            time.sleep(120)
        wait()
    """)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env |= {"PREFECT_HOME": str(tmp_path / "home"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    process = subprocess.Popen([sys.executable, "-c", script], cwd=REPO, env=env, stdout=subprocess.PIPE, text=True)
    children: list[int] = []
    try:
        assert process.stdout.readline().strip() == "running"  # the flow runs against the embedded API
        children = _api_children(process.pid)
        assert len(children) == 1
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        deadline = time.monotonic() + 30
        while _alive(children[0]) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _alive(children[0]), "the embedded API server outlived its parent"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for child in children:  # never leave a server behind, even when the test fails
            if _alive(child):
                os.kill(child, signal.SIGKILL)
