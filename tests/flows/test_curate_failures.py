"""Regressions of issue 14 for the curate flow and its CLI: arguments checked before any work
(one line, exit code 2), and a batch that cannot be recorded fails the run instead of vanishing."""

import subprocess
import sys
import time

import pytest

from flows.curate import main


@pytest.fixture
def folder(one_video_folder):
    return one_video_folder


@pytest.mark.parametrize("args, message", [
    (["--videos", "{tmp}/missing"], "--videos {tmp}/missing: no such folder"),
    (["--videos", "{folder}", "--out", "{file}"], "--out {file}: exists and is not a folder"),
    (["--videos", "{folder}", "--batch-size", "0"], "--batch-size must be at least 1 (got 0)"),
    (["--videos", "{folder}", "--batch-size", "-1"], "--batch-size must be at least 1 (got -1)"),
    (["--videos", "{folder}", "--limit", "-1"], "--limit must be 0 or more (got -1)"),
    (["--videos", "{folder}", "--set", "metrics=[pixel,amplitud]"], "unknown metric(s) ['amplitud']"),
])
def test_bad_arguments_give_one_line_and_exit_code_2(tmp_path, folder, capsys, args, message):
    file = tmp_path / "a_file"
    file.write_text("x")
    fill = {"tmp": tmp_path, "folder": folder, "file": file}
    with pytest.raises(SystemExit) as exit_:
        main([a.format(**fill) for a in args] + ([] if "--out" in args else ["--out", str(tmp_path / "out")]))
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert message.format(**fill) in err[-1] and "Traceback" not in "\n".join(err)
    assert not (tmp_path / "out").exists()


def test_the_cli_process_refuses_a_missing_folder(tmp_path):
    result = subprocess.run([sys.executable, "-m", "flows.curate", "--videos", str(tmp_path / "nope"),
                             "--out", str(tmp_path / "out")], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "no such folder" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow
def test_a_batch_that_cannot_be_recorded_fails_the_run_at_once(prefect_api, folder, tmp_path):
    from flows.curate import BatchesLost, curate_vggsound

    out = tmp_path / "out"
    out.mkdir()
    (out / "ledger").write_text("not a folder")  # every ledger write fails with a real OSError, like a full disk
    started = time.monotonic()
    with pytest.raises(BatchesLost, match="1 of 1 batches were not recorded"):
        curate_vggsound(videos=str(folder), out=str(out))
    assert time.monotonic() - started < 10  # not retried after 10 s + 60 s: a retry cannot fix it


def _start_curate(folder, out):
    """`python -m flows.curate` as its own process on the session's Prefect API; returns once the
    run has recorded itself in `out` (it is Running), with its flow-run id."""
    import json
    import os

    from prefect.settings import PREFECT_API_URL

    env = dict(os.environ, PREFECT_API_URL=PREFECT_API_URL.value())
    process = subprocess.Popen([sys.executable, "-m", "flows.curate", "--videos", str(folder), "--out", str(out),
                                "--batch-size", "1"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    record = out / ".flow_run.json"
    deadline = time.monotonic() + 120
    while not record.exists():
        assert process.poll() is None, process.stderr.read().decode()[-2000:]
        assert time.monotonic() < deadline, "the run never recorded itself"
        time.sleep(0.05)
    return process, json.loads(record.read_text())["flow_run_id"]


def _state(flow_run_id):
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        return client.read_flow_run(flow_run_id).state.type.value


@pytest.fixture
def slow_folder(one_video_folder):
    """Eight real videos at one per batch, so a run is still working when the test signals it."""
    import shutil

    clip = one_video_folder / "hits" / "metal.mp4"
    for i in range(7):
        shutil.copy(clip, clip.with_name(f"metal_{i}.mp4"))
    return one_video_folder


@pytest.mark.slow
def test_sigterm_ends_the_flow_run_crashed_not_running(prefect_api, slow_folder, tmp_path):
    import signal

    process, run_id = _start_curate(slow_folder, tmp_path / "out")
    try:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) != 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert _state(run_id) in ("CRASHED", "CANCELLED")


@pytest.mark.slow
def test_a_kill_9_run_is_marked_crashed_by_the_next_run_on_the_same_out(prefect_api, slow_folder, tmp_path):
    import signal

    from flows.curate import curate_vggsound

    out = tmp_path / "out"
    process, run_id = _start_curate(slow_folder, out)
    try:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert _state(run_id) == "RUNNING"  # nobody told the API
    summary = curate_vggsound(videos=str(slow_folder), out=str(out))
    assert _state(run_id) == "CRASHED"
    assert summary["videos_ok"] == 8  # the rerun finished the killed run's work
