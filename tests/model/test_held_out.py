"""`model.held_out`: the train flow's check animation, without Prefect (issue 14, fix 5)."""

import numpy as np
import pandas as pd
import pytest

from curation.config import MediaConfig
from curation.manifest import read_clip_rows
from curation.media import decode, probe
from model.data import read_window
from model.held_out import animate_held_out_clip, held_out_rows
from model.pipeline import AVSyncDPipeline


def test_animates_the_centre_window_of_the_first_held_out_clip(trained_run, synthetic_manifest, tmp_path, monkeypatch):
    seen = {}
    call = AVSyncDPipeline.__call__

    def recording_call(self, image, audio, *args, **kwargs):
        seen["image"], seen["audio"] = image, audio
        return call(self, image, audio, *args, **kwargs)

    monkeypatch.setattr(AVSyncDPipeline, "__call__", recording_call)
    result = animate_held_out_clip(trained_run.final_pipeline, synthetic_manifest, tmp_path / "sample.mp4", steps=2)

    first_test = read_clip_rows(synthetic_manifest, "test", need_label=True)[0]
    assert result["source"] == str(first_test.path) and result["prompt"] == first_test.label.replace("_", " ")
    assert result["start_s"] == pytest.approx((first_test.start_s + first_test.end_s - 2.0) / 2)  # centre window
    frames, audio = read_window(first_test.path, result["start_s"], 12, 6.0, (32, 32))
    # The decoded uint8 first frame goes to the pipeline as is (no [-1, 1] round trip), with its own sound.
    assert seen["image"].dtype == np.uint8 and np.array_equal(seen["image"], frames[0])
    assert np.array_equal(seen["audio"], audio)
    info = probe(result["mp4"])
    assert info.has_audio and (info.width, info.height) == (32, 32)
    assert decode(result["mp4"], MediaConfig(fps=6, short_side=32, sample_rate=16000)).frames.shape == (12, 32, 32, 3)


def test_a_manifest_without_the_split_falls_back_to_all_rows(synthetic_manifest, tmp_path):
    table = pd.read_parquet(synthetic_manifest)
    table["path"] = [str(synthetic_manifest.parent / p) for p in table["path"]]
    only_train = tmp_path / "clips.parquet"
    table.assign(split="train").to_parquet(only_train, index=False)
    with pytest.raises(ValueError):
        read_clip_rows(only_train, "test", need_label=True)
    assert [r.path for r in held_out_rows(only_train, "test")] == [r.path for r in read_clip_rows(only_train, need_label=True)]
    assert len(held_out_rows(synthetic_manifest, "test")) == 2
