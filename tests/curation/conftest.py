"""Fixtures shared by the curation tests."""

import shutil

import pytest


@pytest.fixture
def video_folder(tmp_path, media_dir):
    """Two good videos (one with three scenes) and an empty file, in two classes (three batches at
    batch size 1)."""
    folder = tmp_path / "videos"
    for label, name, source in (("hits", "metal", "hitting_metal.mp4"), ("movie", "rotated", "issue-134-rotate.mp4")):
        (folder / label).mkdir(parents=True)
        shutil.copy(media_dir / source, folder / label / f"{name}.mp4")
    (folder / "hits" / "empty.mp4").write_bytes(b"")
    return folder
