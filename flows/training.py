"""The one training task both training flows use (`train-avsyncd`, `train-sync-classifier`).

Each trainer is a package with the same two entry points — `<package>.config.load_config(preset,
config_file, overrides)` and `<package>.train.train(config, out, on_log=...)` returning its
`TrainResult` — so one task runs either, with a progress artifact fed by the trainer's log rows.
"""

from __future__ import annotations

import dataclasses
import importlib
from pathlib import Path

from prefect import get_run_logger, task
from prefect.artifacts import create_progress_artifact, update_progress_artifact

TRAINERS = {"avsyncd": "model", "sync-classifier": "sync_classifier"}  # trainer name → package


@task(name="train-model", task_run_name="train-{trainer}")
def train_model(trainer: str, preset: str, out: str, overrides: list[str], config: str | None) -> dict:
    """Train (or resume, from `out`'s checkpoints) and return the trainer's `TrainResult` as a dict
    (paths as strings)."""
    package = TRAINERS[trainer]
    load_config = importlib.import_module(f"{package}.config").load_config
    train = importlib.import_module(f"{package}.train").train
    progress_id = create_progress_artifact(progress=0.0, key="training-progress",
                                           description="share of the step / time budget")
    result = train(load_config(preset, config, overrides), out,
                   on_log=lambda row: update_progress_artifact(progress_id, progress=100.0 * row["done"]))
    update_progress_artifact(progress_id, progress=100.0)
    get_run_logger().info("%s: trained %d steps (resumed from %d) in %.0f s", trainer, result.steps,
                          result.resumed_from, result.seconds)
    return {key: str(value) if isinstance(value, Path) else value for key, value in dataclasses.asdict(result).items()}
