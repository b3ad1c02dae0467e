"""Flow tests run against one temporary Prefect API for the whole session."""

import os
import threading

import pytest


@pytest.fixture(scope="session")
def prefect_api(tmp_path_factory):
    os.environ["PREFECT_HOME"] = str(tmp_path_factory.mktemp("prefect-home"))
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture
def shard_runner(prefect_api):
    """A Prefect runner serving the shard deployment on the test API, starting each shard run in a
    process of its own (two at a time), in a thread; stopped at the end."""
    import asyncio

    from prefect.runner import Runner

    from flows.curate import curate_vggsound

    runner = Runner(limit=2)
    deployment = curate_vggsound.to_deployment(name="curate-vggsound-shard")  # outside the loop: sync call
    loop = asyncio.new_event_loop()
    registered = threading.Event()

    async def serve():
        await runner.aadd_deployment(deployment)
        registered.set()
        await runner.start()

    serving = threading.Thread(target=lambda: loop.run_until_complete(serve()), daemon=True)
    serving.start()
    assert registered.wait(timeout=120)
    yield runner
    asyncio.run_coroutine_threadsafe(runner.astop(), loop).result(timeout=60)
    serving.join(timeout=60)
