import json

import torch

from sync_classifier.config import SyncConfig, load_config
from sync_classifier.contrastive import sync_contrastive_loss
from sync_classifier.data import SyntheticTrainingSet, collate_examples
from sync_classifier.model import SyncClassifier
from sync_classifier.train import accuracy_verdict, latest_checkpoint, lr_factor, train


def test_a_few_steps_on_generated_clips_reduce_the_loss(micro_config):
    cfg = load_config("tiny", overrides=["data.synthetic=true", "data.num_clips=11"])
    batch = collate_examples([SyntheticTrainingSet(micro_config(), cfg.data, seed=0).example(i) for i in range(2)])
    torch.manual_seed(0)
    model = SyncClassifier(micro_config()).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(25):
        out = sync_contrastive_loss(model(batch["audio"], batch["video"]), tau=0.1)
        optimizer.zero_grad()
        out.loss.backward()
        optimizer.step()
        losses.append(out.loss.item())
    assert losses[0] > 2.2  # ≈ log 11 at the start
    assert losses[-1] < 0.75 * losses[0]


def _micro_run_config(micro_config, **train) -> SyncConfig:
    base = load_config("tiny", overrides=["data.synthetic=true", "data.num_clips=5", "train.eval_videos=2",
                                          "train.log_every=1", "train.warmup_steps=2"])
    return base.model_copy(update={"model": micro_config(), "train": base.train.model_copy(update=train)})


def test_training_writes_checkpoints_logs_and_a_loadable_model_then_resumes(tmp_path, micro_config):
    out = tmp_path / "run"
    first = train(_micro_run_config(micro_config, max_steps=3, checkpoint_every=2, batch_size=2), out)
    assert first.steps == 3 and first.resumed_from == 0 and len(first.history) == 3
    assert latest_checkpoint(out).name == "step-000003"
    assert (out / "checkpoints" / "step-000002" / "model" / "model.safetensors").is_file()
    assert list((out / "logs").rglob("events.out.tfevents.*"))
    assert first.evaluations and 0 <= first.evaluations[-1]["a2v"] <= 1
    model = SyncClassifier.from_pretrained(first.final_model)
    assert model.config == micro_config()

    second = train(_micro_run_config(micro_config, max_steps=5, checkpoint_every=2, batch_size=2), out)
    assert second.resumed_from == 3 and second.steps == 5 and [r["step"] for r in second.history] == [4, 5]
    assert json.loads((out / "final" / "metrics.json").read_text())["steps"] == 5


def test_training_on_a_clip_manifest(tmp_path, micro_config):
    import numpy as np
    import pandas as pd

    from curation.media import write_mp4
    from curation.sources.synthetic import random_scenes, render_clip

    paths = []
    for i in range(2):
        frames, audio, _ = render_clip(random_scenes(np.random.default_rng(i), duration_s=6.5), fps=25.0,
                                       size=(64, 48), seed=i)
        paths.append(str(write_mp4(tmp_path / f"v{i}.mp4", frames, 25.0, audio)))
    manifest = tmp_path / "clips.parquet"
    pd.DataFrame({"video_id": ["v0", "v1"], "path": paths, "start_s": [0.0, 0.2], "end_s": [6.5, 6.5],
                  "split": ["train", "train"]}).to_parquet(manifest)
    config = _micro_run_config(micro_config, max_steps=2, batch_size=2)
    config = config.model_copy(update={"data": config.data.model_copy(update={
        "synthetic": False, "manifest": str(manifest), "split": "train"})})
    result = train(config, tmp_path / "run")
    assert result.steps == 2 and result.evaluations == []  # no held-out synthetic set for manifest runs
    assert all(np.isfinite(row["loss"]) for row in result.history)


def test_accuracy_verdict_names_why_a_run_fell_short():
    assert accuracy_verdict({"a2v": 0.95, "v2a": 0.91}, 0.9, False, 900) == (True, None)
    reached, warning = accuracy_verdict({"a2v": 0.95, "v2a": 0.69}, 0.9, True, 410)
    assert reached is False and "69.0%" in warning and "time budget" in warning and "410 steps" in warning
    assert accuracy_verdict({"a2v": 0.3, "v2a": 0.3}, None, False, 10) == (None, None)
    assert accuracy_verdict(None, 0.9, False, 10) == (None, None)


def test_a_run_records_its_precision_and_whether_it_reached_the_target(tmp_path, micro_config, caplog):
    with caplog.at_level("WARNING"):
        result = train(_micro_run_config(micro_config, max_steps=2, batch_size=2, target_accuracy=0.99,
                                         mixed_precision="no"), tmp_path / "run")
    final = result.evaluations[-1]
    assert result.reached_target == (min(final["a2v"], final["v2a"]) >= 0.99)
    assert (result.warning is None) == result.reached_target
    if result.warning:
        assert "below target" in caplog.text
    metrics = json.loads((result.final_model / "metrics.json").read_text())
    assert metrics["reached_target"] == result.reached_target and metrics["warning"] == result.warning
    assert result.precision == metrics["precision"] == {"mixed_precision": "no",
                                                        "reason": "requested mixed_precision=no (fp32)"}


def test_cosine_schedule_warms_up_then_decays_to_zero_and_constant_stays(tmp_path, micro_config):
    run = train(_micro_run_config(micro_config, max_steps=6, batch_size=1, lr=1e-3, lr_schedule="cosine",
                                  checkpoint_every=100), tmp_path / "run")
    rates = [row["lr"] for row in run.history]  # after each step: the rate the next step uses
    assert rates[:2] == [1e-3, 1e-3] and rates[-1] == 0.0  # 2 warm-up steps, then the peak, then down
    assert all(a > b for a, b in zip(rates[1:-1], rates[2:]))
    constant = load_config("tiny").train  # the preset keeps the paper's constant rate after warm-up
    assert [lr_factor(constant, s) for s in (0, 49, 50, 2399)] == [1 / 50, 1.0, 1.0, 1.0]
