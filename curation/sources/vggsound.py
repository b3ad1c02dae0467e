"""VGGSound lists: the official vggsound.csv, its split files, class lists, URL templates.

Two layouts are read:
- `vggsound.csv`: rows `ytid,start,label,split` (no header in the official file; a header line
  such as `ytid,start_time,class,set` is tolerated);
- split files such as `test.csv`: rows `<ytid>_<start:06d>.mp4,label`.
Labels containing commas are double-quoted in both (standard CSV). Rows with ids outside
`[A-Za-z0-9_-]` are kept, with `path=None` and `url=None`, so the pipeline records them as
failed rows (`unsafe_id`) instead of silently dropping them.
"""

from __future__ import annotations

import csv
import re
import string
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path

from curation.sources.ids import is_safe_id, vggsound_key
from curation.sources.item import SourceItem

YOUTUBE_URL = "https://www.youtube.com/watch?v={ytid}"
TEMPLATE_FIELDS = frozenset({"ytid", "start", "end", "video_id"})
_SPLIT_FILE_NAME = re.compile(r"^(?P<ytid>.+)_(?P<start>\d{1,7})\.mp4$")


def label_folder(label: str) -> str:
    """Folder name of a label, as AVSync15 spells them: ' ' and ',' become '_'
    ("playing violin, fiddle" → "playing_violin__fiddle"); see `normalise_label` for matching."""
    return label.replace(" ", "_").replace(",", "_")


def normalise_label(label: str) -> str:
    """Matching key: lower case, runs of spaces/commas/underscores collapsed to one '_', so
    "playing violin, fiddle", "playing_violin_fiddle" and "playing_violin__fiddle" agree."""
    return re.sub(r"[\s,_]+", "_", label.strip().lower()).strip("_")


def _item(ytid: str, start: str, label: str, split: str | None, clip_s: float = 10.0) -> SourceItem:
    try:
        start_s = float(start)
    except ValueError:
        start_s = float("nan")
    label = label.strip()
    if not is_safe_id(ytid) or not start_s >= 0:
        # The raw text is the key, so the failed row shows exactly what the CSV held.
        return SourceItem(video_id=f"{ytid}_{start}"[:200], label=label, split=split, ytid=None)
    return SourceItem(video_id=vggsound_key(ytid, start_s), label=label, split=split, ytid=ytid,
                      start_s=start_s, end_s=start_s + clip_s)


def read_vggsound_csv(path: str | Path, clip_s: float = 10.0) -> list[SourceItem]:
    """Items of a vggsound.csv-style or split-file CSV, in file order."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"CSV not found: {path}")
    items: list[SourceItem] = []
    with path.open(newline="", encoding="utf-8-sig") as handle:
        for line_number, row in enumerate(csv.reader(handle), start=1):
            row = [cell.strip() for cell in row]
            if not row or not any(row) or row[0].startswith("#"):
                continue
            if len(row) >= 3:  # ytid, start, label[, split]
                if line_number == 1 and not row[1].replace(".", "", 1).isdigit():
                    continue  # header line
                items.append(_item(row[0], row[1], row[2], row[3] if len(row) > 3 else None, clip_s))
            elif len(row) == 2:  # <ytid>_<start>.mp4, label
                match = _SPLIT_FILE_NAME.match(row[0])
                if match is None:
                    items.append(SourceItem(video_id=row[0][:200], label=row[1]))
                else:
                    items.append(_item(match["ytid"], match["start"], row[1], None, clip_s))
            else:
                raise ValueError(f"{path}:{line_number}: expected 'ytid,start,label[,split]' or "
                                 f"'<ytid>_<start>.mp4,label', got {row!r}")
    return items


def read_class_list(path: str | Path) -> list[str]:
    """Labels, one per line; '#' starts a comment; anything after a tab (notes) is ignored."""
    labels = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].split("\t", 1)[0].strip()
        if line:
            labels.append(line)
    return labels


def select_classes(items: Iterable[SourceItem], labels: Sequence[str]) -> list[SourceItem]:
    """Items whose label matches one of `labels` (after `normalise_label`)."""
    wanted = {normalise_label(label) for label in labels}
    return [item for item in items if normalise_label(item.label) in wanted]


def validate_url_template(template: str) -> None:
    """Reject templates with unknown fields, e.g. '{ytid}' is fine, '{id}' is an error."""
    fields = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    unknown = fields - TEMPLATE_FIELDS
    if unknown:
        raise ValueError(f"URL template {template!r} has unknown field(s) {sorted(unknown)}; "
                         f"allowed: {sorted(TEMPLATE_FIELDS)}")
    if not fields & {"ytid", "video_id"}:
        raise ValueError(f"URL template {template!r} names no clip: use {{ytid}} or {{video_id}}")


def with_urls(items: Iterable[SourceItem], url_template: str | None = None) -> list[SourceItem]:
    """Set each safe item's download URL (YouTube by default); unsafe items keep `url=None`."""
    template = url_template or YOUTUBE_URL
    validate_url_template(template)
    out = []
    for item in items:
        if item.ytid is None:
            out.append(item)
            continue
        url = template.format(ytid=item.ytid, start=int(item.start_s), end=int(item.end_s), video_id=item.video_id)
        out.append(replace(item, url=url))
    return out


def read_avsync15_list(path: str | Path, clip_s: float = 10.0) -> list[SourceItem]:
    """The AVSync15 clip list (`vid,label,split,...`, vid = `<ytid>_<start>_<end>_<t0>_<t1>`).

    Items are the VGGSound segments; the kept window (t0, t1 seconds into the segment) is
    not a SourceItem field and is returned by `avsync15_windows`.
    """
    items = []
    for vid, label, split, _ in _avsync15_rows(path):
        ytid, start, _end, _t0, _t1 = vid.rsplit("_", 4)
        items.append(replace(_item(ytid, start, label, split, clip_s), label=label))
    return items


def avsync15_windows(path: str | Path) -> dict[str, tuple[float, float]]:
    """video_id → (t0, t1): the window AVSync15 keeps inside each VGGSound segment, seconds."""
    windows = {}
    for vid, _label, _split, _ in _avsync15_rows(path):
        ytid, start, _end, t0, t1 = vid.rsplit("_", 4)
        windows[vggsound_key(ytid, float(start))] = (float(t0), float(t1))
    return windows


def _avsync15_rows(path: str | Path):
    with Path(path).open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            yield row["vid"], row["label"], row["split"], row
