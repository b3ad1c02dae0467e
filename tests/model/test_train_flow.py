"""The `train-avsyncd` Prefect flow end to end, in its own process and temporary Prefect home."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from flows.train_avsyncd import train_avsyncd

REPO = Path(__file__).resolve().parents[2]


def test_flow_is_named_for_its_deployment():
    assert train_avsyncd.name == "train-avsyncd"


@pytest.mark.slow
def test_flow_trains_and_animates_a_held_out_clip(tmp_path, synthetic_manifest, tiny_base):
    env = os.environ | {"PREFECT_HOME": str(tmp_path / "prefect"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
                        "HF_HUB_OFFLINE": "1",
                        # the ephemeral API needs more than its default 20 s on a busy 2-core machine
                        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120"}
    result = subprocess.run(
        [sys.executable, "-m", "flows.train_avsyncd", "--preset", "tiny", "--manifest", str(synthetic_manifest),
         "--pretrained", str(tiny_base), "--max-steps", "1", "--sample-steps", "2", "--out", str(tmp_path / "run"),
         "--set", "data.resolution=32", "--set", "train.eval_clips=1", "--set", "train.num_threads=1",
         "--set", "train.mixed_precision=bf16"],  # real autocast on CPU (own process: accelerate's state is global)
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout[result.stdout.index("{"):])
    assert out["steps"] == 1 and Path(out["pipeline"], "model_index.json").is_file()
    assert Path(out["sample"]).stat().st_size > 0
