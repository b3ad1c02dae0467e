import pytest

from curation.sources.local import scan_video_folder


def test_subfolder_names_are_labels_and_ids_are_safe_and_unique(tmp_path):
    for relative in ["dog/a.mp4", "dog/sub/a.mp4", "cat/a b.mp4", "cat/a_b.mp4", "cat/notes.txt", "cat/x.MKV"]:
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")
    items = scan_video_folder(tmp_path)
    assert [(i.label, i.video_id) for i in items][:2] == [("cat", items[0].video_id), ("cat", "cat__a_b")]
    assert len({i.video_id for i in items}) == len(items) == 5  # notes.txt skipped, empty files kept
    assert all(set(i.video_id) <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") for i in items)
    assert {i.label for i in items} == {"cat", "dog"}
    assert scan_video_folder(tmp_path) == items  # deterministic


def test_unlabelled_files_and_missing_folders_are_clear_errors(tmp_path):
    (tmp_path / "loose.mp4").write_bytes(b"")
    with pytest.raises(ValueError, match="no label folder"):
        scan_video_folder(tmp_path)
    with pytest.raises(FileNotFoundError):
        scan_video_folder(tmp_path / "nope")
