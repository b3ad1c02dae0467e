"""A local folder of videos: `root/<label>/.../<file>`, the first subfolder name is the label.

The authors' dataset folders (their README §4: `videos/` + `train.txt` + `test.txt`), in each of
their layouts (`release_layout`):
- AVSync15: `videos/<class>/<file>.mp4`, lists of `<class>/<file>.mp4` — read by
  `curation.avsync15.release_manifest`;
- Landscapes: `videos/<split>/<class>/<file>.mp4`, split and class from the path (the lists, of
  `<class>/<file>.mp4` under `videos/<split>/`, choose the files when present);
- TheGreatestHits: flat `videos/<name>_denoised_thumb.mp4`, lists of file names, one class (their
  code's "hitting with a stick").
The last two are read by `scan_release_folder`: `scan_video_folder` of the dataset folder itself
uses it (so `flows.curate --videos` curates them), and `release_folder_manifest` turns them into
the AVSync15-schema manifest (`curation.avsync15`) that `model.train --manifest` and
`model.evaluate` read (`python -m flows.avsync15 --release DIR`).

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
import logging
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

from curation.sources.ids import MAX_ID_LEN, is_safe_id, safe_chars
from curation.sources.item import SourceItem

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = frozenset({".mp4", ".m4v", ".mkv", ".webm", ".mov", ".avi"})
SPLIT_FOLDERS = ("train", "test")  # `root/<split>/<label>/…`: the split is kept
ReleaseLayout = Literal["avsync15", "landscapes", "greatesthits"]
# TheGreatestHits has one class; the authors' code conditions on this text (get_thegreatesthits_evaluation_data).
GREATEST_HITS_LABEL, GREATEST_HITS_PROMPT = "hitting_with_a_stick", "hitting with a stick"


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
    if release_layout(root) in ("landscapes", "greatesthits"):  # an authors' dataset folder: its lists decide
        items = [item for item, _ in scan_release_folder(root, suffixes)]
        present = [item for item in items if Path(item.path).is_file()]
        if len(present) < len(items):
            log.warning("%d listed file(s) of %s do not exist, e.g. %s", len(items) - len(present), root,
                        next(i.path for i in items if i not in present))
        return present
    relatives = _video_files(root, suffixes)
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


def _video_files(root: Path, suffixes: Iterable[str] = VIDEO_SUFFIXES) -> list[Path]:
    """Paths (relative to `root`) of the non-hidden files under it with a video suffix."""
    suffixes = {s.lower() for s in suffixes}
    relatives = []
    for path in root.rglob("*"):
        relative = path.relative_to(root)
        if path.suffix.lower() in suffixes and path.is_file() and not any(p.startswith(".") for p in relative.parts):
            relatives.append(relative)
    return relatives


def release_layout(root: str | Path) -> ReleaseLayout | None:
    """Which of the authors' dataset layouts `root` holds (module doc), or None: not a dataset
    folder (no `videos/` beside `train.txt` or `test.txt`)."""
    root = Path(root)
    videos = root / "videos"
    if not videos.is_dir() or not any((root / f"{split}.txt").is_file() for split in SPLIT_FOLDERS):
        return None
    if any((videos / split).is_dir() for split in SPLIT_FOLDERS):
        return "landscapes"
    if any(p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES for p in videos.iterdir()):
        return "greatesthits"
    return "avsync15"


def _listed(root: Path, split: str) -> list[str] | None:
    path = root / f"{split}.txt"
    if not path.is_file():
        return None
    return [line.strip().removeprefix("videos/") for line in path.read_text(encoding="utf-8-sig").splitlines()
            if line.strip()]


def scan_release_folder(root: str | Path, suffixes: Iterable[str] = VIDEO_SUFFIXES) -> list[tuple[SourceItem, str]]:
    """(item, the line or path that named it) for every file of a Landscapes or TheGreatestHits
    folder, in
    split then list order. Label = the class folder (TheGreatestHits: `GREATEST_HITS_LABEL`),
    split = the list (Landscapes: the path's split folder). A listed file that does not exist
    is still an item (the manifest records it as missing); Landscapes files under
    `videos/<split>/` are all items when that split has no list. Raises ValueError for a folder
    that is none of the layouts."""
    root = Path(root).absolute()
    layout = release_layout(root)
    if layout is None:
        raise ValueError(f"{root} is not one of the authors' dataset folders (videos/ with train.txt / test.txt)")
    if layout == "avsync15":
        raise ValueError(f"{root} is an AVSync15 release folder: read it with curation.avsync15.release_manifest "
                         "(python -m flows.avsync15 --release)")
    videos = root / "videos"
    entries: list[tuple[str, str, Path, str]] = []  # split, label, path relative to root, naming line
    for split in SPLIT_FOLDERS:
        listed = _listed(root, split)
        if layout == "landscapes":
            base = videos / split
            if listed is None:
                listed = [r.as_posix() for r in sorted(_video_files(base, suffixes))] if base.is_dir() else []
            for line in listed:
                entries.append((split, line.split("/", 1)[0], Path("videos", split, line), line))
        else:
            entries += [(split, GREATEST_HITS_LABEL, Path("videos", line), line) for line in listed or []]
    ids = local_video_ids({relative for _, _, relative, _ in entries})
    return [(SourceItem(video_id=ids[relative], label=label, split=split, path=str(root / relative)), line)
            for split, label, relative, line in entries]


def release_folder_manifest(root: str | Path) -> tuple["pd.DataFrame", "RouteReport"]:  # noqa: F821
    """A Landscapes or TheGreatestHits folder → rows of the AVSync15 manifest schema (write them
    with `curation.avsync15.write_avsync15_manifest`). Every file is probed; the whole file is
    the clip (start_s 0, end_s its duration), as the authors train on whole videos; a missing or
    broken file is a `failed` row with its reason. Prompts: the folder's `class_mapping.json`
    (class folder → text) when present, else the class with '_' as spaces."""
    import pandas as pd

    from curation.avsync15 import RouteReport, _probe_fields, class_prompt, read_prompts

    root = Path(root).absolute()
    scanned = scan_release_folder(root)
    prompts = {GREATEST_HITS_LABEL: GREATEST_HITS_PROMPT}
    if (root / "class_mapping.json").is_file():
        prompts.update(read_prompts(root / "class_mapping.json"))
    rows, seen = [], set()
    for item, line in scanned:
        if item.path in seen:  # a file in both lists keeps its first (train) row
            continue
        seen.add(item.path)
        fields = _probe_fields(Path(item.path))
        duration = fields.pop("duration_file_s", float("nan"))
        rows.append({"video_id": item.video_id, "label": item.label, "prompt": class_prompt(item.label, prompts),
                     "split": item.split, "path": item.path, "source": "release", "list_vid": line,
                     **fields, "start_s": 0.0, "end_s": duration, "duration_s": duration})
    if not rows:
        raise ValueError(f"{root}: its lists name no file")
    frame = pd.DataFrame(rows)
    frame = frame.reindex(columns=[*frame.columns, *(c for c in ("reason", "detail") if c not in frame.columns)])
    notes = [f"{release_layout(root)} layout"]
    if len(seen) < len(scanned):
        notes.append(f"{len(scanned) - len(seen)} file(s) listed twice, first listing kept")
    return frame, RouteReport.of(frame, notes)
