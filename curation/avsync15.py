"""AVSync15 (paper §3.1): the one manifest schema every route writes, its writer, the class list,
prompts and VGGSound-label mapping, and the two routes that rebuild the dataset.

Routes (all end in `write_avsync15_manifest`; schema in docs/manifests.md):
- `release_manifest`: the authors' released folder, `videos/<class>/<file>.mp4` plus `train.txt` /
  `test.txt` listing `<class>/<file>.mp4` (and `class_mapping.json`, folder → prompt, if present).
  Every listed file is probed; a missing or broken one is a `failed` row with its reason.
- `youtube_items` + `youtube_manifest`: the published 1,500-row list (`data/avsync15/asva.csv`,
  `vid` = `<ytid>_<start:06d>_<end:06d>_<t0>_<t1>`). Its 1,430 VGGSound segments are downloaded
  by `curation.sources.download`; each row becomes the window [t0, t1] s of its segment file
  (`start_s`/`end_s` in the file, no re-encode). Rows whose segment also has a window in the
  other split (5 segments in asva.csv) keep the official split and are flagged `shared_segment`.
- The review page's export (`curation.review.export`).

A row is `status` = `ok` (usable) or `failed` (`reason`, `detail`); `curation.manifest.read_clips`
keeps only ok rows and says why when none is left.
"""

from __future__ import annotations

import json
import logging
import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa

from curation.manifest import write_parquet_atomic
from curation.media import MediaError, probe
from curation.sources.download import DownloadResult
from curation.sources.ids import UNSAFE_ID, is_safe_id, vggsound_key
from curation.sources.item import SourceItem
from curation.sources.vggsound import (AVSYNC15_CLASSES, class_lookup, normalise_label, parse_avsync15_vid, read_avsync15_list,
                                       read_class_folders, with_urls)

log = logging.getLogger(__name__)

DATA_DIR = Path(__file__).resolve().parents[1] / "data"
CLASSES_FILE = AVSYNC15_CLASSES  # data/classes/avsync15.txt: VGGSound label <TAB> AVSync15 class
PROMPTS_FILE = DATA_DIR / "classes" / "avsync15_prompts.json"
VGGSS_FILE = DATA_DIR / "classes" / "vggss.txt"
ASVA_LIST = DATA_DIR / "avsync15" / "asva.csv"

SPLITS = ("train", "test")
SOURCES = ("release", "youtube", "review")
STATUSES = ("ok", "failed")
WINDOW_TOLERANCE_S = 0.05  # a kept window may end this far past the file's last frame

# The schema. Required columns first; the rest may be null (provenance differs per route).
AVSYNC15_SCHEMA = pa.schema([
    ("video_id", pa.string()),  # row key (with clip_index for review exports)
    ("label", pa.string()),  # AVSync15 class folder, e.g. "hammering"
    ("prompt", pa.string()),  # text condition of the class
    ("split", pa.string()),  # "train" | "test"
    ("path", pa.string()),  # video file (relative paths are relative to the manifest's folder)
    ("start_s", pa.float64()),  # kept window, seconds in `path`
    ("end_s", pa.float64()),
    ("duration_s", pa.float64()),
    ("source", pa.string()),  # "release" | "youtube" | "review"
    ("status", pa.string()),  # "ok" | "failed"
    ("reason", pa.string()),  # failure code (missing_file, not_a_video, download_failed, ...)
    ("detail", pa.string()),  # the underlying message (FFmpeg's, yt-dlp's)
    ("ytid", pa.string()),  # YouTube id of the VGGSound segment
    ("vggsound_start_s", pa.float64()),  # segment start in the YouTube video
    ("vggsound_label", pa.string()),  # VGGSound wording, when known
    ("list_vid", pa.string()),  # the row's `vid` in asva.csv, or the release file name
    ("shared_segment", pa.bool_()),  # the segment also has a window in the other split
    ("fps", pa.float64()),
    ("width", pa.int32()),
    ("height", pa.int32()),
    ("has_audio", pa.bool_()),
])
AVSYNC15_COLUMNS: list[str] = AVSYNC15_SCHEMA.names
REQUIRED_COLUMNS = ("video_id", "label", "prompt", "split", "path", "start_s", "end_s", "duration_s", "source")


# ---------------------------------------------------------------------------------------------
# classes, mapping, prompts


def class_mapping(classes_file: str | Path = CLASSES_FILE) -> dict[str, str]:
    """{normalised VGGSound label or class folder: AVSync15 class folder} from a class list file
    ("hammering nails", "forging_swords", "hammering" → "hammering"; both violin spellings match)."""
    return class_lookup(read_class_folders(classes_file))


def avsync15_classes(classes_file: str | Path = CLASSES_FILE) -> list[str]:
    """The class folders of a class list file, in file order (15 for the shipped list)."""
    return list(dict.fromkeys(read_class_folders(classes_file).values()))


def to_avsync15_class(label: str, mapping: dict[str, str] | None = None) -> str | None:
    """The AVSync15 class of a VGGSound label or folder name, None when it is not one."""
    return (mapping or class_mapping()).get(normalise_label(label))


def read_prompts(path: str | Path = PROMPTS_FILE) -> dict[str, str]:
    """{class folder: prompt} from a JSON object (the shipped prompts, or a release's class_mapping.json)."""
    prompts = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(prompts, dict) or not all(isinstance(v, str) for v in prompts.values()):
        raise ValueError(f"{path}: expected a JSON object {{class folder: prompt text}}")
    return {normalise_label(k): v for k, v in prompts.items()}


def class_prompt(label: str, prompts: dict[str, str] | None = None) -> str:
    """Prompt of a class: from `prompts` (default data/classes/avsync15_prompts.json), else the
    folder name with '_' as spaces ("dog_barking" → "dog barking")."""
    if prompts is None:
        prompts = read_prompts() if PROMPTS_FILE.is_file() else {}
    return prompts.get(normalise_label(label)) or " ".join(label.replace("_", " ").split())


# ---------------------------------------------------------------------------------------------
# the schema's writer


def validate_avsync15_manifest(frame: pd.DataFrame) -> pa.Table:
    """The frame as a table of the schema (+ any extra columns, kept as they are). Raises
    ValueError naming the first problem: a missing column, a split outside train/test, an unknown
    source or status, an ok row without a file or with an empty window, an empty prompt, or a
    duplicated key."""
    missing = [name for name in REQUIRED_COLUMNS if name not in frame.columns]
    if missing:
        raise ValueError(f"AVSync15 manifest lacks columns {missing} (needs {', '.join(REQUIRED_COLUMNS)})")
    frame = frame.copy()
    if "status" not in frame.columns or frame["status"].isna().all():
        frame["status"] = "ok"
    for name in AVSYNC15_COLUMNS:
        if name not in frame.columns:
            frame[name] = None

    def check(bad: pd.Series, what: str) -> None:
        if bad.any():
            example = frame.loc[bad].iloc[0]
            raise ValueError(f"AVSync15 manifest: {int(bad.sum())} row(s) {what} (first: video_id "
                             f"{example['video_id']!r})")

    check(~frame["split"].isin(SPLITS), f"have a split outside {list(SPLITS)}")
    check(~frame["source"].isin(SOURCES), f"have a source outside {list(SOURCES)}")
    check(~frame["status"].isin(STATUSES), f"have a status outside {list(STATUSES)}")
    check(frame["video_id"].isna() | (frame["video_id"].astype(str) == ""), "have no video_id")
    check(frame["label"].isna() | (frame["label"].astype(str) == ""), "have no label")
    check(frame["prompt"].isna() | (frame["prompt"].astype(str).str.strip() == ""), "have an empty prompt")
    ok = frame["status"] == "ok"
    check(ok & (frame["path"].isna() | (frame["path"].astype(str) == "")), "are ok but have no path")
    check(ok & ~(frame["end_s"] > frame["start_s"]), "are ok but their window is empty (end_s <= start_s)")
    check(frame["status"].eq("failed") & frame["reason"].isna(), "failed without a reason")
    key = ["video_id", "clip_index"] if "clip_index" in frame.columns else ["video_id"]
    check(frame.duplicated(key, keep="first"), f"repeat the key {key}")
    extra = [name for name in frame.columns if name not in AVSYNC15_COLUMNS]
    schema = pa.schema(list(AVSYNC15_SCHEMA) + [pa.Table.from_pandas(frame[extra], preserve_index=False).schema.field(n)
                                                 for n in extra])
    ordered = frame[AVSYNC15_COLUMNS + extra].astype({"shared_segment": "object", "has_audio": "object"})
    return pa.Table.from_pandas(ordered, schema=schema, preserve_index=False)


def write_avsync15_manifest(frame: pd.DataFrame, path: str | Path) -> Path:
    """Validate (`validate_avsync15_manifest`) and write atomically; returns the path. Classes
    outside AVSync15's 15 are allowed (a user's own selection) and logged."""
    table = validate_avsync15_manifest(frame)
    others = sorted(set(table.column("label").to_pylist()) - set(avsync15_classes()))
    if others:
        log.info("manifest has classes outside AVSync15's 15: %s", ", ".join(others))
    write_parquet_atomic(table, path)
    return Path(path)


@dataclass
class RouteReport:
    """What a route did, for the CLI and the flow's artifacts."""

    rows: int = 0
    ok: dict[str, int] = field(default_factory=dict)  # split → ok rows
    failed: dict[str, int] = field(default_factory=dict)  # reason → rows
    notes: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, frame: pd.DataFrame, notes: Iterable[str] = ()) -> RouteReport:
        ok = frame[frame["status"] == "ok"]
        failed = frame[frame["status"] == "failed"]
        return cls(len(frame), ok["split"].value_counts().to_dict(), failed["reason"].value_counts().to_dict(),
                   list(notes))

    def lines(self) -> list[str]:
        out = [f"{self.rows} rows: " + ", ".join(f"{n} {s}" for s, n in sorted(self.ok.items())) + " ok"
               + (f", {sum(self.failed.values())} failed" if self.failed else "")]
        out += [f"  failed {reason}: {n}" for reason, n in sorted(self.failed.items(), key=lambda kv: -kv[1])]
        return out + [f"  note: {note}" for note in self.notes]


def _probe_fields(path: Path) -> dict:
    """ok/failed fields of one file from `curation.media.probe` (duration, fps, size, audio)."""
    try:
        info = probe(path)
    except MediaError as exc:
        return {"status": "failed", "reason": exc.reason, "detail": exc.detail[:300] or None}
    return {"status": "ok", "duration_file_s": info.duration_s, "fps": info.fps, "width": info.width,
            "height": info.height, "has_audio": info.has_audio}


# ---------------------------------------------------------------------------------------------
# route 1: the authors' release folder


def _read_split_file(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text(encoding="utf-8-sig").splitlines() if line.strip()]


def _release_file(videos_dir: Path, listed: str, folders: dict[str, str]) -> Path:
    """The file a list line names; a class folder spelled the other way (playing_violin_fiddle /
    playing_violin__fiddle) is found too."""
    listed = listed.removeprefix("videos/")
    path = videos_dir / listed
    if path.is_file() or "/" not in listed:
        return path
    folder, name = listed.split("/", 1)
    for candidate in folders.get(normalise_label(folder), []):
        if (videos_dir / candidate / name).is_file():
            return videos_dir / candidate / name
    return path


def release_lists(release_dir: str | Path) -> dict[str, Path]:
    """{split: its list file} of a release folder; FileNotFoundError naming what is missing."""
    lists = {split: Path(release_dir) / f"{split}.txt" for split in SPLITS}
    absent = [str(p) for p in lists.values() if not p.is_file()]
    if absent:
        raise FileNotFoundError(f"not an AVSync15 release folder: {', '.join(absent)} missing "
                                f"(expected videos/<class>/<file>.mp4 with train.txt and test.txt)")
    return lists


def release_manifest(release_dir: str | Path, classes_file: str | Path = CLASSES_FILE) -> tuple[pd.DataFrame, RouteReport]:
    """Rows of the authors' release folder (module doc). The whole file is the clip: start_s = 0,
    end_s = its probed duration. A file name that is an asva.csv `vid` fills the VGGSound provenance.
    A Landscapes or TheGreatestHits folder is read by `curation.sources.local.release_folder_manifest`."""
    release_dir = Path(release_dir)
    from curation.sources.local import release_folder_manifest, release_layout

    if release_layout(release_dir) in ("landscapes", "greatesthits"):  # the authors' other two datasets
        return release_folder_manifest(release_dir)
    videos_dir = release_dir / "videos"
    lists = release_lists(release_dir)
    mapping = class_mapping(classes_file)
    prompts = read_prompts(PROMPTS_FILE) if PROMPTS_FILE.is_file() else {}
    if (release_dir / "class_mapping.json").is_file():
        prompts.update(read_prompts(release_dir / "class_mapping.json"))
    on_disk: dict[str, list[str]] = {}
    if videos_dir.is_dir():
        for folder in sorted(p.name for p in videos_dir.iterdir() if p.is_dir()):
            on_disk.setdefault(normalise_label(folder), []).append(folder)
    rows, listed_files, notes = [], set(), []
    for split, list_path in lists.items():
        for line in _read_split_file(list_path):
            folder = line.removeprefix("videos/").split("/", 1)[0] if "/" in line else ""
            label = mapping.get(normalise_label(folder), folder) or "unknown"
            path = _release_file(videos_dir, line, on_disk)
            listed_files.add(path.resolve())
            stem = Path(line).stem
            parsed = parse_avsync15_vid(stem)
            row = {"video_id": stem, "label": label, "prompt": class_prompt(label, prompts), "split": split,
                   "path": str(path.absolute()),
                   "source": "release", "list_vid": line,
                   "ytid": parsed[0] if parsed else None, "vggsound_start_s": parsed[1] if parsed else None}
            fields = _probe_fields(path)
            duration = fields.pop("duration_file_s", math.nan)
            row.update(fields, start_s=0.0, end_s=duration, duration_s=duration)
            rows.append(row)
    frame = pd.DataFrame(rows)
    if frame.empty:
        raise ValueError(f"{release_dir}: train.txt and test.txt list no file")
    dupes = frame["video_id"].duplicated(keep="first")
    if dupes.any():  # a file in both lists: keep its first (train) row, report it
        notes.append(f"{int(dupes.sum())} file(s) listed twice, first listing kept: "
                     + ", ".join(frame.loc[dupes, "list_vid"].head(5)))
        frame = frame[~dupes].reset_index(drop=True)
    unlisted = [p for p in videos_dir.rglob("*.mp4") if p.resolve() not in listed_files] if videos_dir.is_dir() else []
    if unlisted:
        notes.append(f"{len(unlisted)} file(s) under videos/ are in neither list and were left out, e.g. "
                     f"{unlisted[0].relative_to(videos_dir)}")
    unknown = sorted(set(frame["label"]) - set(mapping.values()))
    if unknown:
        notes.append(f"class folders not in {Path(classes_file).name}: {', '.join(unknown)} (kept under their own name)")
    return frame, RouteReport.of(frame, notes)


# ---------------------------------------------------------------------------------------------
# route 2: the published list, downloaded


def youtube_items(list_path: str | Path = ASVA_LIST, url_template: str | None = None) -> list[SourceItem]:
    """The list's VGGSound segments (one per `<ytid>_<start:06d>`) with their download URLs."""
    return with_urls(read_avsync15_list(list_path), url_template)


def youtube_manifest(list_path: str | Path, results: Iterable[DownloadResult],
                     classes_file: str | Path = CLASSES_FILE) -> tuple[pd.DataFrame, RouteReport]:
    """One row per list row: the window [t0, t1] of its downloaded segment. A failed download,
    a broken file or a window past the file's end is a failed row with the reason; rows the list
    cannot parse are failed rows (`bad_list_row`). `path` is the downloaded file as the results
    give it (absolute)."""
    by_id = {r.video_id: r for r in results}
    mapping = class_mapping(classes_file)
    prompts = read_prompts(PROMPTS_FILE) if PROMPTS_FILE.is_file() else {}
    table = pd.read_csv(list_path, dtype=str, keep_default_na=False)
    parsed = [parse_avsync15_vid(vid.strip()) for vid in table["vid"]]
    segment = [vggsound_key(p[0], p[1]) if p else None for p in parsed]
    splits_of: dict[str, set[str]] = {}
    for key, split in zip(segment, table["split"]):
        if key:
            splits_of.setdefault(key, set()).add(split.strip())
    probed: dict[str, dict] = {}
    rows, notes, ambiguous = [], [], []
    for index, (vid, raw_label, split) in enumerate(zip(table["vid"], table["label"], table["split"])):
        vid, split = vid.strip(), split.strip().lower()
        label = mapping.get(normalise_label(raw_label), raw_label.strip())
        row = {"video_id": vid or f"row{index + 2}", "label": label, "prompt": class_prompt(label, prompts),
               "split": split, "source": "youtube", "list_vid": vid, "start_s": math.nan, "end_s": math.nan}
        p, key = parsed[index], segment[index]
        if split not in SPLITS:
            # The list's split column is the official split; a value outside train/test cannot be
            # guessed, so the row is kept as a failed train row and reported.
            row.update(split="train", status="failed", reason="bad_split", detail=f"split {split!r} in the list")
            ambiguous.append(vid)
        elif p is None:
            unsafe = len(parts := vid.rsplit("_", 4)) == 5 and not is_safe_id(parts[0])
            row.update(status="failed", reason=UNSAFE_ID if unsafe else "bad_list_row",
                       detail=f"vid {vid[:200]!r} is not <ytid>_<start>_<end>_<t0>_<t1> with a safe ytid")
        else:
            ytid, start_s, _end_s, t0, t1 = p
            row.update(ytid=ytid, vggsound_start_s=start_s, start_s=t0, end_s=t1,
                       shared_segment=len(splits_of[key]) > 1)
            result = by_id.get(key)
            if result is None or not result.ok:
                row.update(status="failed", reason="download_failed",
                           detail=(result.reason if result else "segment was not downloaded"))
            else:
                if key not in probed:
                    probed[key] = _probe_fields(Path(result.path))
                fields = dict(probed[key])
                duration = fields.pop("duration_file_s", math.nan)
                if fields["status"] == "ok" and t1 > duration + WINDOW_TOLERANCE_S:
                    fields.update(status="failed", reason="window_past_end",
                                  detail=f"kept window ends at {t1:g} s, the file at {duration:.2f} s")
                row.update(fields, path=str(result.path))
        row["duration_s"] = row["end_s"] - row["start_s"]
        rows.append(row)
    frame = pd.DataFrame(rows)
    shared = frame["shared_segment"].fillna(False).astype(bool) if "shared_segment" in frame else pd.Series(False)
    if shared.any():
        notes.append(f"{int(shared.sum())} rows of {frame.loc[shared, 'ytid'].nunique()} segments have windows in "
                     "both splits: kept in their official split (so the 90/10 counts hold), flagged shared_segment")
    if ambiguous:
        notes.append(f"{len(ambiguous)} rows had a split other than train/test and are failed (bad_split)")
    return frame, RouteReport.of(frame, notes)


# ---------------------------------------------------------------------------------------------
# leakage guard: AVSync15 test clips inside other manifests


def avsync15_segment_keys(list_path: str | Path = ASVA_LIST, split: str | None = "test") -> set[str]:
    """`<ytid>_<start:06d>` of the list's VGGSound segments (only `split`'s rows, None = all)."""
    table = pd.read_csv(list_path, dtype=str, keep_default_na=False)
    keys = set()
    for vid, row_split in zip(table["vid"], table["split"]):
        parsed = parse_avsync15_vid(vid.strip())
        if parsed and (split is None or row_split.strip() == split):
            keys.add(vggsound_key(parsed[0], parsed[1]))
    return keys


def segment_key(video_id: str, ytid: str | None = None, start_s: float | None = None) -> str | None:
    """The `<ytid>_<start:06d>` key of a manifest row, from its ytid/start or its video_id
    (`<ytid>_<start:06d>` or an asva.csv vid)."""
    if ytid and start_s is not None and not (isinstance(start_s, float) and math.isnan(start_s)):
        return vggsound_key(ytid, float(start_s))
    parsed = parse_avsync15_vid(video_id)
    if parsed:
        return vggsound_key(parsed[0], parsed[1])
    return video_id or None


def exclude_avsync15_test(items: list[SourceItem], list_path: str | Path = ASVA_LIST) -> tuple[list[SourceItem], list[str]]:
    """(items without the segments of AVSync15's test clips, the ids left out)."""
    test = avsync15_segment_keys(list_path, "test")
    kept = [item for item in items if item.video_id not in test]
    return kept, sorted(item.video_id for item in items if item.video_id in test)


def avsync15_overlap(frame: pd.DataFrame, list_path: str | Path = ASVA_LIST) -> dict[str, list[str]]:
    """{"test": [...], "train": [...]}: the manifest's rows (by segment key) that are AVSync15
    test / train segments. Reads `ytid` + `vggsound_start_s` when present, else `video_id`."""
    ytids = frame["ytid"] if "ytid" in frame else [None] * len(frame)
    starts = frame["vggsound_start_s"] if "vggsound_start_s" in frame else [None] * len(frame)
    keys = {segment_key(str(v), y, s) for v, y, s in zip(frame["video_id"], ytids, starts)} - {None}
    return {split: sorted(keys & avsync15_segment_keys(list_path, split)) for split in SPLITS}


def overlap_counts(rows: pd.DataFrame | Iterable[str], list_path: str | Path = ASVA_LIST) -> Counter:
    """{"test": n, "train": n}: AVSync15 segments among a manifest's rows (or video ids)."""
    frame = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame({"video_id": list(rows)})
    return Counter({split: len(ids) for split, ids in avsync15_overlap(frame, list_path).items()})


__all__ = [
    "ASVA_LIST", "AVSYNC15_COLUMNS", "AVSYNC15_SCHEMA", "CLASSES_FILE", "PROMPTS_FILE", "REQUIRED_COLUMNS", "RouteReport",
    "SOURCES", "SPLITS", "VGGSS_FILE", "avsync15_classes", "avsync15_overlap", "avsync15_segment_keys", "class_mapping",
    "class_prompt", "exclude_avsync15_test", "overlap_counts", "read_prompts", "release_lists", "release_manifest", "segment_key",
    "to_avsync15_class", "validate_avsync15_manifest", "write_avsync15_manifest", "youtube_items", "youtube_manifest",
]
