"""A local folder of videos: labels from subfolders, safe unique ids, nothing unreadable dropped."""

import pytest

from curation.sources.ids import is_safe_id
from curation.sources.local import scan_video_folder


def _touch(root, relative, data=b""):
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_subfolder_names_are_labels_and_ids_are_safe_and_unique(tmp_path, media_dir):
    good = (media_dir / "hitting_metal.mp4").read_bytes()
    root = tmp_path / "videos"
    files = {
        "dog_barking/-XxUW9gW6mc_000060.mp4": good,  # a VGGSound file keeps its key
        "dog_barking/deep/er/clip.MOV": b"",  # recursive below the label, any case of suffix
        "cat/a b.mp4": b"",
        "cat/a_b.mp4": b"not a video at all",  # corrupt: still offered, the pipeline fails it
        "cat/same.mp4": b"",
        "dog_barking/same.mkv": b"",  # same stem in two places
        "cat/--exec=x;rm.webm": b"",
    }
    for relative, data in files.items():
        _touch(root, relative, data)
    for skipped in ("cat/notes.txt", "cat/noext", "cat/clip.mp4.part", "cat/._clip.mp4", ".cache/x/y.mp4"):
        _touch(root, skipped)

    items = scan_video_folder(root)
    assert len(items) == len(files)
    by_path = {item.path: item for item in items}
    assert set(by_path) == {str(root / relative) for relative in files}
    ids = [item.video_id for item in items]
    assert len(set(ids)) == len(ids) and all(is_safe_id(i) for i in ids)
    assert by_path[str(root / "dog_barking/-XxUW9gW6mc_000060.mp4")].video_id == "-XxUW9gW6mc_000060"
    assert by_path[str(root / "cat/a_b.mp4")].video_id == "a_b"
    assert by_path[str(root / "cat/a b.mp4")].video_id.startswith("a_b_")
    assert by_path[str(root / "cat/same.mp4")].video_id != by_path[str(root / "dog_barking/same.mkv")].video_id
    assert by_path[str(root / "dog_barking/deep/er/clip.MOV")].label == "dog_barking"
    assert {item.label for item in items} == {"cat", "dog_barking"}
    assert all(item.path.startswith("/") and item.url is None and item.ytid is None for item in items)
    assert scan_video_folder(root) == items  # deterministic


def test_ids_depend_only_on_the_folder_contents(tmp_path, monkeypatch):
    for relative in ("b/x.mp4", "a/y.mp4"):
        _touch(tmp_path / "one", relative)
        _touch(tmp_path / "two", relative)
    assert [i.video_id for i in scan_video_folder(tmp_path / "one")] == [i.video_id for i in scan_video_folder(tmp_path / "two")]
    monkeypatch.chdir(tmp_path)
    assert [i.path for i in scan_video_folder("one")] == [str(tmp_path / "one" / r) for r in ("a/y.mp4", "b/x.mp4")]


def test_unlabelled_files_and_missing_folders_are_clear_errors(tmp_path):
    _touch(tmp_path, "loose.mp4")
    with pytest.raises(ValueError, match="no label folder"):
        scan_video_folder(tmp_path)
    with pytest.raises(FileNotFoundError):
        scan_video_folder(tmp_path / "nope")


def test_suffixes_can_be_widened(tmp_path):
    _touch(tmp_path, "cat/clip.ts")
    assert scan_video_folder(tmp_path) == []
    assert [i.label for i in scan_video_folder(tmp_path, suffixes={".ts", ".mp4"})] == ["cat"]
