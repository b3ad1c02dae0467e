"""The `train-sync-classifier` Prefect flow end to end, in its own process and temporary Prefect home."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from flows.train_sync import train_sync_classifier

REPO = Path(__file__).resolve().parents[2]


def test_flow_is_named_for_its_deployment():
    assert train_sync_classifier.name == "train-sync-classifier"
    with pytest.raises(ValueError, match="exactly one"):
        train_sync_classifier.fn(out="x", manifest=None, synthetic=False)


@pytest.mark.slow
def test_flow_trains_evaluates_and_returns_the_model(tmp_path):
    config = tmp_path / "micro.yaml"
    config.write_text(
        "model: {audio_widths: [4, 8, 8, 16], video_widths: [4, 8, 8, 16], head_width: 16, image_size: 32}\n"
        "data: {num_clips: 5}\ntrain: {batch_size: 1, eval_videos: 2, num_threads: 1}\n"
    )
    env = os.environ | {"PREFECT_HOME": str(tmp_path / "prefect"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    result = subprocess.run(
        [sys.executable, "-m", "flows.train_sync", "--synthetic", "--preset", "tiny", "--config", str(config),
         "--max-steps", "2", "--eval-videos", "2", "--out", str(tmp_path / "run")],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout[result.stdout.index("{"):])
    assert out["steps"] == 2 and Path(out["model"], "model.safetensors").is_file()
    assert out["accuracy"]["videos"] == 2
    # The trainer's own log lines reach the run's logs (pyproject's [tool.prefect.logging]) ...
    assert "sync_classifier.train" in result.stdout + result.stderr and "step 2 loss" in result.stdout + result.stderr
    # ... and the UI shows a finished progress artifact.
    query = ("import asyncio\nfrom prefect.client.orchestration import get_client\n"
             "from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey\n"
             "async def main():\n    async with get_client() as client:\n"
             "        found = await client.read_artifacts(artifact_filter=ArtifactFilter("
             "key=ArtifactFilterKey(any_=['training-progress'])))\n"
             "        print([a.data for a in found])\nasyncio.run(main())\n")
    artifacts = subprocess.run([sys.executable, "-c", query], cwd=REPO, env=env, capture_output=True, text=True,
                               timeout=300)
    assert artifacts.returncode == 0, artifacts.stderr[-2000:]
    assert artifacts.stdout.strip().splitlines()[-1] == "[100]"  # progress in percent
