"""VGGSound lists: the official vggsound.csv, its split files, class lists, URL templates, and
the AVSync15 clip list.

Two VGGSound layouts are read, row by row with the csv module (quoted commas, CRLF, BOM):
- `vggsound.csv`: rows `ytid,start,label,split` (no header in the official file; a header line
  such as `ytid,start_time,class,set` is tolerated);
- split files such as `test.csv`: rows `<ytid>_<start:06d>.mp4,label`.

Rejected rows: a row whose ytid is not a safe id (see `curation.sources.ids`) or whose start is
not a number in [0, 10^6) s is *kept*, as a SourceItem with `ytid`, `url` and `path` all None
(`is_rejected(item)` is True) and `video_id` set to the raw `<ytid>_<start>` text (at most 200
characters), so the pipeline writes a failed row with reason `unsafe_id` that shows what the CSV
held. Such a video_id is data only: it never reaches a path or a command line.
"""

from __future__ import annotations

import csv
import itertools
import re
import string
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import NamedTuple

from curation.sources.ids import is_safe_id, is_valid_start, vggsound_key
from curation.sources.item import SourceItem

YOUTUBE_URL = "https://www.youtube.com/watch?v={ytid}"
TEMPLATE_FIELDS = frozenset({"ytid", "start", "end", "video_id"})
SEGMENT_S = 10.0  # length of a VGGSound clip, seconds
AVSYNC15_CLASSES = Path(__file__).resolve().parents[2] / "data" / "classes" / "avsync15.txt"  # tracked in data/
_RAW_ID_LEN = 200
_SPLIT_FILE_NAME = re.compile(r"(?P<ytid>.+)_(?P<start>\d{1,7})(?:\.mp4)?", re.IGNORECASE)
_COLUMN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_ ]*")
_SEPARATORS = re.compile(r"[\s,_]+")
_NOT_FOLDER_SAFE = re.compile(r"[^A-Za-z0-9_-]+")


# ---------------------------------------------------------------------------------------------
# labels


def label_folder(label: str) -> str:
    """Folder name of a label: spaces/commas/underscores collapse to one '_', anything else outside
    `[A-Za-z0-9_-]` becomes '_' ("playing violin, fiddle" → "playing_violin_fiddle",
    "police car (siren)" → "police_car_siren"). Never empty, never starts with '-'."""
    folder = _NOT_FOLDER_SAFE.sub("_", _SEPARATORS.sub("_", label.strip()))
    folder = re.sub(r"_+", "_", folder).strip("_").lstrip("-")
    return folder or "unlabelled"


def normalise_label(label: str) -> str:
    """Matching key of a label: `label_folder` in lower case, so "playing violin, fiddle",
    "playing_violin_fiddle" and "playing_violin__fiddle" (AVSync15's spelling) agree."""
    return label_folder(label).lower()


def read_class_folders(path: str | Path) -> dict[str, str]:
    """Class list file → {label: folder}. One label per line, optionally a tab and the folder it
    belongs to (default `label_folder(label)`); '#' starts a comment."""
    folders: dict[str, str] = {}
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0]
        label, _, folder = line.partition("\t")
        label, folder = label.strip(), folder.strip()
        if label:
            folders[label] = folder or label_folder(label)
    return folders


def read_class_list(path: str | Path) -> list[str]:
    """Labels of a class list file (see `read_class_folders`), in file order."""
    return list(read_class_folders(path))


def select_classes(items: Iterable[SourceItem], labels: Iterable[str]) -> list[SourceItem]:
    """Items whose label equals one of `labels` after `normalise_label` (exact, no substring)."""
    wanted = {normalise_label(label) for label in labels}
    return [item for item in items if normalise_label(item.label) in wanted]


def class_lookup(folders: dict[str, str]) -> dict[str, str]:
    """{normalised label or folder: folder} of a class list (`read_class_folders`)."""
    by_key = {normalise_label(label): folder for label, folder in folders.items()}
    by_key.update({normalise_label(folder): folder for folder in folders.values()})
    return by_key


def label_as_classes(items: Iterable[SourceItem], folders: dict[str, str]) -> list[SourceItem]:
    """Items relabelled with their class list folder (`read_class_folders`): with the AVSync15
    list, "hammering nails" and "forging swords" become `hammering`, so a run narrowed to AVSync15
    has its 15 classes (and their prompts). Items whose label is not listed keep it."""
    by_key = class_lookup(folders)
    return [replace(item, label=by_key.get(normalise_label(item.label), item.label)) for item in items]


# ---------------------------------------------------------------------------------------------
# VGGSound CSVs


def _start_seconds(text: str) -> float | None:
    try:
        start_s = float(text)
    except ValueError:
        return None
    return start_s if is_valid_start(start_s) else None


def _vggsound_item(ytid: str, start: str, label: str, split: str | None, segment_s: float) -> SourceItem:
    start_s = _start_seconds(start)
    if start_s is None or not is_safe_id(ytid) or not is_safe_id(f"{ytid}_{int(start_s):06d}"):
        return SourceItem(video_id=f"{ytid}_{start}"[:_RAW_ID_LEN], label=label, split=split)
    return SourceItem(video_id=vggsound_key(ytid, start_s), label=label, split=split, ytid=ytid,
                      start_s=start_s, end_s=start_s + segment_s)


def _is_header(row: list[str]) -> bool:
    """A row made only of column names (`ytid,start_time,class,set`, `file,label`): no cell is a
    number and the first is not a `<ytid>_<start>` key."""
    return all(_COLUMN_NAME.fullmatch(cell) for cell in row) and _SPLIT_FILE_NAME.fullmatch(row[0]) is None


# No row of a source list comes near this; a longer line is not a list (and would cost memory).
MAX_LINE_CHARS = 64 * 1024


def _bounded_lines(handle, path: Path) -> Iterator[str]:
    """The lines of `handle`, each read with a bounded buffer; a line over MAX_LINE_CHARS is a
    ValueError naming the file and line, before it is held in memory whole."""
    for number in itertools.count(1):
        line = handle.readline(MAX_LINE_CHARS + 1)
        if not line:
            return
        if len(line) > MAX_LINE_CHARS:
            raise ValueError(f"{path}:{number}: line longer than {MAX_LINE_CHARS} characters; not a source list")
        yield line


def _csv_rows(reader, path: Path) -> Iterator[list[str]]:
    """Rows of a csv reader, a malformed one (e.g. a quoted field over the csv field limit) reported
    with the file and line."""
    try:
        yield from reader
    except csv.Error as exc:
        raise ValueError(f"{path}:{reader.line_num}: {exc}") from None


def read_vggsound_csv(path: str | Path, segment_s: float = SEGMENT_S) -> list[SourceItem]:
    """Items of a vggsound.csv-style (`ytid,start,label[,split]`) or split-file
    (`<ytid>_<start:06d>.mp4,label`) CSV, in file order; rejected rows included (module doc).

    `end_s = start_s + segment_s` (VGGSound clips are 10 s). Raises ValueError for a row with
    fewer than 2 columns (the file is not such a list at all).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"CSV not found: {path}")
    items: list[SourceItem] = []
    with path.open(newline="", encoding="utf-8-sig", errors="replace") as handle:
        # errors="replace": undecodable bytes end up in an id, which then fails is_safe_id.
        reader = csv.reader(_bounded_lines(handle, path))
        for row in _csv_rows(reader, path):
            row = [cell.strip() for cell in row]
            if not any(row) or row[0].startswith("#"):
                continue
            if not items and _is_header(row):
                continue  # a header line (the official file has none)
            if len(row) >= 3:  # ytid, start, label[, split]
                split = (row[3] or None) if len(row) > 3 else None
                items.append(_vggsound_item(row[0], row[1], row[2], split, segment_s))
            elif len(row) == 2:  # <ytid>_<start>.mp4, label
                match = _SPLIT_FILE_NAME.fullmatch(row[0])
                if match is None:
                    items.append(SourceItem(video_id=row[0][:_RAW_ID_LEN], label=row[1]))
                else:
                    items.append(_vggsound_item(match["ytid"], match["start"], row[1], None, segment_s))
            else:
                raise ValueError(f"{path}:{reader.line_num}: expected 'ytid,start,label[,split]' or "
                                 f"'<ytid>_<start>.mp4,label', got {row!r}")
    return items


# ---------------------------------------------------------------------------------------------
# URLs


def validate_url_template(template: str) -> None:
    """Raise ValueError unless `template` is an http(s) URL whose only fields are {ytid}, {start},
    {end}, {video_id} (format specs allowed: `{start:06d}`) and that names a clip."""
    if not template.startswith(("http://", "https://")):
        raise ValueError(f"URL template {template!r} must start with http:// or https://")
    try:
        fields = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError as error:
        raise ValueError(f"URL template {template!r} is not a valid format string: {error}") from None
    unknown = fields - TEMPLATE_FIELDS
    if unknown:
        raise ValueError(f"URL template {template!r} has unknown field(s) {sorted(unknown)}; "
                         f"allowed: {sorted(TEMPLATE_FIELDS)}")
    if not fields & {"ytid", "video_id"}:
        raise ValueError(f"URL template {template!r} names no clip: use {{ytid}} or {{video_id}}")
    try:  # a bad format spec such as {ytid:d} fails here, not on the 10,000th row
        template.format(ytid="abcdefghijk", start=30, end=40, video_id="abcdefghijk_000030")
    except (ValueError, TypeError) as error:
        raise ValueError(f"URL template {template!r} cannot be filled: {error}") from None


def with_urls(items: Iterable[SourceItem], url_template: str | None = None) -> list[SourceItem]:
    """Set the download URL of each VGGSound item: YouTube by default, or `url_template` filled
    with {ytid}, {start}, {end} (whole seconds) and {video_id}. Items without a ytid (rejected rows,
    local files) are returned unchanged."""
    template = url_template or YOUTUBE_URL
    validate_url_template(template)
    out = []
    for item in items:
        if item.ytid is None or item.start_s is None:
            out.append(item)
            continue
        end_s = item.end_s if item.end_s is not None else item.start_s + SEGMENT_S
        url = template.format(ytid=item.ytid, start=int(item.start_s), end=int(end_s), video_id=item.video_id)
        out.append(replace(item, url=url))
    return out


# ---------------------------------------------------------------------------------------------
# AVSync15 (the clip list of the paper's dataset: asva.csv)


class ClipWindow(NamedTuple):
    """A window AVSync15 keeps inside a VGGSound segment: seconds from the segment start."""

    t0_s: float
    t1_s: float
    split: str


def _avsync15_rows(path: str | Path) -> Iterator[tuple[str, str, str]]:
    with Path(path).open(newline="", encoding="utf-8-sig", errors="replace") as handle:
        reader = csv.DictReader(_bounded_lines(handle, Path(path)))
        for row in _csv_rows(reader, Path(path)):
            yield (row.get("vid") or "").strip(), (row.get("label") or "").strip(), (row.get("split") or "").strip()


def parse_avsync15_vid(vid: str) -> tuple[str, float, float, float, float] | None:
    """`<ytid>_<start:06d>_<end:06d>_<t0>_<t1>` → (ytid, start_s, end_s, t0_s, t1_s), or None if
    the text is not of that form or the ytid is unsafe."""
    parts = vid.rsplit("_", 4)
    if len(parts) != 5 or not is_safe_id(parts[0]):
        return None
    try:
        start_s, end_s, t0_s, t1_s = (float(p) for p in parts[1:])
    except ValueError:
        return None
    if not (is_valid_start(start_s) and start_s < end_s and 0 <= t0_s < t1_s <= end_s - start_s):
        return None
    return parts[0], start_s, end_s, t0_s, t1_s


def read_avsync15_list(path: str | Path) -> list[SourceItem]:
    """The VGGSound segments behind the AVSync15 list (`vid,label,split,new_split,frames_count`).

    One item per segment (`<ytid>_<start:06d>`, first occurrence order; 1,430 for the 1,500 rows),
    `start_s`/`end_s` of the segment, label = the AVSync15 folder name as written in the list.
    A segment whose windows fall in different splits (5 in asva.csv) gets split "test,train".
    The windows themselves: `avsync15_windows`. Malformed vids are kept as rejected items.
    """
    items: dict[str, SourceItem] = {}
    splits: dict[str, set[str]] = {}
    for vid, label, split in _avsync15_rows(path):
        parsed = parse_avsync15_vid(vid)
        if parsed is None:
            items.setdefault(vid[:_RAW_ID_LEN], SourceItem(video_id=vid[:_RAW_ID_LEN], label=label, split=split or None))
            continue
        ytid, start_s, end_s, _, _ = parsed
        key = vggsound_key(ytid, start_s)
        items.setdefault(key, SourceItem(video_id=key, label=label, ytid=ytid, start_s=start_s, end_s=end_s))
        splits.setdefault(key, set()).add(split)
    return [replace(item, split=",".join(sorted(splits[key])) or None) if key in splits else item
            for key, item in items.items()]


def avsync15_windows(path: str | Path) -> dict[str, list[ClipWindow]]:
    """video_id → the windows AVSync15 keeps in that segment (file order; up to 3 per segment)."""
    windows: dict[str, list[ClipWindow]] = {}
    for vid, _label, split in _avsync15_rows(path):
        parsed = parse_avsync15_vid(vid)
        if parsed is not None:
            ytid, start_s, _, t0_s, t1_s = parsed
            windows.setdefault(vggsound_key(ytid, start_s), []).append(ClipWindow(t0_s, t1_s, split))
    return windows


def read_any_list(path: str | Path, segment_s: float = SEGMENT_S) -> list[SourceItem]:
    """`read_avsync15_list` for a CSV whose header starts with `vid,`, else `read_vggsound_csv`."""
    with Path(path).open(newline="", encoding="utf-8-sig", errors="replace") as handle:
        first = handle.readline(MAX_LINE_CHARS)
    if first.replace(" ", "").lower().startswith("vid,label"):
        return read_avsync15_list(path)
    return read_vggsound_csv(path, segment_s)


__all__ = [
    "AVSYNC15_CLASSES", "ClipWindow", "SEGMENT_S", "TEMPLATE_FIELDS", "YOUTUBE_URL", "avsync15_windows",
    "class_lookup", "label_as_classes", "label_folder", "normalise_label", "parse_avsync15_vid", "read_any_list", "read_avsync15_list",
    "read_class_folders", "read_class_list", "read_vggsound_csv", "select_classes", "validate_url_template",
    "with_urls",
]
