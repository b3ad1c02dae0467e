"""A local folder of videos: `root/<label>/.../<file>`, the first subfolder name is the label.

Splits: `root/train/<label>/…` and `root/test/<label>/…` give the rows that split; any other
layout leaves `split` null, and training on such a manifest is refused with that reason
(`curation.manifest.read_clips`), never an empty train set.

Which files are offered: every regular file whose suffix (any case) is in `VIDEO_SUFFIXES`.
Nothing is opened here, so a corrupt or empty `.mp4` still reaches the pipeline and becomes a
failed row there. Files with other or no suffixes (notes, `_truth.json` sidecars, `.part`
leftovers of downloads) are not offered, and neither are hidden files or folders (names starting
with '.', e.g. macOS `._clip.mp4` resource forks); pass `suffixes` to widen the choice.

video_id: the file stem when it is already a safe id and no other scanned file has the same
stem (a local VGGSound copy keeps its `<ytid>_<start:06d>` keys); otherwise the sanitised stem +
'_' + 8 hex of a hash of the relative path. Ids depend only on the folder's contents.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from curation.sources.ids import MAX_ID_LEN, is_safe_id, safe_chars
from curation.sources.item import SourceItem

VIDEO_SUFFIXES = frozenset({".mp4", ".m4v", ".mkv", ".webm", ".mov", ".avi"})
SPLIT_FOLDERS = ("train", "test")  # `root/<split>/<label>/…`: the split is kept


def _hashed_id(relative: Path, length: int = 8) -> str:
    digest = hashlib.sha1(relative.as_posix().encode("utf-8", "surrogateescape")).hexdigest()[:length]
    base = safe_chars(relative.stem)[: MAX_ID_LEN - length - 1]
    return f"{base}_{digest}" if base else digest


def local_video_ids(relatives: Iterable[Path]) -> dict[Path, str]:
    """Unique safe ids for paths relative to the scanned root (see the module doc)."""
    relatives = sorted(relatives)
    stems = Counter(relative.stem for relative in relatives)
    ids = {r: r.stem if is_safe_id(r.stem) and stems[r.stem] == 1 else _hashed_id(r) for r in relatives}
    # A plain stem may equal another file's hashed id only if someone named a file that way on
    # purpose; the longer hash settles it.
    counts = Counter(ids.values())
    for relative, video_id in ids.items():
        if counts[video_id] > 1:
            ids[relative] = _hashed_id(relative, 16)
    if len(set(ids.values())) != len(ids):
        raise ValueError("could not give the files in this folder unique ids")
    return ids


def scan_video_folder(root: str | Path, suffixes: Iterable[str] = VIDEO_SUFFIXES) -> list[SourceItem]:
    """Every video file under `root/<label>/` (recursively), sorted by relative path.

    `path` is absolute, so it never starts with '-'. Raises FileNotFoundError for a missing root,
    ValueError for video files directly in `root` (no label: the run could not balance classes;
    most likely the root is one class folder too deep).
    """
    root = Path(root).absolute()
    if not root.is_dir():
        raise FileNotFoundError(f"video folder not found: {root}")
    suffixes = {s.lower() for s in suffixes}
    relatives = []
    for path in root.rglob("*"):
        relative = path.relative_to(root)
        if path.suffix.lower() in suffixes and path.is_file() and not any(p.startswith(".") for p in relative.parts):
            relatives.append(relative)
    unlabelled = sorted(str(r) for r in relatives if len(r.parts) < 2)
    if unlabelled:
        raise ValueError(f"{len(unlabelled)} video(s) directly in {root} have no label folder, e.g. "
                         f"{unlabelled[0]!r}: put them in <root>/<label>/")
    ids = local_video_ids(relatives)
    return [SourceItem(video_id=ids[r], label=_label_and_split(r)[0], split=_label_and_split(r)[1], path=str(root / r))
            for r in sorted(relatives)]


def _label_and_split(relative: Path) -> tuple[str, str | None]:
    """`train/<label>/…` and `test/<label>/…` give a split (training needs one); else split None."""
    if len(relative.parts) >= 3 and relative.parts[0] in SPLIT_FOLDERS:
        return relative.parts[1], relative.parts[0]
    return relative.parts[0], None
