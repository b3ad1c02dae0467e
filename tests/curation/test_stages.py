"""The pipeline's stage bookkeeping (curation.stages) on real files: markers, keys, the sync
classifier's held-out split, the review's class list; and the no-source default of curation."""

import pandas as pd
import pytest

from curation import stages
from curation.sources import collect


def _clips(tmp_path, split=None):
    rows = [{"video_id": f"v{i}", "clip_index": k, "label": "hammering", "split": split, "path": f"v{i}.mp4",
             "start_s": 0.0, "end_s": 4.0} for i in range(30) for k in range(2)]
    path = tmp_path / "clips.parquet"
    pd.DataFrame(rows).to_parquet(path)
    return path


def test_sync_manifest_holds_out_whole_videos_by_id(tmp_path):
    counts = stages.sync_training_manifest(_clips(tmp_path), tmp_path / "sync.parquet", held_out_share=0.2)
    table = pd.read_parquet(tmp_path / "sync.parquet")
    assert counts == table["split"].value_counts().to_dict() and set(counts) == {"train", "test"}
    assert table.groupby("video_id")["split"].nunique().max() == 1  # a video never straddles
    again = stages.sync_training_manifest(_clips(tmp_path), tmp_path / "again.parquet", held_out_share=0.2)
    assert again == counts  # by a hash of the id: the same every time


def test_sync_manifest_keeps_the_sources_split(tmp_path):
    path = _clips(tmp_path, split="train")
    table = pd.read_parquet(path)
    table.loc[table["video_id"] == "v3", "split"] = "test"
    table.to_parquet(path)
    assert stages.sync_training_manifest(path, tmp_path / "sync.parquet") == {"test": 2, "train": 58}


def test_a_marker_counts_only_for_the_same_inputs_and_existing_outputs(tmp_path):
    layout = stages.RunLayout(tmp_path / "run")
    key = stages.stage_key({"out": str(layout.curated), "limit": 3}, root=layout.out)
    # the same parameters in a copied run folder give the same key
    copied = stages.RunLayout(tmp_path / "copy")
    assert stages.stage_key({"out": str(copied.curated), "limit": 3}, root=copied.out) == key
    assert stages.stage_key({"out": str(layout.curated), "limit": 4}, root=layout.out) != key
    for path in layout.outputs("curate"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")
    assert stages.finished_stage(layout, "curate", key) is None  # no marker yet: an interrupted stage
    stages.mark_finished(layout, "curate", key, 1.5, {"clips": 2})
    assert stages.finished_stage(layout, "curate", key)["result"] == {"clips": 2}
    assert stages.finished_stage(layout, "curate", "other") is None
    layout.outputs("curate")[0].unlink()
    assert stages.finished_stage(layout, "curate", key) is None


def test_review_classes_of_an_avsync_ac_table(tmp_path):
    pd.DataFrame({"label": ["b", "a", "b"]}).to_parquet(tmp_path / "ac.parquet")
    assert stages.write_review_classes(tmp_path / "ac.parquet", tmp_path / "classes.txt") == ["a", "b"]
    from curation.avsync15 import avsync15_classes

    assert avsync15_classes(tmp_path / "classes.txt") == ["a", "b"]
    pd.DataFrame({"label": pd.Series([], dtype=str)}).to_parquet(tmp_path / "empty.parquet")
    with pytest.raises(ValueError, match="min_clips_per_class"):
        stages.write_review_classes(tmp_path / "empty.parquet", tmp_path / "none.txt")


def test_presets_load_and_overrides_apply():
    tiny = stages.load_pipeline_config("tiny", overrides=["sync.max_steps=7", "review.classes=null"])
    assert tiny.sync.max_steps == 7 and tiny.review.classes is None and tiny.psync.min_clips_per_class == 2
    assert stages.load_pipeline_config("paper").psync.min_clips_per_class == 100
    with pytest.raises(ValueError):
        stages.load_pipeline_config("tiny", overrides=["sync.bogus=1"])


def test_sync_chance_is_the_protocols():
    from sync_classifier.evaluate import NUM_OFFSETS, TOLERANCE

    assert stages.SYNC_CHANCE == (2 * TOLERANCE + 1) / NUM_OFFSETS


def test_no_source_and_no_csv_says_where_to_get_it(tmp_path, monkeypatch):
    import curation.avsync15

    monkeypatch.setattr(curation.avsync15, "DATA_DIR", tmp_path)
    with pytest.raises(FileNotFoundError, match="vggsound.csv") as error:
        collect.default_sources(None, None, None)
    assert collect.VGGSOUND_CSV_URL in str(error.value) and str(tmp_path / "vggsound.csv") in str(error.value)
    (tmp_path / "vggsound.csv").write_text("a,1,dog barking,train\n")
    csv, videos, classes = collect.default_sources(None, None, None)
    assert csv == str(tmp_path / "vggsound.csv") and videos is None and classes.endswith("vggss.txt")
    assert collect.default_sources(None, "folder", None) == (None, "folder", None)
