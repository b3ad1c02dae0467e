"""Issue 15 item 5: downloaded sources kept, kept only with a clip, or deleted once committed;
manifests the same under every policy, and a local source folder is never touched."""

import shutil

import pandas as pd
import pytest

from curation import pipeline
from curation.config import load_config
from curation.sources.collect import collect_items


@pytest.fixture
def sources(tmp_path, mirror, media_dir):
    """Three downloads from the loopback mirror: two decode and give clips, one is not a video."""
    base, _ = mirror
    shutil.copy(media_dir / "issue-134-rotate.mp4", tmp_path / "mirror" / "-dashStart.mp4")
    (tmp_path / "mirror" / "junkVid.mp4").write_bytes(b"\x00" * 4000)
    csv = tmp_path / "vggsound.csv"
    csv.write_text("clipA_1-x,0,hitting metal,train\n-dashStart,0,hitting metal,train\njunkVid,0,hitting metal,test\n")
    return collect_items(csv=str(csv), url_template=base + "/{ytid}.mp4")


@pytest.mark.slow
def test_media_retention_policies(tmp_path, sources):
    manifests, kept = {}, {}
    for policy in ("passing", "none"):
        out = tmp_path / policy
        config = load_config(None, ["min_clips_per_class=1", "download.retries=0", "download.clip_s=4.0",
                                    f"download.keep_media={policy}"])
        pipeline.run_curation(sources, out, config)
        manifests[policy] = {name: pd.read_parquet(out / name) for name in ("videos.parquet", "clips.parquet")}
        kept[policy] = sorted(p.name for p in (out / "media").rglob("*.mp4"))
    videos = manifests["passing"]["videos.parquet"].set_index("video_id")
    assert videos.loc["junkVid_000000", "status"] == "failed"
    clip_ids = sorted(set(manifests["passing"]["clips.parquet"].video_id))
    assert clip_ids == ["-dashStart_000000", "clipA_1-x_000000"]
    assert kept["passing"] == [f"{video_id}.mp4" for video_id in clip_ids]  # the failed one's download is gone
    assert kept["none"] == []  # every committed download deleted
    for name, frame in manifests["passing"].items():
        want = frame.assign(path=frame.path.str.replace("/passing/", "/none/"))
        pd.testing.assert_frame_equal(manifests["none"][name], want, obj=name)


def test_only_downloads_are_ever_removed(tmp_path, media_dir):
    local = tmp_path / "mine.mp4"
    shutil.copy(media_dir / "hitting_metal.mp4", local)
    (tmp_path / "run" / "media").mkdir(parents=True)
    fetched = tmp_path / "run" / "media" / "x.mp4"
    shutil.copy(local, fetched)
    assert pipeline.remove_downloads([str(local), str(fetched)], tmp_path / "run") == 1
    assert local.is_file() and not fetched.exists()
