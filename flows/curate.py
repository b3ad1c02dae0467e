"""The `curate-vggsound` Prefect flow: sources → batches of videos → manifests.

Wiring only; every step is a `curation` library call. A task handles a batch of videos (never
a window). Resumability comes from the Parquet ledger, not Prefect's cache: a rerun lists the
same sources, skips committed videos and rebuilds the same manifests.

    python -m flows.curate --videos data/demo/videos --out data/runs/demo
    python -m flows.curate --csv vggsound.csv --classes data/classes/avsync15.txt --out data/runs/vggss
    python -m flows.curate --videos data/demo/videos --out data/runs/demo --task-runner ray [--ray-address ADDR]
    python -m flows.curate --videos data/demo/videos --out s3://bucket/runs/demo [--media-dir /scratch/media]

At VGGSound scale (docs/scaling.md): batch tasks are submitted in a bounded window
(`max_in_flight`), run as Ray tasks with CPU/GPU resource requests (`--task-runner ray`), or a
parent run splits the sources into shards, each its own flow run of a deployment
(`curate_vggsound_sharded`), all committing to one ledger.
"""

from __future__ import annotations

import argparse
import os
import queue
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_progress_artifact, create_table_artifact, update_progress_artifact
from prefect.concurrency.sync import concurrency
from prefect.context import FlowRunContext
from prefect.futures import PrefectFuture
from prefect.task_runners import ThreadPoolTaskRunner
from prefect_ray.context import remote_options
from prefect_ray.task_runners import RayTaskRunner

from curation import manifest, pipeline, store
from curation.config import CurationConfig, load_config
from curation.layered_config import config_error_message
from curation.metrics.neural_scoring import device_guard
from curation.sources import SourceItem
from curation.sources.collect import collect_items, default_sources
from flows.run_record import claim_out_folder


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
def curate_batch(items: list[SourceItem], out: str, config: CurationConfig, index: int,
                 gpu_limit: bool = True, media_dir: str | None = None,
                 archived: frozenset[str] | None = None) -> pipeline.BatchReport:
    # `archived`: this batch's ids in the run's one read of the download archive (None: read it here).
    # On a retry, only the videos without a final row yet are processed again (checked in this
    # batch's own commit markers, never the whole ledger: issue 15).
    todo = pipeline.pending_in_batch(items, out)
    # Neural metrics hold a slot of the global concurrency limit `gpu` while they load and run their
    # model (docs/gpu_scoring.md); decoding and the CPU metrics are not bounded by it. On Ray with
    # `num_gpus` requested, Ray's scheduler bounds GPU use instead (`gpu_limit=False`).
    with device_guard((lambda: concurrency("gpu", occupy=1)) if gpu_limit else None):
        report = pipeline.process_batch(todo, out, config, media_dir, archived)
    get_run_logger().info("batch %d: %d/%d videos ok, %d windows, %d to retry", index, report.n_ok, report.n_videos,
                          report.n_windows, report.n_retryable)
    if report.n_retryable:
        raise TransientFailures(f"{report.n_retryable} video(s) failed transiently; their rows stay retryable")
    return report


@task(name="compact-ledger")
def compact_ledger(out: str, batch_keys: list[str]) -> int:
    return manifest.compact_batches(out, batch_keys)


@task(name="finalize-manifests")
def finalize_manifests(out: str, config: CurationConfig, media_dir: str | None = None) -> dict:
    return pipeline.finalize(out, config, media_dir)


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
            f"# Curation run\n\nManifests in `{store.display(out)}`: `videos.parquet`, `windows.parquet`, "
            f"`clips.parquet`, `avsync_ac.parquet`, `summary.json`.\n\n"
            f"## Failed videos\n| reason | videos |\n|---|---|\n{failed}\n\n"
            f"## Filtered windows\n| reason | windows |\n|---|---|\n{filtered}\n"
        ),
    )


def completed_in_window(submit: Callable[[int, list[SourceItem]], PrefectFuture], batches: Iterable[list[SourceItem]],
                        max_in_flight: int) -> Iterator[PrefectFuture]:
    """Submit `submit(index, batch)` for each batch with at most `max_in_flight` unfinished at a
    time, yielding each future as it finishes: a 25,000-batch run holds ~max_in_flight futures
    (and Prefect task runs scheduled ahead), not 25,000 (issue 15)."""
    finished: queue.SimpleQueue[PrefectFuture] = queue.SimpleQueue()
    work = enumerate(batches)
    in_flight = 0

    def top_up() -> None:
        nonlocal in_flight
        while in_flight < max_in_flight and (next_batch := next(work, None)) is not None:
            submit(*next_batch).add_done_callback(finished.put)
            in_flight += 1

    top_up()
    while in_flight:
        future = finished.get()
        in_flight -= 1
        yield future
        top_up()


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
    max_in_flight: int = 64,
    compact_every: int = 500,
    ray_cpus: float = 1.0,
    ray_gpus: float = 0.0,
    shard: int | None = None,
    n_shards: int = 1,
    finalize: bool = True,
    media_dir: str | None = None,
) -> dict:
    """Curate audio-visually synchronized clips.

    Args:
        csv: vggsound.csv (`ytid,start,label,split`) or a split file (`<ytid>_<start>.mp4,label`);
            with neither `csv` nor `videos`: data/vggsound.csv and the VGGSS class list.
        url_template: mirror URL such as `https://host/{ytid}.mp4` (default: YouTube).
        videos: local folder whose subfolder names are the labels (instead of `csv`).
        out: folder for the manifests and the ledger: a path or an fsspec URL (`s3://bucket/prefix`,
            `file:///…`; docs/scaling.md). Downloads go under `out/media/` for a path.
        config: YAML file overriding the curation config defaults.
        classes: file with one label per line to keep (e.g. the VGGSS or AVSync15 list).
        limit: curate at most this many source videos (after class selection).
        batch_size: videos per task (default from the config).
        overrides: `section.key=value` config overrides, applied after `config` (the CLI's --set).
        exclude_avsync15_test: leave out the VGGSound segments of AVSync15's test clips (leakage guard).
        max_in_flight: batch tasks submitted ahead of their completion (a bounded window).
        compact_every: merge the ledger files of every this many finished batches into one, during
            the run, so finalize reads tens of files, not one per batch.
        ray_cpus / ray_gpus: resources each batch task requests on Ray (`--task-runner ray`):
            CPUs for decoding and the CPU metrics, GPUs (fractions allowed) for the neural metrics.
        shard / n_shards: curate only shard `shard` of `n_shards` (a stable split by video id;
            `curate_vggsound_sharded` starts one run per shard).
        finalize: rebuild the manifests at the end (a shard run leaves that to its parent).
        media_dir: local folder for downloads (default `out/media`; for an object-store `out`, a
            folder under the system temp dir: `curation.pipeline.media_folder`).
    """
    log = get_run_logger()
    csv, videos, classes = default_sources(csv, videos, classes)  # none given: data/vggsound.csv + VGGSS, or a clear error
    cfg = load_config(config, overrides or ())
    if batch_size is not None:
        cfg = cfg.model_copy(update={"batch_size": batch_size})
    pipeline.check_setup(cfg)  # typos and missing weights fail here, before any video is decoded
    if shard is None:  # shard runs share `out` with their siblings: the parent's record stands for them
        claim_out_folder(out, FlowRunContext.get().flow_run.id)  # a kill -9'd earlier run here → Crashed
    items = list_sources(csv, url_template, videos, classes, limit, exclude_avsync15_test)
    if shard is not None:
        items = pipeline.shard_items(items, shard, n_shards)
    batches = pipeline.make_batches(pipeline.pending_items(items, out), cfg.batch_size)
    log.info("%d videos to curate in %d batches (%d already done)", sum(map(len, batches)), len(batches),
             len(items) - sum(map(len, batches)))
    progress_id = create_progress_artifact(progress=0.0, key="curation-progress", description="batches curated")
    runner = FlowRunContext.get().task_runner
    on_ray = isinstance(runner, RayTaskRunner)
    # The download archive is read once here, not by each of ~25,000 batch tasks. Not on a Ray
    # cluster: a task may run on another machine, whose media folder (and archive) is its own.
    archive = None if on_ray and runner.address else pipeline.download_archive(out, media_dir)

    def submit(index: int, batch: list[SourceItem]) -> PrefectFuture:
        archived = None if archive is None else pipeline.archived_in(batch, archive)
        if not on_ray:
            return curate_batch.submit(batch, out, cfg, index, media_dir=media_dir, archived=archived)
        # max_calls=0: the worker process stays up between tasks, so a loaded model (the per-process
        # cache of curation.metrics.neural_scoring) serves every later batch (Ray's default for a GPU
        # task is a fresh worker per call). max_retries: Ray reruns a task whose worker died; the
        # ledger makes that rerun redo only the batch's uncommitted videos.
        with remote_options(num_cpus=ray_cpus, num_gpus=ray_gpus, max_calls=0, max_retries=3):
            return curate_batch.submit(batch, out, cfg, index, gpu_limit=not ray_gpus, media_dir=media_dir,
                                       archived=archived)

    lost: list[str] = []  # batches whose videos have no row at all (the ledger could not be written)
    committed: list[str] = []  # keys of this run's finished batches not compacted yet
    for done, future in enumerate(completed_in_window(submit, batches, max_in_flight), start=1):
        error = _exception(future)
        if error is None and future.result().batch_key:
            committed.append(future.result().batch_key)
        if len(committed) >= compact_every:
            compact_ledger(out, committed)
            committed = []
        if error is not None:
            # Out of retries: its videos keep failed, retryable rows (or none, after a crash), so a
            # rerun picks them up. The rest of the run goes on.
            log.warning("batch %s failed: %s: %s", future.task_run_id, type(error).__name__, error)
            if not isinstance(error, TransientFailures):
                lost.append(f"{type(error).__name__}: {error}")
        update_progress_artifact(progress_id, progress=100.0 * done / len(batches))
    if not batches:
        update_progress_artifact(progress_id, progress=100.0)
    if not finalize:
        if lost:
            raise BatchesLost(f"{len(lost)} of {len(batches)} batches were not recorded (first: {lost[0]})")
        return {"videos": len(items), "batches": len(batches)}
    summary = finalize_manifests(out, cfg, media_dir)
    _publish_summary(summary, out)
    log.info("%d/%d windows passed; manifests in %s", summary["windows_passed"], summary["windows"], out)
    if lost:  # never a Completed run with videos missing from every manifest
        raise BatchesLost(f"{len(lost)} of {len(batches)} batches were not recorded (first: {lost[0]}); "
                          "fix the cause and rerun: their videos are still pending")
    return summary


class BatchesLost(RuntimeError):
    """Batches failed before their rows reached the ledger: the run must not end Completed."""


def ray_task_runner(address: str | None = None, num_cpus: int | None = None) -> RayTaskRunner:
    """prefect-ray's runner on the Ray cluster at `address` (or `$RAY_ADDRESS`), else on a local Ray
    the run starts and stops, bound to 127.0.0.1 with `num_cpus` worker slots (default: all cores).

    The Ray workers run the Prefect task engine themselves, so they must reach the Prefect API:
    the driver's `PREFECT_API_URL` is handed to them in the job's runtime environment."""
    from prefect.settings import PREFECT_API_URL

    env = {"PREFECT_API_URL": PREFECT_API_URL.value()} if PREFECT_API_URL.value() else {}
    init_kwargs: dict = {"runtime_env": {"env_vars": env}} if env else {}
    address = address or os.environ.get("RAY_ADDRESS")
    if address:
        return RayTaskRunner(address=address, init_kwargs=init_kwargs)
    return RayTaskRunner(init_kwargs=init_kwargs | {"num_cpus": num_cpus, "include_dashboard": False,
                                                    "_node_ip_address": "127.0.0.1"})


class ShardsFailed(RuntimeError):
    """Shard runs ended without success: their videos are still pending for a rerun."""


@flow(name="curate-vggsound-sharded")
def curate_vggsound_sharded(
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
    n_shards: int = 4,
    shard_deployment: str = "curate-vggsound/curate-vggsound-shard",
    max_queued_shards: int = 4,
    shard_retries: int = 1,
    poll_seconds: float = 5.0,
    media_dir: str | None = None,
) -> dict:
    """Split one curation into `n_shards` flow runs of `shard_deployment` (any number of workers on
    any machines pick them up), at most `max_queued_shards` unfinished at a time, then finalize.

    Every shard commits to the same ledger `out` (a folder every worker sees, e.g. a network file
    system, or an object store URL such as `s3://bucket/prefix`), so the manifests are those of one
    run; `media_dir` is a local folder on each worker. A shard run that fails or crashes is started again up to
    `shard_retries` times; a rerun of this flow redoes only what no shard committed."""
    from prefect.client.orchestration import get_client
    from prefect.deployments import run_deployment

    log = get_run_logger()
    cfg = load_config(config, overrides or ())
    if batch_size is not None:
        cfg = cfg.model_copy(update={"batch_size": batch_size})
    pipeline.check_setup(cfg)
    # A kill -9'd earlier parent on this `out` → Crashed (its shards are separate runs: the runner
    # that started each one reports it).
    claim_out_folder(out, FlowRunContext.get().flow_run.id)
    parameters = dict(csv=csv, url_template=url_template, videos=videos, out=out, config=config, classes=classes,
                      limit=limit, batch_size=batch_size, overrides=overrides,
                      exclude_avsync15_test=exclude_avsync15_test, n_shards=n_shards, finalize=False,
                      media_dir=media_dir)
    todo = list(range(n_shards))
    attempts = dict.fromkeys(todo, 0)
    running: dict = {}  # flow run id -> shard
    failed: list[str] = []
    progress_id = create_progress_artifact(progress=0.0, key="curation-shards", description="shards finished")
    finished = 0
    with get_client(sync_client=True) as client:
        while todo or running:
            while todo and len(running) < max_queued_shards:
                shard = todo.pop(0)
                attempts[shard] += 1
                run = run_deployment(shard_deployment, parameters=parameters | {"shard": shard}, timeout=0,
                                     flow_run_name=f"shard-{shard}-of-{n_shards}")
                running[run.id] = shard
            time.sleep(poll_seconds)
            for run_id, shard in list(running.items()):
                state = client.read_flow_run(run_id).state
                if state is None or not state.is_final():
                    continue
                del running[run_id]
                if state.is_completed():
                    finished += 1
                    update_progress_artifact(progress_id, progress=100.0 * finished / n_shards)
                elif attempts[shard] <= shard_retries:
                    log.warning("shard %d ended %s; starting it again", shard, state.type.value)
                    todo.append(shard)
                else:
                    failed.append(f"shard {shard}: {state.type.value} {state.message or ''}".strip())
    summary = finalize_manifests(out, cfg, media_dir)
    _publish_summary(summary, out)
    if failed:
        raise ShardsFailed(f"{len(failed)} of {n_shards} shards did not finish ({failed[0]}); rerun to complete them")
    return summary


# The deployment `curate-vggsound-ray` (prefect.yaml): the same flow on Ray, at `$RAY_ADDRESS` when the
# worker's environment names a cluster, else on a local one.
curate_vggsound_ray = curate_vggsound.with_options(task_runner=ray_task_runner())


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
    parser.add_argument("--out", default="data/runs/curated",
                        help="output folder for manifests and the ledger: a path or an fsspec URL such as "
                             "s3://bucket/prefix (default: %(default)s)")
    parser.add_argument("--media-dir", help="local folder for downloads (default: OUT/media; for an object-store "
                                            "OUT such as s3://..., <system temp>/asva-media/<OUT as a name>)")
    parser.add_argument("--config", help="YAML config overriding the defaults (see configs/curation.yaml)")
    parser.add_argument("--batch-size", type=int, help="videos per Prefect task")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="config override applied after --config, e.g. --set media.fps=12 (repeatable)")
    scale = parser.add_argument_group("scale-out (docs/scaling.md)")
    scale.add_argument("--task-runner", choices=["threads", "ray"], default="threads",
                       help="threads: 2 threads in this process (default); ray: batch tasks as Ray tasks")
    scale.add_argument("--ray-address", help="Ray cluster to use (default: $RAY_ADDRESS, else a local Ray on 127.0.0.1)")
    scale.add_argument("--ray-cpus", type=float, default=1.0, help="CPUs each batch task requests on Ray (default: 1)")
    scale.add_argument("--ray-gpus", type=float, default=0.0,
                       help="GPUs each batch task requests on Ray, for the neural metrics (e.g. 1 or 0.5; default: 0)")
    scale.add_argument("--max-in-flight", type=int, default=64,
                       help="batch tasks submitted ahead of their completion (default: %(default)s)")
    return parser


def _flow_for(args: argparse.Namespace):
    """The flow with the chosen task runner. Ray workers must reach the Prefect API: without a
    configured server, this process starts Prefect's temporary one first and shares its URL."""
    if args.task_runner == "threads":
        return curate_vggsound
    from prefect.settings import PREFECT_API_URL

    if not PREFECT_API_URL.value():
        from prefect.server.api.server import SubprocessASGIServer

        server = SubprocessASGIServer()
        server.start()  # stopped at interpreter exit
        os.environ["PREFECT_API_URL"] = server.api_url
    return curate_vggsound.with_options(task_runner=ray_task_runner(args.ray_address))


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
        f"{summary['avsync_ac_classes']} classes\nmanifests: {store.display(out)}"
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
    if not store.is_url(args.out) and Path(args.out).exists() and not Path(args.out).is_dir():
        return f"--out {args.out}: exists and is not a folder"
    if args.batch_size is not None and args.batch_size < 1:
        return f"--batch-size must be at least 1 (got {args.batch_size})"
    if args.limit is not None and args.limit < 0:
        return f"--limit must be 0 or more (got {args.limit})"
    if args.max_in_flight < 1:
        return f"--max-in-flight must be at least 1 (got {args.max_in_flight})"
    if args.ray_address and args.task_runner != "ray":
        return "--ray-address needs --task-runner ray"
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
        summary = _flow_for(args)(csv=args.csv, url_template=args.url_template, videos=args.videos, out=args.out,
                                  config=args.config, classes=args.classes, limit=args.limit,
                                  batch_size=args.batch_size, overrides=args.set,
                                  exclude_avsync15_test=args.exclude_avsync15_test,
                                  max_in_flight=args.max_in_flight, ray_cpus=args.ray_cpus, ray_gpus=args.ray_gpus,
                                  media_dir=args.media_dir)
    except BatchesLost as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print_summary(summary, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
