"""The one config loader: YAML 1.2 values, typed overrides, precedence preset < file < flags < --set."""

import subprocess
import sys

import pytest
from pydantic import ValidationError

from curation.config import load_config as load_curation
from curation.layered_config import parse_override, parse_value
from model.config import load_config as load_avsyncd
from sync_classifier.config import SyncConfig, TrainConfig
from sync_classifier.config import load_config as load_sync


@pytest.mark.parametrize("raw, expected", [
    ("no", "no"), ("off", "off"), ("yes", "yes"), ("on", "on"), ("1e-4", 1e-4), ("1.5", 1.5), ("3", 3),
    ("true", True), ("false", False), ("null", None), ("[a, b]", ["a", "b"]), ("12:30", "12:30"),
    ("010", 10), ("x: y", "x: y"),
])
def test_untyped_values_are_read_as_yaml_1_2(raw, expected):
    assert parse_value(raw) == expected


def test_text_fields_keep_what_was_typed():
    assert parse_override("train.mixed_precision=no", SyncConfig) == {"train": {"mixed_precision": "no"}}
    assert parse_override("data.manifest=/d/a: b #1.parquet", SyncConfig) == {"data": {"manifest": "/d/a: b #1.parquet"}}
    assert parse_override("data.manifest=null", SyncConfig) == {"data": {"manifest": None}}
    assert parse_override('data.split="on"', SyncConfig) == {"data": {"split": "on"}}
    assert parse_override("train.lr=1e-4", SyncConfig) == {"train": {"lr": 1e-4}}


def test_booleans_from_words_and_strings_from_words():
    config = load_sync("tiny", None, ["train.mixed_precision=no", "data.hflip=off", "data.synthetic=yes",
                                      "train.lr=1e-4", "data.split=no", "train.max_minutes=null"])
    assert config.train.mixed_precision == "no" and config.data.hflip is False and config.data.synthetic is True
    assert config.train.lr == pytest.approx(1e-4) and config.data.split == "no" and config.train.max_minutes is None
    for mode in ("auto", "no", "fp16", "bf16"):
        assert load_avsyncd("tiny", None, [f"train.mixed_precision={mode}"]).train.mixed_precision == mode


def test_yaml_file_no_is_the_string_no(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("train:\n  mixed_precision: no\n  lr: 1e-4\ndata:\n  hflip: off\n")
    config = load_sync("tiny", path)
    assert (config.train.mixed_precision, config.train.lr, config.data.hflip) == ("no", 1e-4, False)
    assert load_avsyncd("tiny", path_for_model(tmp_path)).train.mixed_precision == "no"


def path_for_model(tmp_path):
    path = tmp_path / "model.yaml"
    path.write_text("train:\n  mixed_precision: no\n")
    return path


@pytest.mark.parametrize("load, preset", [(load_sync, "tiny"), (load_avsyncd, "tiny")])
def test_precedence_preset_file_flags_set(load, preset, tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("train:\n  lr: 0.5\n  max_steps: 7\n  log_every: 3\n")
    base = load(preset)
    only_file = load(preset, path)
    assert (only_file.train.lr, only_file.train.max_steps) == (0.5, 7)
    assert only_file.train.weight_decay == base.train.weight_decay  # untouched keys keep the preset's
    flagged = load(preset, path, (), {"train.max_steps": 9, "train.lr": None})
    assert (flagged.train.lr, flagged.train.max_steps) == (0.5, 9)  # None flags are not given
    last = load(preset, path, ["train.max_steps=11", "train.log_every=4"], {"train.max_steps": 9})
    assert (last.train.max_steps, last.train.log_every, last.train.lr) == (11, 4, 0.5)


def test_curation_config_takes_overrides(tmp_path):
    path = tmp_path / "cur.yaml"
    path.write_text("media:\n  fps: 6\nbatch_size: 2\n")
    config = load_curation(path, ["media.fps=12", "metrics=[pixel, amplitude, psync]",
                                  "metric_options.psync.checkpoint=C:/runs/sync #1/final", "media.require_audio=no"])
    assert config.media.fps == 12 and config.batch_size == 2 and config.media.require_audio is False
    assert config.metrics == ["pixel", "amplitude", "psync"]
    assert config.metric_options == {"psync": {"checkpoint": "C:/runs/sync #1/final"}}
    assert load_curation() == load_curation(None, ())


def test_unknown_keys_and_bad_values_are_errors():
    with pytest.raises(ValidationError, match="typo"):
        load_sync("tiny", None, ["train.typo=1"])
    with pytest.raises(ValidationError):
        load_sync("tiny", None, ["train.mixed_precision=maybe"])
    with pytest.raises(ValueError, match="section.key=value"):
        parse_override("train.lr", TrainConfig)


@pytest.mark.parametrize("module, args", [
    ("sync_classifier.train", ["--out", "unused", "--set", "train.lr=-1"]),
    ("model.train", ["--out", "unused", "--set", "train.lr=-1"]),
    ("flows.curate", ["--videos", ".", "--set", "media.fps=no"]),
])
def test_clis_reject_a_bad_override_in_one_line(module, args, tmp_path):
    run = subprocess.run([sys.executable, "-m", module, *args], capture_output=True, text=True, cwd=tmp_path,
                         timeout=120, env=None)
    assert run.returncode == 2
    last = run.stderr.strip().splitlines()[-1]
    assert "error: config:" in last and ("train.lr" in last or "media.fps" in last)
    assert "Traceback" not in run.stderr
