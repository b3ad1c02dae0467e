"""The `curate-vggsound` Prefect flow: sources → batches of videos → manifests.

Wiring only; every step is a `curation` library call. A task handles a batch of videos (never
a window). Resumability comes from the Parquet ledger, not Prefect's cache: a rerun lists the
same sources, skips committed videos and rebuilds the same manifests.

    python -m flows.curate --videos data/demo/videos --out data/runs/demo
    python -m flows.curate --csv vggsound.csv --classes data/classes/avsync15.txt --out data/runs/vggss
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_progress_artifact, create_table_artifact, update_progress_artifact
from prefect.concurrency.sync import concurrency
from prefect.futures import as_completed
from prefect.task_runners import ThreadPoolTaskRunner

from curation import pipeline
from curation.config import CurationConfig, load_config
from curation.layered_config import config_error_message
from curation.metrics.neural_scoring import device_guard
from curation.sources import SourceItem
from curation.sources.collect import collect_items


@task(name="list-sources")
def list_sources(csv: str | None, url_template: str | None, videos: str | None, classes: str | None,
                 limit: int | None, exclude_avsync15_test: bool = False) -> list[SourceItem]:
    from curation.avsync15 import overlap_counts

    items = collect_items(csv=csv, url_template=url_template, videos=videos, classes=classes, limit=limit,
                          exclude_avsync15_test=exclude_avsync15_test)
    log = get_run_logger()
    log.info("%d source videos", len(items))
    overlap = overlap_counts([item.video_id for item in items])
    if overlap["test"]:
        log.warning("%d source videos are AVSync15 test segments (a sync classifier trained on them has seen "
                    "AVSync15's test set): pass --exclude-avsync15-test to leave them out", overlap["test"])
    return items


class TransientFailures(RuntimeError):
    """Some videos of a batch failed for reasons a retry may fix; Prefect retries the task."""


def _only_transient(task, task_run, state) -> bool:
    """Retry a batch only for TransientFailures: a full disk or a bug fails the same way again."""
    try:
        state.result()
    except TransientFailures:
        return True
    except BaseException:
        return False
    return False


@task(name="curate-batch", retries=2, retry_delay_seconds=[10, 60], retry_condition_fn=_only_transient,
      task_run_name="batch-{index}")
def curate_batch(items: list[SourceItem], out: str, config: CurationConfig, index: int) -> pipeline.BatchReport:
    # On a retry, only the videos without a final row yet are processed again (checked in this
    # batch's own commit markers, never the whole ledger: issue 15).
    todo = pipeline.pending_in_batch(items, out)
    # Neural metrics hold a slot of the global concurrency limit `gpu` while they load and run their
    # model (docs/gpu_scoring.md); decoding and the CPU metrics are not bounded by it.
    with device_guard(lambda: concurrency("gpu", occupy=1)):
        report = pipeline.process_batch(todo, out, config)
    get_run_logger().info("batch %d: %d/%d videos ok, %d windows, %d to retry", index, report.n_ok, report.n_videos,
                          report.n_windows, report.n_retryable)
    if report.n_retryable:
        raise TransientFailures(f"{report.n_retryable} video(s) failed transiently; their rows stay retryable")
    return report


@task(name="finalize-manifests")
def finalize_manifests(out: str, config: CurationConfig) -> dict:
    return pipeline.finalize(out, config)


def _publish_summary(summary: dict, out: str) -> None:
    create_table_artifact(
        key="curation-pass-rates",
        table=summary["per_class"],
        description=(
            f"{summary['videos_ok']}/{summary['videos']} videos decoded, "
            f"{summary['windows_passed']}/{summary['windows']} windows passed "
            f"({100 * summary['window_pass_rate']:.1f} %), {summary['clips']} clips"
        ),
    )
    failed = "\n".join(f"| {k} | {v} |" for k, v in summary["videos_failed_by_reason"].items()) or "| none | 0 |"
    filtered = "\n".join(f"| {k} | {v} |" for k, v in summary["windows_failed_by_reason"].items()) or "| none | 0 |"
    create_markdown_artifact(
        key="curation-manifests",
        markdown=(
            f"# Curation run\n\nManifests in `{Path(out).resolve()}`: `videos.parquet`, `windows.parquet`, "
            f"`clips.parquet`, `avsync_ac.parquet`, `summary.json`.\n\n"
            f"## Failed videos\n| reason | videos |\n|---|---|\n{failed}\n\n"
            f"## Filtered windows\n| reason | windows |\n|---|---|\n{filtered}\n"
        ),
    )


@flow(name="curate-vggsound", task_runner=ThreadPoolTaskRunner(max_workers=2))
def curate_vggsound(
    csv: str | None = None,
    url_template: str | None = None,
    videos: str | None = None,
    out: str = "data/runs/curated",
    config: str | None = None,
    classes: str | None = None,
    limit: int | None = None,
    batch_size: int | None = None,
    overrides: list[str] | None = None,
    exclude_avsync15_test: bool = False,
) -> dict:
    """Curate audio-visually synchronized clips.

    Args:
        csv: vggsound.csv (`ytid,start,label,split`) or a split file (`<ytid>_<start>.mp4,label`).
        url_template: mirror URL such as `https://host/{ytid}.mp4` (default: YouTube).
        videos: local folder whose subfolder names are the labels (instead of `csv`).
        out: folder for the manifests (and downloads, under `media/`).
        config: YAML file overriding the curation config defaults.
        classes: file with one label per line to keep (e.g. the VGGSS or AVSync15 list).
        limit: curate at most this many source videos (after class selection).
        batch_size: videos per task (default from the config).
        overrides: `section.key=value` config overrides, applied after `config` (the CLI's --set).
        exclude_avsync15_test: leave out the VGGSound segments of AVSync15's test clips (leakage guard).
    """
    log = get_run_logger()
    cfg = load_config(config, overrides or ())
    if batch_size is not None:
        cfg = cfg.model_copy(update={"batch_size": batch_size})
    pipeline.check_setup(cfg)  # typos and missing weights fail here, before any video is decoded
    items = list_sources(csv, url_template, videos, classes, limit, exclude_avsync15_test)
    batches = pipeline.make_batches(pipeline.pending_items(items, out), cfg.batch_size)
    log.info("%d videos to curate in %d batches (%d already done)", sum(map(len, batches)), len(batches),
             len(items) - sum(map(len, batches)))
    progress_id = create_progress_artifact(progress=0.0, key="curation-progress", description="batches curated")
    futures = [curate_batch.submit(batch, out, cfg, index) for index, batch in enumerate(batches)]
    lost: list[str] = []  # batches whose videos have no row at all (the ledger could not be written)
    for done, future in enumerate(as_completed(futures), start=1):
        error = _exception(future)
        if error is not None:
            # Out of retries: its videos keep failed, retryable rows (or none, after a crash), so a
            # rerun picks them up. The rest of the run goes on.
            log.warning("batch %s failed: %s: %s", future.task_run_id, type(error).__name__, error)
            if not isinstance(error, TransientFailures):
                lost.append(f"{type(error).__name__}: {error}")
        update_progress_artifact(progress_id, progress=100.0 * done / len(futures))
    if not futures:
        update_progress_artifact(progress_id, progress=100.0)
    summary = finalize_manifests(out, cfg)
    _publish_summary(summary, out)
    log.info("%d/%d windows passed; manifests in %s", summary["windows_passed"], summary["windows"], out)
    if lost:  # never a Completed run with videos missing from every manifest
        raise BatchesLost(f"{len(lost)} of {len(futures)} batches were not recorded (first: {lost[0]}); "
                          "fix the cause and rerun: their videos are still pending")
    return summary


class BatchesLost(RuntimeError):
    """Batches failed before their rows reached the ledger: the run must not end Completed."""


def _exception(future) -> BaseException | None:
    try:
        future.result()
    except BaseException as exc:
        return exc
    return None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m flows.curate", description=curate_vggsound.__doc__.split("\n")[0])
    source = parser.add_argument_group("sources (one of --csv / --videos)")
    source.add_argument("--csv", help="vggsound.csv or a VGGSound split file (<ytid>_<start>.mp4,label)")
    source.add_argument("--url-template", help="mirror URL, e.g. 'https://host/{ytid}.mp4' (default: YouTube)")
    source.add_argument("--videos", help="local folder; subfolder names are the labels")
    source.add_argument("--classes", help="file with one label per line to keep (VGGSS, AVSync15, ...)")
    source.add_argument("--limit", type=int, help="curate at most N source videos")
    source.add_argument("--exclude-avsync15-test", action="store_true",
                        help="leave out the VGGSound segments of AVSync15's 150 test clips (for a VGGSS sync classifier)")
    parser.add_argument("--out", default="data/runs/curated", help="output folder for manifests (default: %(default)s)")
    parser.add_argument("--config", help="YAML config overriding the defaults (see configs/curation.yaml)")
    parser.add_argument("--batch-size", type=int, help="videos per Prefect task")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="config override applied after --config, e.g. --set media.fps=12 (repeatable)")
    return parser


def print_summary(summary: dict, out: str) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Pass rates per class")
    for column in ("label", "videos", "videos_ok", "windows", "windows_passed", "window_pass_rate", "clips"):
        table.add_column(column)
    for row in summary["per_class"]:
        table.add_row(*(str(row[c]) for c in ("label", "videos", "videos_ok", "windows", "windows_passed",
                                                "window_pass_rate", "clips")))
    console = Console()
    console.print(table)
    console.print(
        f"videos: {summary['videos_ok']}/{summary['videos']} ok, failed by reason {summary['videos_failed_by_reason']}\n"
        f"windows: {summary['windows_passed']}/{summary['windows']} passed ({100 * summary['window_pass_rate']:.1f} %), "
        f"filtered by reason {summary['windows_failed_by_reason']}\n"
        f"clips: {summary['clips']} ({summary['clip_seconds']} s); AVSync-AC: {summary['avsync_ac_clips']} clips in "
        f"{summary['avsync_ac_classes']} classes\nmanifests: {Path(out).resolve()}"
    )


def _argument_error(args: argparse.Namespace) -> str | None:
    """What is wrong with the command line, checked before any work (None: nothing)."""
    if bool(args.csv) == bool(args.videos):
        return "give exactly one of --csv or --videos"
    for option, value in (("--csv", args.csv), ("--classes", args.classes), ("--config", args.config)):
        if value is not None and not Path(value).is_file():
            return f"{option} {value}: no such file"
    if args.videos is not None and not Path(args.videos).is_dir():
        return f"--videos {args.videos}: no such folder"
    if Path(args.out).exists() and not Path(args.out).is_dir():
        return f"--out {args.out}: exists and is not a folder"
    if args.batch_size is not None and args.batch_size < 1:
        return f"--batch-size must be at least 1 (got {args.batch_size})"
    if args.limit is not None and args.limit < 0:
        return f"--limit must be 0 or more (got {args.limit})"
    return None


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if problem := _argument_error(args):
        parser.error(problem)  # one line, exit code 2
    try:  # a bad --config / --set, a metric typo or missing weights fail here in one line, before Prefect starts
        pipeline.check_setup(load_config(args.config, args.set))
    except (ValueError, KeyError, FileNotFoundError) as exc:
        parser.error(f"config: {config_error_message(exc)}")
    try:
        summary = curate_vggsound(csv=args.csv, url_template=args.url_template, videos=args.videos, out=args.out,
                                  config=args.config, classes=args.classes, limit=args.limit,
                                  batch_size=args.batch_size, overrides=args.set,
                                  exclude_avsync15_test=args.exclude_avsync15_test)
    except BatchesLost as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print_summary(summary, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
