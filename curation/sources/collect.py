"""One entry point for the flow: the source items of a run, from a CSV or a local folder."""

from __future__ import annotations

import logging
from pathlib import Path

from curation.sources.item import SourceItem

log = logging.getLogger(__name__)


def collect_items(
    csv: str | Path | None = None,
    url_template: str | None = None,
    videos: str | Path | None = None,
    classes: str | Path | None = None,
    limit: int | None = None,
    exclude_avsync15_test: bool = False,
) -> list[SourceItem]:
    """Items of a run, in a stable order.

    csv:          vggsound.csv (`ytid,start,label,split`), a split file (`<ytid>_<start>.mp4,label`)
                  or AVSync15's asva.csv; items are downloaded (from YouTube, or `url_template`
                  for a mirror). Rows with unsafe ids are kept (they become `unsafe_id` rows).
    videos:       a local folder whose subfolder names are the labels.
    classes:      a class list file (`read_class_folders`); only those classes are kept, labelled
                  with their folder (AVSync15: "hammering nails" → `hammering`).
    limit:        keep the first `limit` items after class selection.
    exclude_avsync15_test: leave out the VGGSound segments of AVSync15's 150 test clips (a VGGSS
                  sync classifier that later scores AVSync15 must not have trained on them).
    """
    if (csv is None) == (videos is None):
        raise ValueError("give exactly one of csv (VGGSound-style list) or videos (local folder)")
    if url_template is not None and csv is None:
        raise ValueError("url_template applies to csv sources only")
    if videos is not None:
        from curation.sources.local import scan_video_folder

        items = scan_video_folder(videos)
    else:
        from curation.sources.vggsound import read_any_list, with_urls

        items = with_urls(read_any_list(csv), url_template)
    if classes is not None:
        from curation.sources.vggsound import label_as_classes, read_class_folders, select_classes

        folders = read_class_folders(classes)
        items = label_as_classes(select_classes(items, list(folders) + list(folders.values())), folders)
    if exclude_avsync15_test:
        from curation.avsync15 import exclude_avsync15_test as exclude

        items, left_out = exclude(items)
        log.info("%d AVSync15 test segments left out of the sources", len(left_out))
    return items[:limit] if limit is not None else items


VGGSOUND_CSV_URL = "https://www.robots.ox.ac.uk/~vgg/data/vggsound/vggsound.csv"


def default_sources(csv: str | Path | None, videos: str | Path | None,
                    classes: str | Path | None) -> tuple[str | None, str | Path | None, str | Path | None]:
    """(csv, videos, classes) with the defaults of a run given no source: VGGSound's list at
    `data/vggsound.csv` and the VGGSS class list. FileNotFoundError saying where to get the list
    and where to put it when it is not there."""
    if csv is not None or videos is not None:
        return csv, videos, classes
    from curation.avsync15 import DATA_DIR, VGGSS_FILE

    default_csv = DATA_DIR / "vggsound.csv"
    if not default_csv.is_file():
        raise FileNotFoundError(f"no source given (csv or videos) and the default list {default_csv} is missing: "
                                f"download VGGSound's published list from {VGGSOUND_CSV_URL} (ytid,start,label,split) "
                                f"and save it as {default_csv}, or pass csv=FILE / videos=FOLDER")
    return str(default_csv), None, classes if classes is not None else str(VGGSS_FILE)
