"""The `avsync15-dataset` Prefect flow: `data/avsync15.parquet` from the authors' release folder or
rebuilt from the published list through yt-dlp.

Wiring only; every step is a `curation.avsync15` / `curation.sources.download` call. Resumable:
downloads already on disk are not fetched again, and segments whose download failed permanently
in the previous manifest at `--out` (404, removed video) are not retried unless --retry-failed.

    python -m flows.avsync15 --release DIR --out data/avsync15.parquet
    python -m flows.avsync15 --youtube [--list data/avsync15/asva.csv] [--url-template T] --out data/avsync15.parquet
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import pandas as pd
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_progress_artifact, update_progress_artifact

from curation import avsync15
from curation.config import DownloadConfig
from curation.sources.download import DownloadResult, download_items, is_transient, target_path
from curation.sources.item import SourceItem

DOWNLOAD_BATCH = 50  # segments per task: progress granularity, and what a crash can cost


@task(name="probe-release")
def probe_release(release: str, classes: str) -> tuple[pd.DataFrame, avsync15.RouteReport]:
    return avsync15.release_manifest(release, classes)


@task(name="download-segments", task_run_name="download-{index}")
def download_segments(items: list[SourceItem], media: str, config: DownloadConfig, index: int) -> list[DownloadResult]:
    return download_items(items, media, config, workers=config.workers)


@task(name="build-youtube-manifest")
def build_youtube_manifest(list_path: str, results: list[DownloadResult],
                           classes: str) -> tuple[pd.DataFrame, avsync15.RouteReport]:
    return avsync15.youtube_manifest(list_path, results, classes)


def finished_failures(out: Path) -> dict[str, DownloadResult]:
    """Segments whose download failed permanently in the manifest already at `out`."""
    if not out.is_file():
        return {}
    previous = pd.read_parquet(out, columns=["ytid", "vggsound_start_s", "reason", "detail"])
    dead = previous[(previous["reason"] == "download_failed") & ~previous["detail"].fillna("").map(is_transient)]
    return {avsync15.segment_key("", y, s): DownloadResult(avsync15.segment_key("", y, s), None, False, d)
            for y, s, d in zip(dead["ytid"], dead["vggsound_start_s"], dead["detail"]) if y}


def _relative_paths(frame: pd.DataFrame, out: Path) -> pd.DataFrame:
    """Paths relative to the manifest's folder when the media lie under it (a movable data/)."""
    base = out.resolve().parent

    def relative(p):
        if not isinstance(p, str) or not p:
            return p
        resolved = Path(p).resolve()
        return os.path.relpath(resolved, base) if resolved.is_relative_to(base) else str(resolved)

    return frame.assign(path=frame["path"].map(relative))


def _publish(report: avsync15.RouteReport, out: Path) -> None:
    failed = "\n".join(f"| {k} | {v} |" for k, v in report.failed.items()) or "| none | 0 |"
    notes = "\n".join(f"- {note}" for note in report.notes) or "- none"
    create_markdown_artifact(key="avsync15-manifest", markdown=(
        f"# AVSync15 manifest\n\n`{out.resolve()}`: {report.rows} rows, ok per split {report.ok}\n\n"
        f"## Failed rows\n| reason | rows |\n|---|---|\n{failed}\n\n## Notes\n{notes}\n"))


def _write(frame: pd.DataFrame, report: avsync15.RouteReport, out: Path) -> avsync15.RouteReport:
    avsync15.write_avsync15_manifest(_relative_paths(frame, out), out)
    out.with_name(out.name + ".report.txt").write_text("\n".join(report.lines()) + "\n", encoding="utf-8")
    _publish(report, out)
    return report


@flow(name="avsync15-dataset")
def build_avsync15(out: str = "data/avsync15.parquet", release: str | None = None, youtube: bool = False,
                   list_path: str | None = None, url_template: str | None = None, media: str | None = None,
                   classes: str | None = None, sections: bool = True, workers: int = 1,
                   retry_failed: bool = False) -> avsync15.RouteReport:
    """Build the AVSync15 manifest.

    Args:
        out: the manifest to write (`<out>.report.txt` beside it).
        release: the authors' release folder (`videos/<class>/<file>.mp4`, train.txt, test.txt).
        youtube: rebuild from the list instead, downloading every VGGSound segment.
        list_path: the AVSync15 list (default data/avsync15/asva.csv).
        url_template: mirror URL such as `https://host/{ytid}.mp4` (default: YouTube).
        media: download folder (default: `avsync15_media/` beside `out`).
        classes: class list with the VGGSound-label mapping (default data/classes/avsync15.txt).
        sections: download only each segment's 10 s (off for a mirror serving the cut segments).
        workers: parallel yt-dlp processes.
        retry_failed: retry segments whose download failed permanently in the previous manifest.
    """
    log = get_run_logger()
    out_path = Path(out)
    classes = str(classes or avsync15.CLASSES_FILE)
    if bool(release) == bool(youtube):
        raise ValueError("give exactly one of release (a folder) or youtube")
    if release:
        frame, report = probe_release(release, classes)
        return _write(frame, report, out_path)
    list_path = str(list_path or avsync15.ASVA_LIST)
    media_dir = Path(media) if media else out_path.parent / "avsync15_media"
    config = DownloadConfig(sections=sections, workers=workers)
    items = avsync15.youtube_items(list_path, url_template)
    known = {} if retry_failed else finished_failures(out_path)
    todo = [item for item in items if item.video_id not in known]
    on_disk = sum(1 for item in todo if item.ytid and target_path(media_dir, item).is_file())
    log.info("%d segments: %d already downloaded, %d dead in the previous run (skipped), %d to fetch", len(items),
             on_disk, len(known), len(todo) - on_disk)
    progress = create_progress_artifact(progress=0.0, key="avsync15-download", description="segments downloaded")
    results = list(known.values())
    batches = [todo[i:i + DOWNLOAD_BATCH] for i in range(0, len(todo), DOWNLOAD_BATCH)]
    for index, batch in enumerate(batches):
        results += download_segments(batch, str(media_dir), config, index)
        update_progress_artifact(progress, progress=100.0 * (index + 1) / len(batches))
    if not batches:
        update_progress_artifact(progress, progress=100.0)
    frame, report = build_youtube_manifest(list_path, results, classes)
    return _write(frame, report, out_path)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m flows.avsync15", description=build_avsync15.__doc__.split("\n")[0])
    route = parser.add_mutually_exclusive_group(required=True)
    route.add_argument("--release", metavar="DIR", help="the authors' AVSync15 folder (videos/, train.txt, test.txt)")
    route.add_argument("--youtube", action="store_true", help="rebuild from the list with yt-dlp")
    parser.add_argument("--list", dest="list_path", help="AVSync15 list (default: data/avsync15/asva.csv)")
    parser.add_argument("--url-template", help="mirror URL, e.g. 'https://host/{ytid}.mp4' (default: YouTube)")
    parser.add_argument("--media", help="download folder (default: avsync15_media/ next to --out)")
    parser.add_argument("--classes", help="class list + VGGSound mapping (default: data/classes/avsync15.txt)")
    parser.add_argument("--no-sections", dest="sections", action="store_false",
                        help="fetch whole files (a mirror that serves the 10 s segments)")
    parser.add_argument("--workers", type=int, default=1, help="parallel yt-dlp processes (default: 1)")
    parser.add_argument("--retry-failed", action="store_true", help="retry dead links of the previous run")
    parser.add_argument("--out", default="data/avsync15.parquet", help="manifest to write (default: %(default)s)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.url_template and not args.youtube:
        build_parser().error("--url-template applies to --youtube")
    try:
        if args.release:
            avsync15.release_lists(args.release)  # a wrong folder fails here, before Prefect starts
        report = build_avsync15(out=args.out, release=args.release, youtube=args.youtube, list_path=args.list_path,
                                url_template=args.url_template, media=args.media, classes=args.classes,
                                sections=args.sections, workers=args.workers, retry_failed=args.retry_failed)
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print("\n".join(report.lines()))
    print(f"manifest: {Path(args.out).resolve()}")
    usable = sum(report.ok.values())
    if not usable:
        print("WARNING: no usable row: nothing to train on", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
