"""The `evaluate-avsyncd` flow against a temporary Prefect API: the summary and the progress come
back as artifacts (Static and ground truth rows on generated videos, micro sync classifier)."""

from __future__ import annotations

import pytest
import torch

from flows.evaluate import evaluate_avsyncd
from model.synthetic_data import write_synthetic_manifest
from sync_classifier.config import load_config as load_sync_config
from sync_classifier.model import SyncClassifier


def test_flow_is_named_for_its_deployment():
    assert evaluate_avsyncd.name == "evaluate-avsyncd"


@pytest.mark.slow
def test_flow_writes_summary_and_progress_artifacts(prefect_api, tmp_path):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    manifest = write_synthetic_manifest(tmp_path / "data", train_videos=0, test_videos=2, duration_s=2.5, size=48, seed=5)
    torch.manual_seed(0)
    sync = SyncClassifier(load_sync_config("tiny").model.model_copy(update=dict(
        audio_widths=(4, 8, 8, 16), video_widths=(4, 8, 8, 16), head_width=16, image_size=32))).eval()
    sync_dir = sync.save_pretrained(tmp_path / "sync")
    summary = evaluate_avsyncd(str(manifest), str(tmp_path / "eval"), static=True, overrides={
        "sync_classifier": str(sync_dir), "clips_per_video": 1, "resolution": [32, 32], "bootstrap": 20,
        "report_samples": 1})
    assert summary["row_order"] == ["ground_truth", "static"]
    with get_client(sync_client=True) as client:
        tables = client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["evaluation-summary"])))
        progress = client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["evaluation-progress"])))
    assert tables and tables[0].type == "table" and "static" in str(tables[0].data)
    assert "RelSync" in str(tables[0].data)
    assert progress and progress[0].type == "progress" and float(progress[0].data) == 100.0
