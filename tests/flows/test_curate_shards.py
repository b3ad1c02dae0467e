"""Issue 15: a curation split into shard runs lands in one ledger and gives one run's manifests."""

import shutil

import pandas as pd
import pytest

from benchmarks.ledger_scaling import generated_items
from curation import pipeline

MANIFESTS = ("videos.parquet", "windows.parquet", "clips.parquet", "avsync_ac.parquet")


def test_every_video_is_in_exactly_one_shard_whatever_the_source_order():
    items = generated_items(3000)
    shards = [pipeline.shard_items(items, shard, 3) for shard in range(3)]
    ids = [item.video_id for shard in shards for item in shard]
    assert sorted(ids) == sorted(item.video_id for item in items) and len(set(ids)) == len(ids)
    assert all(900 < len(shard) < 1100 for shard in shards)  # a hash split, about even
    assert [i.video_id for i in pipeline.shard_items(items[::-1], 1, 3)] == [i.video_id for i in shards[1]][::-1]
    with pytest.raises(ValueError, match="shard 3 of 3"):
        pipeline.shard_items(items, 3, 3)


@pytest.fixture
def folder(tmp_path, media_dir):
    root = tmp_path / "videos"
    for label, name, source in (("hits", "metal", "hitting_metal.mp4"), ("movie", "rotated", "issue-134-rotate.mp4"),
                                ("hits", "short", "delayed_start.mp4")):
        (root / label).mkdir(parents=True, exist_ok=True)
        shutil.copy(media_dir / source, root / label / f"{name}.mp4")
    (root / "movie" / "broken.mp4").write_bytes(b"\x00" * 1000)
    return root


def _manifests(out):
    return {name: pd.read_parquet(out / name) for name in MANIFESTS}


@pytest.mark.slow
def test_shard_runs_through_run_deployment_give_one_runs_manifests(prefect_api, shard_runner, folder, tmp_path):
    """The parent submits each shard as a flow run of a real deployment (served by a Prefect runner
    on the test API, which starts each run in its own process), then finalizes once."""

    from flows.curate import curate_vggsound, curate_vggsound_sharded

    config = tmp_path / "config.yaml"
    config.write_text("min_clips_per_class: 1\nbatch_size: 1\n")
    whole = curate_vggsound(videos=str(folder), out=str(tmp_path / "one"), config=str(config))

    summary = curate_vggsound_sharded(videos=str(folder), out=str(tmp_path / "shards"), config=str(config),
                                      n_shards=3, max_queued_shards=2, poll_seconds=1.0)
    assert summary == whole and summary["videos"] == 4
    for name, frame in _manifests(tmp_path / "one").items():
        pd.testing.assert_frame_equal(_manifests(tmp_path / "shards")[name], frame, obj=name)
