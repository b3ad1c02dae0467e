"""AVSync15 dataset stage: the schema's writer, the release route on real generated files, the
published list (ambiguous rows, leakage keys), class mapping and the readers' refusals."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from curation import avsync15
from curation.manifest import read_clip_rows
from curation.sources.collect import collect_items
from curation.sources.download import DownloadResult
from curation.sources.item import SourceItem
from curation.sources.local import scan_video_folder
from curation.media import write_mp4

REPO_LIST = avsync15.ASVA_LIST
VID_A = "0bC2T-xZkCs_000187_000197_0.0_3.0"
VID_B = "-j9x-d4ZqtY_000030_000040_1.5_4.0"


def _clip(path: Path, seconds: float = 2.5, fps: float = 12.0, size: int = 32, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    frames = rng.integers(0, 255, (int(seconds * fps), size, size, 3), dtype=np.uint8)
    audio = (0.1 * np.sin(np.linspace(0, 2000 * seconds, int(16000 * seconds)))).astype(np.float32)
    return write_mp4(path, frames, fps, audio)


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> Path:
    """The authors' layout: videos/<class>/<file>.mp4, train.txt, test.txt, class_mapping.json; the
    violin folder spelled one way on disk and the other in the list, a broken file, a listed file
    that does not exist, and a file in neither list."""
    root = tmp_path_factory.mktemp("release")
    _clip(root / "videos" / "hammering" / f"{VID_A}.mp4", seed=1)
    _clip(root / "videos" / "playing_violin__fiddle" / f"{VID_B}.mp4", seconds=3.0, seed=2)
    _clip(root / "videos" / "dog_barking" / "dog1.mp4", seed=3)
    _clip(root / "videos" / "dog_barking" / "unlisted.mp4", seed=4)
    (root / "videos" / "hammering" / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"garbage" * 100)
    (root / "train.txt").write_text(f"hammering/{VID_A}.mp4\nplaying_violin_fiddle/{VID_B}.mp4\nhammering/broken.mp4\n")
    (root / "test.txt").write_text("dog_barking/dog1.mp4\ndog_barking/missing.mp4\n")
    (root / "class_mapping.json").write_text(json.dumps({"dog_barking": "a dog barking", "hammering": "hammering"}))
    return root


def test_release_route_probes_every_file_and_keeps_the_split(release, tmp_path):
    frame, report = avsync15.release_manifest(release)
    rows = frame.set_index("video_id")
    assert rows.loc[VID_A, ["label", "split", "status"]].tolist() == ["hammering", "train", "ok"]
    assert rows.loc[VID_A, "ytid"] == "0bC2T-xZkCs" and rows.loc[VID_A, "vggsound_start_s"] == 187
    assert rows.loc[VID_A, "duration_s"] == pytest.approx(2.5, abs=0.1)
    # listed as playing_violin_fiddle/, stored as playing_violin__fiddle/: found, canonical label
    assert rows.loc[VID_B, ["label", "status"]].tolist() == ["playing_violin_fiddle", "ok"]
    assert rows.loc[VID_B, "path"] == str(release / "videos" / "playing_violin__fiddle" / f"{VID_B}.mp4")
    assert rows.loc[VID_B, "prompt"] == "playing violin fiddle"
    assert rows.loc["dog1", ["split", "prompt"]].tolist() == ["test", "a dog barking"]  # the release's prompt
    assert rows.loc["broken", ["status", "reason"]].tolist() == ["failed", "not_a_video"]
    assert rows.loc["missing", ["status", "reason", "split"]].tolist() == ["failed", "missing_file", "test"]
    assert report.ok == {"train": 2, "test": 1} and report.failed == {"not_a_video": 1, "missing_file": 1}
    assert any("unlisted.mp4" in note for note in report.notes)

    out = release / "avsync15.parquet"
    avsync15.write_avsync15_manifest(frame, out)
    plain = pd.read_parquet(out)
    assert list(plain.columns[:len(avsync15.AVSYNC15_COLUMNS)]) == avsync15.AVSYNC15_COLUMNS
    assert [r.video_id for r in read_clip_rows(out, "train")] == [VID_A, VID_B]  # failed rows never reach training
    with pytest.raises(FileNotFoundError, match="train.txt"):
        avsync15.release_manifest(tmp_path)


def test_the_writer_refuses_what_a_reader_would_trip_on(tmp_path):
    good = {"video_id": "a", "label": "hammering", "prompt": "hammering", "split": "train", "path": "a.mp4",
            "start_s": 0.0, "end_s": 3.0, "duration_s": 3.0, "source": "youtube"}
    avsync15.write_avsync15_manifest(pd.DataFrame([good]), tmp_path / "ok.parquet")
    assert pd.read_parquet(tmp_path / "ok.parquet")["status"].tolist() == ["ok"]
    for change, message in [({"split": None}, "split outside"), ({"split": "val"}, "split outside"),
                            ({"source": "web"}, "source outside"), ({"prompt": " "}, "empty prompt"),
                            ({"end_s": 0.0}, "window is empty"), ({"path": None}, "no path"),
                            ({"status": "failed"}, "without a reason")]:
        with pytest.raises(ValueError, match=message):
            avsync15.write_avsync15_manifest(pd.DataFrame([{**good, **change}]), tmp_path / "bad.parquet")
    with pytest.raises(ValueError, match="repeat the key"):
        avsync15.write_avsync15_manifest(pd.DataFrame([good, good]), tmp_path / "bad.parquet")
    with pytest.raises(ValueError, match="lacks columns"):
        avsync15.write_avsync15_manifest(pd.DataFrame([{"video_id": "a"}]), tmp_path / "bad.parquet")
    assert not (tmp_path / "bad.parquet").exists()


def test_readers_refuse_an_unusable_split_and_say_why(tmp_path):
    clip = _clip(tmp_path / "c.mp4")
    base = {"video_id": "a", "label": "hammering", "path": str(clip), "start_s": 0.0, "end_s": 2.5}
    pd.DataFrame([{**base, "split": None}]).to_parquet(tmp_path / "null.parquet")
    with pytest.raises(ValueError, match=r"no row has a split \(all 1 are null\).*<root>/train/<label>/"):
        read_clip_rows(tmp_path / "null.parquet", "train")
    pd.DataFrame([{**base, "split": "training"}]).to_parquet(tmp_path / "name.parquet")
    with pytest.raises(ValueError, match=r"no row has split 'train'; the manifest's splits are \['training'\]"):
        read_clip_rows(tmp_path / "name.parquet", "train")
    pd.DataFrame([{**base, "split": "train", "status": "failed", "reason": "missing_file"}]).to_parquet(tmp_path / "f.parquet")
    with pytest.raises(ValueError, match=r"all 1 rows of split 'train' failed \(reasons \{'missing_file': 1\}\)"):
        read_clip_rows(tmp_path / "f.parquet", "train")
    pd.DataFrame([{**base, "split": "train", "path": "gone.mp4"}]).to_parquet(tmp_path / "gone.parquet")
    with pytest.raises(ValueError, match="none of the 1 files of split 'train' exists"):
        read_clip_rows(tmp_path / "gone.parquet", "train")
    pd.DataFrame([{**base, "split": "train"}, {**base, "video_id": "b", "split": "train", "path": "gone.mp4"}]
                 ).to_parquet(tmp_path / "some.parquet")
    assert [r.video_id for r in read_clip_rows(tmp_path / "some.parquet", "train")] == ["a"]


def test_the_published_list_keeps_its_official_split_and_reports_shared_segments():
    items = avsync15.youtube_items(REPO_LIST, "http://127.0.0.1:1/{ytid}.mp4")
    assert len(items) == 1430 and items[0].url.startswith("http://127.0.0.1:1/")
    frame, report = avsync15.youtube_manifest(REPO_LIST, [])  # nothing downloaded
    assert len(frame) == 1500 and set(frame["label"]) == set(avsync15.avsync15_classes())
    assert frame.groupby("split").size().to_dict() == {"test": 150, "train": 1350}
    assert (frame["reason"] == "download_failed").all()
    shared = frame[frame["shared_segment"].astype(bool)]
    assert len(shared) == 10 and shared["ytid"].nunique() == 5
    assert any("both splits" in note for note in report.notes)
    assert frame.loc[frame.label == "playing_violin_fiddle", "prompt"].iloc[0] == "playing violin fiddle"


def test_youtube_rows_cut_the_kept_window_and_record_failures(tmp_path):
    clip = _clip(tmp_path / "seg.mp4", seconds=4.0)
    listing = tmp_path / "list.csv"
    listing.write_text("vid,label,split,new_split,frames_count\n"
                       "abcdefghijk_000010_000020_0.5_3.0,hammering,train,train,22\n"
                       "abcdefghijk_000010_000020_2.0_9.0,hammering,test,test,58\n"
                       "deadlinkXYZ_000000_000010_0.0_3.0,dog_barking,train,train,26\n"
                       "$(reboot)_000000_000010_0.0_3.0,dog_barking,train,train,26\n")
    results = [DownloadResult("abcdefghijk_000010", clip, True),
               DownloadResult("deadlinkXYZ_000000", None, False, "HTTP Error 404: Not Found")]
    frame, _ = avsync15.youtube_manifest(listing, results)
    rows = frame.set_index("list_vid")
    ok = rows.loc["abcdefghijk_000010_000020_0.5_3.0"]
    assert (ok.status, ok.start_s, ok.end_s, ok.duration_s, ok.vggsound_start_s) == ("ok", 0.5, 3.0, 2.5, 10.0)
    past = rows.loc["abcdefghijk_000010_000020_2.0_9.0"]
    assert (past.status, past.reason) == ("failed", "window_past_end") and "4.00 s" in past.detail
    dead = rows.loc["deadlinkXYZ_000000_000010_0.0_3.0"]
    assert (dead.reason, dead.detail) == ("download_failed", "HTTP Error 404: Not Found")
    assert rows.loc["$(reboot)_000000_000010_0.0_3.0", "reason"] == "unsafe_id"


def test_leakage_guard_finds_and_excludes_avsync15_test_segments():
    test_keys = avsync15.avsync15_segment_keys(REPO_LIST, "test")
    assert len(test_keys) == 150
    one_test = sorted(test_keys)[0]
    items = [SourceItem(video_id=one_test, label="x"), SourceItem(video_id="zzzzzzzzzzz_000000", label="x")]
    kept, left_out = avsync15.exclude_avsync15_test(items, REPO_LIST)
    assert [i.video_id for i in kept] == ["zzzzzzzzzzz_000000"] and left_out == [one_test]
    manifest = pd.DataFrame({"video_id": [one_test, "zzzzzzzzzzz_000000"]})
    assert avsync15.avsync15_overlap(manifest, REPO_LIST)["test"] == [one_test]
    assert avsync15.overlap_counts(["-1rZFviqTTQ_000028_000038_3.5_5.8"]) == {"test": 1, "train": 0}


def test_a_vggss_curation_can_leave_the_avsync15_test_segments_out(tmp_path):
    listing = tmp_path / "vggsound.csv"  # -1rZFviqTTQ at 28 s is an AVSync15 test segment (sharpen knife)
    listing.write_text("-1rZFviqTTQ,28,sharpen knife,train\naaaaaaaaaaa,10,sharpen knife,train\n")
    assert len(collect_items(csv=listing)) == 2
    kept = collect_items(csv=listing, classes=avsync15.VGGSS_FILE, exclude_avsync15_test=True)
    assert [i.video_id for i in kept] == ["aaaaaaaaaaa_000010"]


def test_curation_narrowed_to_avsync15_gets_its_classes(tmp_path):
    listing = tmp_path / "vggsound.csv"
    listing.write_text('aaaaaaaaaaa,10,hammering nails,train\nbbbbbbbbbbb,20,forging swords,test\n'
                       'ccccccccccc,30,"playing violin, fiddle",train\nddddddddddd,40,dog growling,train\n'
                       'eeeeeeeeeee,50,playing piano,train\n')
    items = collect_items(csv=listing, classes=avsync15.CLASSES_FILE)
    assert [(i.video_id, i.label) for i in items] == [
        ("aaaaaaaaaaa_000010", "hammering"), ("bbbbbbbbbbb_000020", "hammering"),
        ("ccccccccccc_000030", "playing_violin_fiddle"), ("ddddddddddd_000040", "dog_barking")]
    assert avsync15.to_avsync15_class("Forging swords") == "hammering"


def test_a_local_folder_with_split_folders_keeps_its_split(tmp_path):
    _clip(tmp_path / "videos" / "train" / "hammering" / "a.mp4")
    _clip(tmp_path / "videos" / "test" / "hammering" / "b.mp4")
    _clip(tmp_path / "flat" / "hammering" / "c.mp4")
    assert [(i.label, i.split) for i in scan_video_folder(tmp_path / "videos")] == [("hammering", "test"),
                                                                                    ("hammering", "train")]
    assert [(i.label, i.split) for i in scan_video_folder(tmp_path / "flat")] == [("hammering", None)]
