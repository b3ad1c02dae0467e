"""The pipeline as deployments on a real local Prefect server with a process worker on each pool
(`asva-local`, `asva-gpu`): the parent run pauses at the review, headless Chromium finishes the
review page, whose hook resumes the run through Prefect's API, and the run completes with its GPU
stages run by the `asva-gpu` worker. And `curate-vggsound` run with no parameters and no CSV
fails at once saying where to get the list."""

from __future__ import annotations

import re
import time

import pytest

from curation.sources.collect import VGGSOUND_CSV_URL
from tests.flows.pipeline_support import REPO, LocalPrefect, write_pipeline_source

pytestmark = pytest.mark.slow
GPU_STAGE_FLOWS = {"train-sync-classifier", "psync-pass", "train-avsyncd", "evaluate-avsyncd"}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """Server, both pools, the `gpu` limit, every deployment of prefect.yaml, a worker per pool."""
    prefect = LocalPrefect(tmp_path_factory.mktemp("prefect-server"))
    try:
        prefect.serve()
        for pool in ("asva-local", "asva-gpu"):
            assert prefect.run("work-pool", "create", pool, "--type", "process", "--overwrite").returncode == 0
        assert prefect.run("gcl", "create", "gpu", "--limit", "1").returncode == 0
        deployed = prefect.run("--no-prompt", "deploy", "--all", timeout=300)
        assert deployed.returncode == 0, deployed.stdout + deployed.stderr
        for pool in ("asva-local", "asva-gpu"):
            prefect.start(f"worker-{pool}", "worker", "start", "--pool", pool)
        yield prefect
    finally:
        prefect.stop_all()


def _state(prefect: LocalPrefect, flow_run_id: str) -> dict:
    return prefect.call(f"/flow_runs/{flow_run_id}")["state"]


def _wait_for_state(prefect: LocalPrefect, flow_run_id: str, wanted: str, timeout_s: float) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        state = _state(prefect, flow_run_id)
        if state["type"] == wanted:
            return state
        if state["type"] in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED"):
            break
        time.sleep(2)
    pytest.fail(f"flow run {flow_run_id} is {state['type']} ({state.get('message')}), not {wanted}\n"
                + prefect.log("worker-asva-local") + prefect.log("worker-asva-gpu"))


def _deployment_run(prefect: LocalPrefect, name: str, *params: str) -> str:
    args = [arg for param in params for arg in ("--param", param)]
    started = prefect.run("deployment", "run", name, *args)
    assert started.returncode == 0, started.stdout + started.stderr
    return re.search(r"UUID: ([0-9a-f-]{36})", started.stdout).group(1)


def test_parent_deployment_pauses_for_the_review_page_and_completes(server, chromium_browser, tmp_path):
    videos, config = write_pipeline_source(tmp_path)
    out = tmp_path / "run"
    run_id = _deployment_run(server, "asva-pipeline/asva-pipeline", f"videos={videos}", f"out={out}", "preset=tiny",
                             f"config={config}")
    paused = _wait_for_state(server, run_id, "PAUSED", timeout_s=1200)
    assert paused["name"] == "Paused"
    artifacts = server.call("/artifacts/filter", {"artifacts": {"key": {"any_": ["review-page"]}}})
    url = re.search(r"http://127\.0\.0\.1:\d+/", artifacts[0]["data"]).group(0)  # a link artifact's markdown

    context = chromium_browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(url)
    page.wait_for_selector("body[data-ready='1']")
    keys = page.evaluate("() => [...document.querySelectorAll('article.card')].map(c => c.dataset.key)")
    assert keys, "the review page shows no candidate"
    for _ in keys:  # A accepts the current clip and moves on to the next
        page.keyboard.press("a")
    for key in keys:
        page.wait_for_selector(f'article.card[data-key="{key}"][data-decision="accept"]:not([data-saving])')
    page.get_by_role("button", name="Finish review…").click()
    page.get_by_role("button", name="Yes, finished").click()
    page.wait_for_selector("body[data-finished='1']")
    assert "hook called" in page.locator("#message").inner_text()
    context.close()

    _wait_for_state(server, run_id, "COMPLETED", timeout_s=1200)
    history = [s["type"] for s in server.call(f"/flow_run_states/?flow_run_id={run_id}")]
    assert "PAUSED" in history and history[-1] == "COMPLETED"
    assert (out / "avsync15.parquet").is_file() and (out / "eval" / "summary.json").is_file()
    runs = server.call("/flow_runs/filter", {})
    flow_names = {f["id"]: f["name"] for f in server.call("/flows/filter", {})}
    pools = {}
    for run in runs:
        pools.setdefault(flow_names[run["flow_id"]], set()).add(run["work_pool_name"])
    for name in GPU_STAGE_FLOWS:  # the GPU stages ran as deployment runs on the GPU pool's worker
        assert pools.get(name) == {"asva-gpu"}, (name, pools)
        assert any(r["name"] in server.log("worker-asva-gpu", tail=10**7) for r in runs
                   if flow_names[r["flow_id"]] == name)
    assert pools["asva-pipeline"] == {"asva-local"}


def test_curate_vggsound_without_a_source_or_csv_fails_at_once_saying_where_to_get_it(server):
    if (REPO / "data" / "vggsound.csv").exists():
        pytest.skip("this checkout has data/vggsound.csv: the no-CSV case cannot be shown here")
    started = time.monotonic()
    result = server.run("deployment", "run", "curate-vggsound/curate-vggsound", "--watch", "--watch-timeout", "300",
                        timeout=360)
    assert result.returncode != 0
    run_id = re.search(r"UUID: ([0-9a-f-]{36})", result.stdout).group(1)
    state = _state(server, run_id)
    assert state["type"] == "FAILED"
    assert "data/vggsound.csv" in state["message"] and VGGSOUND_CSV_URL in state["message"], state["message"]
    assert time.monotonic() - started < 300
