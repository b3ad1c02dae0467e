"""Issue 15: shards on a real local Prefect server with two process workers give the thread runner's
manifests, and both workers take shards."""

import re

import pytest

from tests.flows.pipeline_support import LocalPrefect
from tests.flows.test_curate_ray import _manifests, _same_manifests
from tests.flows.test_curate_shards import folder  # noqa: F401 (a fixture)

WORKERS = ("shard-worker-1", "shard-worker-2")


@pytest.mark.slow
def test_shards_on_two_process_workers_give_the_thread_runners_manifests(folder, tmp_path):  # noqa: F811
    """`prefect server start`, the `asva-local` process pool, the shard deployment registered from
    prefect.yaml (`prefect deploy`: this checkout, this virtualenv), two workers taking one run at a
    time; the parent runs here, against that server."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from flows.curate import curate_vggsound, curate_vggsound_sharded

    config = tmp_path / "config.yaml"
    config.write_text("min_clips_per_class: 1\nbatch_size: 1\n")
    prefect = LocalPrefect(tmp_path / "server")
    prefect.env["PREFECT_WORKER_QUERY_SECONDS"] = "1"  # a free worker picks up a shard within a second
    try:
        prefect.serve(timeout_s=120)
        created = prefect.run("work-pool", "create", "asva-local", "--type", "process")
        assert created.returncode == 0, created.stdout + created.stderr
        deployed = prefect.run("--no-prompt", "deploy", "--name", "curate-vggsound-shard")
        assert deployed.returncode == 0, deployed.stdout + deployed.stderr
        for name in WORKERS:
            prefect.start(name, "worker", "start", "--pool", "asva-local", "--type", "process", "--name", name,
                          "--limit", "1")
        with temporary_settings(updates={PREFECT_API_URL: prefect.api}):
            _wait_for_workers(prefect)
            whole = curate_vggsound(videos=str(folder), out=str(tmp_path / "one"), config=str(config))
            summary = curate_vggsound_sharded(videos=str(folder), out=str(tmp_path / "shards"), config=str(config),
                                              n_shards=3, max_queued_shards=3, poll_seconds=0.5)
            # This process's logs and events sent now, while the server is up (not retried at exit).
            APILogWorker.drain_all(timeout=30)
            EventsWorker.drain_all(timeout=30)
        shard_runs = {run["id"]: run for run in prefect.call("/flow_runs/filter", {
            "deployments": {"name": {"any_": ["curate-vggsound-shard"]}}})}
    finally:
        prefect.stop_all()

    assert summary == whole and summary["videos"] == 4
    _same_manifests(_manifests(tmp_path / "shards"), _manifests(tmp_path / "one"))
    assert len(shard_runs) == 3 and all(run["state_type"] == "COMPLETED" for run in shard_runs.values())
    taken = {name: set(re.findall(r"submitting flow run '([0-9a-f-]+)'", prefect.log(name, tail=10**7)))
             for name in WORKERS}
    assert taken[WORKERS[0]] | taken[WORKERS[1]] == set(shard_runs), taken
    assert all(taken.values()), f"one worker took every shard: {taken}"


def _wait_for_workers(prefect: LocalPrefect, timeout_s: float = 60) -> None:
    """Both workers have polled the pool, so neither gets every shard by starting first."""
    import time

    deadline = time.monotonic() + timeout_s
    while {worker["name"] for worker in prefect.call("/work_pools/asva-local/workers/filter", {})} != set(WORKERS):
        assert time.monotonic() < deadline, prefect.log(WORKERS[0]) + prefect.log(WORKERS[1])
        time.sleep(0.5)
