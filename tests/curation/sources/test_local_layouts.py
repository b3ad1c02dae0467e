"""The authors' Landscapes and TheGreatestHits folders, on real generated mp4 files: layout
detection, split and class from the path or the lists, and the manifest `model.train` and
`model.evaluate` read (through the AVSync15 schema's writer)."""

import json
from pathlib import Path

import numpy as np
import pytest

from curation import avsync15
from curation.manifest import read_clip_rows
from curation.sources.local import GREATEST_HITS_LABEL, release_layout, scan_release_folder, scan_video_folder
from curation.sources.synthetic import write_synthetic_video
from model.synthetic_data import synthetic_scene


def _clip(path: Path, seconds: float = 2.5, height: int = 32, width: int = 64, seed: int = 0) -> Path:
    """A real H.264 + AAC sync clip (the project's generator), width × height pixels."""
    scene = synthetic_scene(np.random.default_rng(seed), "hammering", seconds)
    write_synthetic_video(path, scene, fps=12.0, size=(width, height), seed=seed)
    return path


@pytest.fixture(scope="module")
def landscapes(tmp_path_factory) -> Path:
    """videos/<split>/<class>/, lists under each split folder, a class_mapping.json, a listed
    file that does not exist and a file no list names."""
    root = tmp_path_factory.mktemp("Landscapes")
    _clip(root / "videos" / "train" / "explosion" / "e1.mp4", seed=1)
    _clip(root / "videos" / "train" / "fire_crackling" / "f1.mp4", seed=2)
    _clip(root / "videos" / "train" / "explosion" / "unlisted.mp4", seed=3)
    _clip(root / "videos" / "test" / "explosion" / "e1.mp4", seed=4)  # same name as a train file
    (root / "train.txt").write_text("explosion/e1.mp4\nfire_crackling/f1.mp4\n")
    (root / "test.txt").write_text("explosion/e1.mp4\nexplosion/gone.mp4\n")
    (root / "class_mapping.json").write_text(json.dumps({"fire_crackling": "fire crackling", "explosion": "explosion"}))
    return root


@pytest.fixture(scope="module")
def greatest_hits(tmp_path_factory) -> Path:
    """The flat folder of `*_denoised_thumb.mp4` with train.txt / test.txt naming files."""
    root = tmp_path_factory.mktemp("TheGreatestHits")
    names = [f"2015-02-2{i}-16-49-06_denoised_thumb.mp4" for i in range(3)]
    for i, name in enumerate(names):
        _clip(root / "videos" / name, seconds=3.0, seed=10 + i)
    (root / "videos" / "broken_denoised_thumb.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"junk" * 200)
    (root / "train.txt").write_text(f"{names[0]}\n{names[1]}\nbroken_denoised_thumb.mp4\n")
    (root / "test.txt").write_text(f"{names[2]}\n")
    return root


def test_layouts_are_recognised(landscapes, greatest_hits, tmp_path):
    assert release_layout(landscapes) == "landscapes"
    assert release_layout(greatest_hits) == "greatesthits"
    _clip(tmp_path / "AVSync15" / "videos" / "hammering" / "a.mp4")
    (tmp_path / "AVSync15" / "train.txt").write_text("hammering/a.mp4\n")
    assert release_layout(tmp_path / "AVSync15") == "avsync15"
    with pytest.raises(ValueError, match="avsync15.release_manifest"):
        scan_release_folder(tmp_path / "AVSync15")
    assert release_layout(tmp_path / "AVSync15" / "videos") is None  # a plain class folder
    with pytest.raises(ValueError, match="not one of the authors' dataset folders"):
        scan_release_folder(tmp_path / "AVSync15" / "videos")


def test_landscapes_split_and_class_come_from_the_path(landscapes, tmp_path):
    items = scan_video_folder(landscapes)  # the dataset folder itself: its lists choose the files
    got = sorted((i.split, i.label, Path(i.path).relative_to(landscapes).as_posix()) for i in items)
    assert got == [("test", "explosion", "videos/test/explosion/e1.mp4"),
                   ("train", "explosion", "videos/train/explosion/e1.mp4"),
                   ("train", "fire_crackling", "videos/train/fire_crackling/f1.mp4")]
    assert len({i.video_id for i in items}) == 3  # two files named e1.mp4 get distinct ids
    # without lists every file under videos/<split>/ counts, split and class from its path
    bare = tmp_path / "bare"
    _clip(bare / "videos" / "test" / "thunder" / "t.mp4")
    _clip(bare / "videos" / "train" / "raining" / "r.mp4")
    (bare / "train.txt").write_text("raining/r.mp4\n")
    assert sorted((i.split, i.label) for i, _ in scan_release_folder(bare)) == [("test", "thunder"), ("train", "raining")]


def test_landscapes_manifest_feeds_training(landscapes, tmp_path):
    frame, report = avsync15.release_manifest(landscapes)  # the release route dispatches on the layout
    assert "landscapes layout" in report.notes
    out = avsync15.write_avsync15_manifest(frame, tmp_path / "landscapes.parquet")
    rows = frame.set_index("list_vid")
    assert rows.loc["fire_crackling/f1.mp4", ["label", "prompt", "split", "status"]].tolist() == [
        "fire_crackling", "fire crackling", "train", "ok"]
    assert rows.loc["explosion/gone.mp4", ["status", "reason", "split"]].tolist() == ["failed", "missing_file", "test"]
    assert rows.loc["fire_crackling/f1.mp4", ["width", "height"]].tolist() == [64, 32]
    train = read_clip_rows(out, "train", need_label=True)
    assert sorted(r.label for r in train) == ["explosion", "fire_crackling"]
    assert all(r.duration_s == pytest.approx(2.5, abs=0.1) for r in train)
    assert [r.label for r in read_clip_rows(out, "test", need_label=True)] == ["explosion"]  # the missing file is not offered


def test_greatest_hits_flat_folder_is_one_class(greatest_hits, tmp_path):
    items = scan_video_folder(greatest_hits)
    assert {(i.label, i.split) for i in items} == {(GREATEST_HITS_LABEL, "train"), (GREATEST_HITS_LABEL, "test")}
    assert sorted(i.video_id for i in items)[0] == "2015-02-20-16-49-06_denoised_thumb"
    frame, report = avsync15.release_manifest(greatest_hits)
    assert report.ok == {"train": 2, "test": 1} and report.failed == {"not_a_video": 1}
    assert set(frame["prompt"]) == {"hitting with a stick"}
    out = avsync15.write_avsync15_manifest(frame, tmp_path / "tgh.parquet")
    assert len(read_clip_rows(out, "train", need_label=True)) == 2
    from model.evaluate import evaluation_clips

    clips = evaluation_clips(out, "test", 3, 2.0)
    assert clips["clip_id"].str.endswith(("__clip0", "__clip1", "__clip2")).all() and len(clips) == 3
    assert set(clips["prompt"]) == {"hitting with a stick"}
