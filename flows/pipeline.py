"""The `asva-pipeline` Prefect flow: the whole DAG, VGGSound to an evaluated AVSyncD, in one run.

    curate (VGGSS, non-sync metrics) → sync classifier → PSync pass → AVSync-AC → review
    → AVSync15 (OUT/avsync15.parquet) → AVSyncD → evaluation (OUT/eval/summary.json)

Wiring only: the stage layout, markers and glue steps are `curation.stages`, the PSync pass is
`curation.psync_pass`, and the other stages are the project's own flows (`curate-vggsound`,
`train-sync-classifier`, `train-avsyncd`, `evaluate-avsyncd`). A rerun with the same `--out`
skips the stages whose marker and outputs exist and resumes an interrupted one (the curation
ledgers and the trainers' checkpoints keep what was done). The review step pauses the run
(Paused in the Prefect UI) until the review page's "finish" resumes it through Prefect's API;
`--auto-accept` accepts the candidates by thresholds instead.

With `dispatch="deployments"` (the `asva-pipeline` deployment) the GPU stages run as flow runs of
their deployments on the `asva-gpu` pool; otherwise (CLI, tests) every stage is a subflow here.

    python -m flows.pipeline --videos data/demo/videos --out data/runs/pipeline-tiny --preset tiny --auto-accept
    python -m flows.pipeline --csv data/vggsound.csv --classes data/classes/vggss.txt --out data/runs/pipeline
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.artifacts import (create_link_artifact, create_markdown_artifact, create_progress_artifact,
                               update_progress_artifact)
from prefect.concurrency.sync import concurrency
from prefect.task_runners import ThreadPoolTaskRunner

from curation import psync_pass as psync_library
from curation import stages
from curation.config import load_config
from curation.metrics.neural_scoring import device_guard
from curation.pipeline import make_batches
from flows.curate import completed_in_window

# Deployments of the stages (prefect.yaml) used with dispatch="deployments"; the GPU ones are on asva-gpu.
STAGE_DEPLOYMENTS = {
    "sync": "train-sync-classifier/train-sync-classifier-gpu",
    "psync": "psync-pass/psync-pass",
    "avsyncd": "train-avsyncd/train-avsyncd-gpu",
    "evaluate": "evaluate-avsyncd/evaluate-avsyncd",
}


# ---- the PSync pass: its own flow (deployment `psync-pass`), run by the parent -------------------

@task(name="psync-batch", retries=1, retry_delay_seconds=10, task_run_name="psync-batch-{index}")
def psync_batch(items: list, curated: str, out: str, config, index: int) -> dict:
    # The classifier holds a slot of the global concurrency limit `gpu` while it loads and runs.
    with device_guard(lambda: concurrency("gpu", occupy=1)):
        report = psync_library.score_batch(items, curated, out, config)
    return {"videos": report.n_videos, "ok": report.n_ok, "windows": report.n_windows}


@task(name="finalize-psync")
def finalize_psync(out: str, config) -> dict:
    return psync_library.finalize(out, config)


@flow(name="psync-pass", task_runner=ThreadPoolTaskRunner(max_workers=2))
def psync_pass(curated: str, out: str, checkpoint: str, config: str | None = None, overrides: list[str] | None = None,
               min_quantile: float | None = 0.1, minimum: float | None = None, fps: float = 12.0,
               device: str = "auto", min_clips_per_class: int = 100, batch_size: int | None = None) -> dict:
    """Score the windows that passed an earlier curation with a sync classifier (its ledger reused:
    no download, no other metric again), filter on PSync, keep classes with enough clips.

    Args:
        curated: the earlier curation's folder (videos.parquet, windows.parquet).
        out: folder of the pass (its ledger, windows / clips / avsync_ac.parquet, summary.json).
        checkpoint: the sync classifier (`final/` of train-sync-classifier).
        config / overrides: the earlier curation's config (its filters are applied again).
        min_quantile / minimum: the PSync filter, a run quantile or an absolute bound.
        fps: analysis frames per second for the classifier.
        min_clips_per_class: AVSync-AC's class size (paper: 100).
        batch_size: videos per task (default: the curation's).
    """
    log = get_run_logger()
    cfg = psync_library.psync_pass_config(load_config(config, overrides or ()), checkpoint, min_quantile, minimum, fps,
                                          device, min_clips_per_class, batch_size)
    pending = psync_library.pending_videos(curated, out)
    batches = make_batches(pending, cfg.batch_size)
    log.info("PSync pass: %d videos to score in %d batches", len(pending), len(batches))
    progress_id = create_progress_artifact(progress=0.0, key="psync-progress", description="batches scored")
    # bounded submission, as curate-vggsound: a VGGSound-sized pass must not schedule every batch at once
    finished = completed_in_window(lambda index, batch: psync_batch.submit(batch, curated, out, cfg, index),
                                   batches, max_in_flight=64)
    failed = []
    for done, future in enumerate(finished, start=1):
        try:
            future.result()
        except Exception as exc:  # its videos stay pending: the next run scores them
            failed.append(f"{type(exc).__name__}: {exc}")
        update_progress_artifact(progress_id, progress=100.0 * done / len(batches))
    if not batches:
        update_progress_artifact(progress_id, progress=100.0)
    summary = finalize_psync(out, cfg)
    create_markdown_artifact(key="psync-pass", markdown=(
        f"# PSync pass\n\n`{Path(out).resolve()}`: {summary['windows_passed']}/{summary['windows']} windows pass "
        f"(PSync included), {summary['clips']} clips; AVSync-AC: {summary['avsync_ac_clips']} clips in "
        f"{summary['avsync_ac_classes']} classes (≥ {cfg.min_clips_per_class} clips each).\n\n"
        f"Filtered: {summary['windows_failed_by_reason']}\n"))
    if failed:
        raise RuntimeError(f"{len(failed)} of {len(batches)} PSync batches failed (first: {failed[0]}); rerun to "
                           "score their videos")
    return summary


# ---- the parent flow ----------------------------------------------------------------------------

# The glue steps between stages, as tasks (visible in the UI, timed like the rest of the work).
sync_manifest = task(stages.sync_training_manifest, name="sync-training-manifest")
write_settings = task(stages.write_settings, name="write-sync-settings")
review_classes = task(stages.write_review_classes, name="write-review-classes")
accept_by_thresholds = task(stages.auto_accept, name="auto-accept")
mark_review_finished = task(stages.mark_review_finished, name="mark-review-finished")


@task(name="export-avsync15")
def export_avsync15(run_dir: str, out: str, classes_file: str, train_per_class: int, test_per_class: int,
                    seed: int) -> dict:
    from curation.review.export import export_accepted

    report = export_accepted(run_dir, out, classes_file, train_per_class, test_per_class, seed)
    return {"rows": report.rows, "report": report.lines()}


def _run_stage(dispatch: str, deployments: dict[str, str], stage: str, subflow: Callable, parameters: dict) -> None:
    """Run one stage: as a subflow here, or as a flow run of its deployment (waited for)."""
    if dispatch == "subflows" or stage not in deployments:
        subflow(**parameters)
        return
    from prefect.deployments import run_deployment

    flow_run = run_deployment(name=deployments[stage], parameters=parameters, timeout=None)
    if not flow_run.state or not flow_run.state.is_completed():
        raise RuntimeError(f"stage {stage}: flow run {flow_run.name} of {deployments[stage]} ended "
                           f"{flow_run.state.name if flow_run.state else 'without a state'}")


def _api_url() -> str:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        return str(client.api_url).rstrip("/")


def _publish(stage: str, marker: dict, lines: str) -> None:
    state = "skipped (done before)" if marker.get("skipped") else f"{marker['seconds']:.0f} s"
    outputs = "\n".join(f"- `{path}`" for path in marker["outputs"])
    create_markdown_artifact(key=f"stage-{stage}", markdown=f"# Stage {stage}: {state}\n\n{lines}\n\nOutputs:\n{outputs}\n",
                             description=f"asva pipeline, stage {stage}")


@flow(name="asva-pipeline")
def asva_pipeline(
    out: str = "data/runs/pipeline",
    csv: str | None = None,
    url_template: str | None = None,
    videos: str | None = None,
    classes: str | None = None,
    limit: int | None = None,
    preset: str = "paper",
    config: str | None = None,
    overrides: list[str] | None = None,
    auto_accept: bool = False,
    dispatch: str = "subflows",
    deployments: dict[str, str] | None = None,
    until: str | None = None,
) -> dict:
    """VGGSound (or a local folder) → AVSync15 → trained, evaluated AVSyncD, skipping finished stages.

    Args:
        out: run folder (curated/, sync/, psync/, avsync15.parquet, avsyncd/, eval/, stages/).
        csv / url_template / videos / classes / limit: the source, as for curate-vggsound (no source:
            data/vggsound.csv and the VGGSS class list).
        preset: `paper` or `tiny` (a few generated videos on a CPU: every stage, nothing learnt).
        config: YAML over the preset (curation/stages.py, PipelineConfig); overrides: `stage.key=value`.
        auto_accept: accept the review candidates by `review.auto_accept_min` instead of waiting.
        dispatch: `subflows` (every stage here) or `deployments` (GPU stages on their deployments).
        deployments: stage → `flow/deployment` for dispatch=deployments (default STAGE_DEPLOYMENTS).
        until: stop after this stage (one of curate, sync, psync, review, export, avsyncd, evaluate).
    """
    from flows.curate import curate_vggsound
    from flows.evaluate import evaluate_avsyncd
    from flows.train_avsyncd import train_avsyncd
    from flows.train_sync import train_sync_classifier

    log = get_run_logger()
    if dispatch not in ("subflows", "deployments"):
        raise ValueError(f"dispatch must be subflows or deployments, got {dispatch!r}")
    if until is not None and until not in stages.STAGES:
        raise ValueError(f"until must be one of {stages.STAGES}, got {until!r}")
    cfg = stages.load_pipeline_config(preset, config, overrides or ())
    layout = stages.RunLayout(out)
    deployments = {**STAGE_DEPLOYMENTS, **(deployments or {})}
    progress_id = create_progress_artifact(progress=0.0, key="pipeline-progress", description="stages finished")
    markers: dict[str, dict] = {}

    def stage(name: str, params: dict, upstream: tuple[str, ...], run: Callable[[], dict]) -> dict:
        key = stages.stage_key(params, [markers[u] for u in upstream], layout.out)
        marker = stages.finished_stage(layout, name, key)
        if marker is not None:
            log.info("stage %s: done before (%s), skipped", name, marker["finished_at"])
            marker = marker | {"skipped": True}
        else:
            log.info("stage %s: running", name)
            started = time.perf_counter()
            result = run()
            marker = stages.mark_finished(layout, name, key, time.perf_counter() - started, result)
        markers[name] = marker
        update_progress_artifact(progress_id, progress=100.0 * len(markers) / len(stages.STAGES))
        return marker

    def done(name: str) -> bool:
        return until == name

    # 1. VGGSS curation with the non-sync metrics.
    curate_params = {"csv": csv, "url_template": url_template, "videos": videos, "classes": classes, "limit": limit,
                     "out": str(layout.curated), "config": cfg.curate.config, "overrides": cfg.curate.overrides,
                     "exclude_avsync15_test": cfg.curate.exclude_avsync15_test, "batch_size": cfg.curate.batch_size}

    def run_curate() -> dict:
        summary = curate_vggsound(**curate_params)
        return {k: summary[k] for k in ("videos", "videos_ok", "windows", "windows_passed", "clips")}

    marker = stage("curate", curate_params, (), run_curate)
    _publish("curate", marker, f"VGGSS curation: {marker['result']['clips']} clips from "
             f"{marker['result']['videos_ok']}/{marker['result']['videos']} videos.")
    if done("curate"):
        return markers

    # 2. The sync classifier on the clips that passed the non-sync filters, evaluated.
    sync_params = {"out": str(layout.sync_run), "manifest": str(layout.sync_manifest), "preset": cfg.sync.preset,
                   "config": str(layout.sync_settings), "max_steps": cfg.sync.max_steps,
                   "max_minutes": cfg.sync.max_minutes, "train_split": "train", "eval_split": "test"}

    def run_sync() -> dict:
        splits = sync_manifest(layout.curated / "clips.parquet", layout.sync_manifest, cfg.sync.held_out_share)
        write_settings(layout.sync_settings, cfg.sync.config, cfg.sync.settings)
        _run_stage(dispatch, deployments, "sync", train_sync_classifier, sync_params)
        accuracy = json.loads((layout.sync_run / "accuracy.json").read_text())
        return {"clips": splits, "accuracy": accuracy, "chance": stages.SYNC_CHANCE}

    marker = stage("sync", sync_params | {"settings": cfg.sync.settings, "held_out": cfg.sync.held_out_share},
                   ("curate",), run_sync)
    accuracy = marker["result"]["accuracy"]
    _publish("sync", marker, stages.sync_report(marker["result"]))
    if accuracy["videos"] == 0:
        log.warning("the sync classifier's held-out accuracy rests on 0 videos: no clip is long enough")
    if done("sync"):
        return markers

    # 3. PSync over the ledger's passing windows, the PSync filter, AVSync-AC.
    psync_params = {"curated": str(layout.curated), "out": str(layout.psync), "checkpoint": str(layout.sync_model),
                    "config": cfg.curate.config, "overrides": cfg.curate.overrides,
                    "min_quantile": cfg.psync.min_quantile, "minimum": cfg.psync.minimum, "fps": cfg.psync.fps,
                    "device": cfg.psync.device, "min_clips_per_class": cfg.psync.min_clips_per_class,
                    "batch_size": cfg.psync.batch_size}

    def run_psync() -> dict:
        _run_stage(dispatch, deployments, "psync", psync_pass, psync_params)
        summary = json.loads((layout.psync / "summary.json").read_text())
        return {k: summary[k] for k in ("windows", "windows_passed", "clips", "avsync_ac_clips", "avsync_ac_classes")}

    marker = stage("psync", psync_params, ("sync",), run_psync)
    result = marker["result"]
    _publish("psync", marker, f"PSync pass: {result['windows_passed']}/{result['windows']} windows pass; AVSync-AC "
             f"{result['avsync_ac_clips']} clips in {result['avsync_ac_classes']} classes.")
    if done("psync"):
        return markers

    # 4. The chosen classes to the review page; the run waits (Paused) or accepts by thresholds.
    classes_file = stages.review_classes_file(layout, cfg.review.classes)
    review_params = {"classes": cfg.review.classes, "auto_accept": auto_accept, "minimums": cfg.review.auto_accept_min}

    def run_review() -> dict:
        if cfg.review.classes is None:
            review_classes(layout.psync / "avsync_ac.parquet", classes_file)
        if auto_accept:
            counts = accept_by_thresholds(layout.psync, classes_file, cfg.review.auto_accept_min)
            log.info("auto-accept: %s", counts)
            return {"reviewer": "auto-accept", **counts}
        return _wait_for_review(layout, classes_file, cfg.review)

    marker = stage("review", review_params, ("psync",), run_review)
    _publish("review", marker, f"Review of `{classes_file}`: {marker['result']}")
    if done("review"):
        return markers

    # 5. AVSync15: the accepted clips, 90 / 10 per class.
    export_params = {"train_per_class": cfg.review.train_per_class, "test_per_class": cfg.review.test_per_class,
                     "seed": cfg.review.seed, "classes": str(classes_file)}

    def run_export() -> dict:
        return export_avsync15(str(layout.psync), str(layout.avsync15), str(classes_file), cfg.review.train_per_class,
                               cfg.review.test_per_class, cfg.review.seed)

    marker = stage("export", export_params, ("review",), run_export)
    _publish("export", marker, "```\n" + "\n".join(marker["result"]["report"]) + "\n```")
    if done("export"):
        return markers

    # 6. AVSyncD on AVSync15.
    avsyncd_params = {"manifest": str(layout.avsync15), "out": str(layout.avsyncd), "preset": cfg.avsyncd.preset,
                      "pretrained": cfg.avsyncd.pretrained, "config": cfg.avsyncd.config,
                      "max_steps": cfg.avsyncd.max_steps, "max_minutes": cfg.avsyncd.max_minutes,
                      "overrides": cfg.avsyncd.overrides, "sample_steps": cfg.avsyncd.sample_steps}

    def run_avsyncd() -> dict:
        _run_stage(dispatch, deployments, "avsyncd", train_avsyncd, avsyncd_params)
        return {"pipeline": str(layout.avsyncd_model), "sample": str(layout.avsyncd / "sample.mp4")}

    marker = stage("avsyncd", avsyncd_params, ("export",), run_avsyncd)
    _publish("avsyncd", marker, f"AVSyncD pipeline `{marker['result']['pipeline']}`, sample `{marker['result']['sample']}`.")
    if done("avsyncd"):
        return markers

    # 7. Evaluation: Table 1 with the report.
    evaluate_params = {"manifest": str(layout.avsync15), "out": str(layout.eval), "models": [str(layout.avsyncd_model)],
                       "guidance": cfg.evaluate.guidance, "static": True, "split": "test",
                       "overrides": {"sync_classifier": str(layout.sync_model), **cfg.evaluate.overrides}}

    def run_evaluate() -> dict:
        _run_stage(dispatch, deployments, "evaluate", evaluate_avsyncd, evaluate_params)
        summary = json.loads(layout.eval_summary.read_text())
        return {"clips": summary["clips"], "rows": summary["row_order"], "report": summary["report"]}

    marker = stage("evaluate", evaluate_params, ("avsyncd",), run_evaluate)
    _publish("evaluate", marker, f"{marker['result']['clips']} test clips, rows {marker['result']['rows']}; "
             f"report `{marker['result']['report']}`.")
    log.info("pipeline finished: %s", layout.eval_summary)
    return markers


def _wait_for_review(layout: stages.RunLayout, classes_file: Path, review: stages.ReviewStage) -> dict:
    """Serve the review page, pause this flow run until the page's "finish" resumes it (its hook
    calls Prefect's resume API), then stop the page."""
    from prefect.context import get_run_context
    from prefect.flow_runs import pause_flow_run

    from curation.review.process import ReviewProcess

    flow_run_id = get_run_context().flow_run.id
    resume_url = f"{_api_url()}/flow_runs/{flow_run_id}/resume"
    target = review.train_per_class + review.test_per_class
    with ReviewProcess(layout.psync, "--classes", str(classes_file), "--on-finish-url", resume_url,
                       "--target-per-class", str(target)) as page:
        create_link_artifact(key="review-page", link=page.url, link_text="review page",
                             description="Accept or reject the candidate clips, then 'Finish review' resumes this run")
        get_run_logger().info("review page: %s — the run is paused until the review is finished there", page.url)
        pause_flow_run(timeout=review.timeout_s, poll_interval=2)
    finished = layout.psync / "review" / "finished.json"
    if not finished.is_file():  # resumed from the UI without finishing: the page's decisions so far count
        mark_review_finished(layout.psync, classes_file, "resumed-in-prefect-ui")
    summary = json.loads(finished.read_text())
    return {"reviewer": summary["reviewer"], "accepted": sum(row["accept"] for row in summary["progress"])}


# ---- CLI ----------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    from flows.curate import build_parser

    parser = build_parser()  # the same source options as flows.curate
    parser.prog = "python -m flows.pipeline"
    parser.description = asva_pipeline.__doc__.split("\n")[0]
    for action in parser._actions:
        if action.dest == "out":
            action.default = "data/runs/pipeline"
        if action.dest == "config":
            action.help = "YAML over the pipeline preset (curation/stages.py, PipelineConfig)"
        if action.dest == "set":
            action.help = "pipeline override, e.g. --set sync.max_steps=100 (repeatable)"
    parser.add_argument("--preset", choices=sorted(stages.PRESETS), default="paper")
    parser.add_argument("--auto-accept", action="store_true",
                        help="accept review candidates by thresholds (review.auto_accept_min) instead of waiting")
    parser.add_argument("--until", choices=stages.STAGES, help="stop after this stage")
    args = parser.parse_args(argv)
    if args.csv and args.videos:
        parser.error("give at most one of --csv or --videos (neither: data/vggsound.csv)")
    if args.batch_size is not None:
        args.set.insert(0, f"curate.batch_size={args.batch_size}")
    if args.exclude_avsync15_test:
        args.set.insert(0, "curate.exclude_avsync15_test=true")
    try:
        stages.load_pipeline_config(args.preset, args.config, args.set)
    except (ValueError, KeyError, FileNotFoundError) as exc:
        parser.error(f"config: {exc}")
    markers = asva_pipeline(out=args.out, csv=args.csv, url_template=args.url_template, videos=args.videos,
                            classes=args.classes, limit=args.limit, preset=args.preset, config=args.config,
                            overrides=args.set, auto_accept=args.auto_accept, until=args.until)
    for name, marker in markers.items():
        took = "skipped" if marker.get("skipped") else f"{marker['seconds']:7.1f} s"
        print(f"{name:9s} {took}")
    print(f"run folder: {Path(args.out).resolve()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
