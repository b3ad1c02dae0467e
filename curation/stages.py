"""The DAG from VGGSound to an evaluated AVSyncD as a library (no Prefect): its config (presets
`tiny` / `paper`), where each stage leaves its output under the run folder, the completion
markers that let a rerun skip finished stages, and the small steps between stages (the sync
classifier's train / test manifest, the review's class list, acceptance by thresholds).

`flows/pipeline.py` wires the stages (DESIGN.md, "The DAG"):

    1 curate    OUT/curated/           VGGSS curation, non-sync metrics (curate-vggsound)
    2 sync      OUT/sync/run/final/    sync classifier on the passing clips (train-sync-classifier)
    3 psync     OUT/psync/             PSync pass on the ledger, PSync filter, AVSync-AC (psync-pass)
    4 review    OUT/psync/review/      the chosen classes reviewed (page or thresholds)
    5 export    OUT/avsync15.parquet   AVSync15, 90 / 10 per class
    6 avsyncd   OUT/avsyncd/final/     AVSyncD (train-avsyncd)
    7 evaluate  OUT/eval/summary.json  Table 1 (evaluate-avsyncd)

A stage is done when its marker `OUT/stages/<stage>.json` exists, was written for the same
inputs (`key`: a digest of the stage's parameters and of the markers it depends on), and its
outputs still exist. A stage that was interrupted has no marker and runs again; its own
resumption (the curation ledgers, the trainers' checkpoints) keeps the work already done.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from pydantic import Field

from curation.layered_config import StrictConfig, load_layered
from curation.manifest import write_json_atomic, write_parquet_atomic

STAGES = ("curate", "sync", "psync", "review", "export", "avsyncd", "evaluate")
REPO = Path(__file__).resolve().parents[1]
# Chance level of the VGGSoundSync protocol (sync_classifier/evaluate.py): a prediction within ±5 of
# 31 offsets is correct, so a guess is right 11 / 31 of the time.
SYNC_CHANCE = 11 / 31


# ---- config ----------------------------------------------------------------------------------

class CurateStage(StrictConfig):
    config: str | None = Field(None, description="curation YAML (default: curation/config.py's defaults)")
    overrides: list[str] = Field(default_factory=list, description="`section.key=value` curation overrides")
    exclude_avsync15_test: bool = Field(True, description="leakage guard: AVSync15 test segments never curated")
    batch_size: int | None = Field(None, ge=1, description="videos per task (default: the curation config's)")


class SyncStage(StrictConfig):
    preset: Literal["tiny", "paper"] = "paper"
    config: str | None = Field(None, description="sync classifier YAML over the preset")
    max_steps: int | None = None
    max_minutes: float | None = None
    settings: dict[str, Any] = Field(default_factory=dict, description="sync classifier config keys over `config`, "
                                     "e.g. {train: {batch_size: 8}}")
    held_out_share: float = Field(0.1, ge=0.0, lt=1.0,
                                  description="videos held out for the accuracy when the clips have no split")


class PsyncStage(StrictConfig):
    min_quantile: float | None = Field(0.1, ge=0.0, le=1.0, description="drop windows below this PSync quantile")
    minimum: float | None = Field(None, description="absolute PSync minimum (instead of min_quantile)")
    fps: float = Field(12.0, gt=0, description="analysis frames per second for the classifier")
    device: str = "auto"
    batch_size: int | None = Field(None, ge=1, description="videos per task (default: the curation's)")
    min_clips_per_class: int = Field(100, ge=1, description="AVSync-AC: classes with at least this many clips")


class ReviewStage(StrictConfig):
    classes: str | None = Field("data/classes/avsync15.txt",
                                description="class list to review; null: every AVSync-AC class")
    auto_accept_min: dict[str, float] = Field(default_factory=dict,
                                              description="--auto-accept: clip score minimums, e.g. {psync: 0.3}")
    timeout_s: int = Field(7 * 24 * 3600, ge=1, description="how long the paused run waits for the reviewer")
    train_per_class: int = Field(90, ge=0)
    test_per_class: int = Field(10, ge=0)
    seed: int = 0


class AvsyncdStage(StrictConfig):
    preset: Literal["tiny", "paper"] = "paper"
    config: str | None = None
    pretrained: str | None = Field(None, description="Stable Diffusion 1.5 folder (paper preset)")
    max_steps: int | None = None
    max_minutes: float | None = None
    overrides: list[str] = Field(default_factory=list, description="`section.key=value` AVSyncD overrides")
    sample_steps: int = 50


class EvaluateStage(StrictConfig):
    overrides: dict[str, Any] = Field(default_factory=dict, description="EvalConfig fields (model/evaluate.py)")
    guidance: list[float] = Field(default_factory=lambda: [4.0])


class PipelineConfig(StrictConfig):
    curate: CurateStage = CurateStage()
    sync: SyncStage = SyncStage()
    psync: PsyncStage = PsyncStage()
    review: ReviewStage = ReviewStage()
    avsyncd: AvsyncdStage = AvsyncdStage()
    evaluate: EvaluateStage = EvaluateStage()


def _paper() -> PipelineConfig:
    return PipelineConfig()


def _tiny() -> PipelineConfig:
    """Minutes on 2 CPU cores over a few generated videos: every stage runs, nothing is learnt."""
    return PipelineConfig(
        curate=CurateStage(config=str(REPO / "configs" / "demo.yaml"), exclude_avsync15_test=False),
        sync=SyncStage(preset="tiny", max_steps=3, settings={"train": {
            "eval_videos": 2, "log_every": 1, "checkpoint_every": 1000, "target_accuracy": None}}),
        psync=PsyncStage(min_clips_per_class=2, batch_size=1),
        review=ReviewStage(classes=None),
        avsyncd=AvsyncdStage(preset="tiny", max_steps=2, sample_steps=2, overrides=["train.eval_clips=2"]),
        evaluate=EvaluateStage(overrides={"clips_per_video": 1, "steps": 2, "bootstrap": 20,
                                          "bootstrap_frechet": 0, "report_samples": 1}),
    )


PRESETS = {"paper": _paper, "tiny": _tiny}


def load_pipeline_config(preset: str = "paper", path: str | Path | None = None,
                         overrides: Sequence[str] = ()) -> PipelineConfig:
    """Preset, then the YAML file, then `stage.key=value` overrides (the one layered loader)."""
    return load_layered(PRESETS, preset, path, overrides)


# ---- where the stages leave their outputs ------------------------------------------------------

class RunLayout:
    """Paths of one pipeline run folder `out`."""

    def __init__(self, out: str | Path):
        self.out = Path(out)
        self.curated = self.out / "curated"
        self.sync = self.out / "sync"
        self.sync_manifest = self.sync / "clips.parquet"
        self.sync_settings = self.sync / "settings.yaml"
        self.sync_run = self.sync / "run"
        self.sync_model = self.sync_run / "final"
        self.psync = self.out / "psync"
        self.review_classes = self.out / "review_classes.txt"
        self.avsync15 = self.out / "avsync15.parquet"
        self.avsyncd = self.out / "avsyncd"
        self.avsyncd_model = self.avsyncd / "final"
        self.eval = self.out / "eval"
        self.eval_summary = self.eval / "summary.json"
        self.stages = self.out / "stages"

    def outputs(self, stage: str) -> list[Path]:
        """What must exist for `stage` to count as done."""
        return {
            "curate": [self.curated / "clips.parquet", self.curated / "summary.json"],
            "sync": [self.sync_model],
            "psync": [self.psync / "avsync_ac.parquet", self.psync / "summary.json"],
            "review": [self.psync / "review" / "finished.json"],
            "export": [self.avsync15],
            "avsyncd": [self.avsyncd_model],
            "evaluate": [self.eval_summary],
        }[stage]

    def marker(self, stage: str) -> Path:
        return self.stages / f"{stage}.json"


def stage_key(params: Mapping[str, Any], upstream: Sequence[dict | None] = (), root: str | Path | None = None) -> str:
    """Digest of a stage's parameters and of the keys of the stages it reads from. Paths inside
    the run folder `root` count relative to it, so a run folder moved or copied keeps its keys."""
    text = json.dumps({"params": params, "upstream": [m and m["key"] for m in upstream]}, sort_keys=True, default=str)
    if root is not None:
        text = text.replace(str(Path(root)), "<OUT>")
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def finished_stage(layout: RunLayout, stage: str, key: str) -> dict | None:
    """The stage's marker if it finished for these inputs and its outputs exist, else None."""
    path = layout.marker(stage)
    if not path.is_file():
        return None
    marker = json.loads(path.read_text())
    if marker.get("key") != key or not all(p.exists() for p in layout.outputs(stage)):
        return None
    return marker


def mark_finished(layout: RunLayout, stage: str, key: str, seconds: float, result: Mapping[str, Any]) -> dict:
    """Write the stage's marker (atomically, after its outputs) and return it."""
    marker = {"stage": stage, "key": key, "seconds": round(seconds, 3), "result": dict(result),
              "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "outputs": [str(p.resolve()) for p in layout.outputs(stage)]}
    layout.stages.mkdir(parents=True, exist_ok=True)
    write_json_atomic(marker, layout.marker(stage))
    return marker


# ---- steps between stages ----------------------------------------------------------------------

def sync_training_manifest(clips_path: str | Path, out_path: str | Path, held_out_share: float = 0.1) -> dict:
    """The curated clips (those that passed the non-sync filters) as the sync classifier's manifest
    with a `split`: the source's own split when it has one (VGGSound's train / test), otherwise
    `held_out_share` of the videos (chosen by a hash of the id, so it never changes) as `test`.
    Clips of one video stay on one side. Returns the clip counts per split."""
    clips = pd.read_parquet(clips_path)
    if clips.empty:
        raise ValueError(f"{clips_path}: no clip passed the curation filters; nothing to train the sync classifier on")
    has_split = clips["split"].notna().any() if "split" in clips.columns else False
    if not has_split or not {"train", "test"} <= set(clips["split"].dropna()):
        videos = sorted(clips["video_id"].unique())
        test = {v for v in videos if zlib.crc32(v.encode()) % 10_000 < held_out_share * 10_000}
        if not test and held_out_share > 0 and len(videos) > 1:
            test = {videos[-1]}  # a tiny run still gets a held-out video
        clips = clips.assign(split=["test" if v in test else "train" for v in clips["video_id"]])
    write_parquet_atomic(clips, out_path)
    return {split: int(n) for split, n in clips["split"].value_counts().sort_index().items()}


def write_settings(path: str | Path, base: str | Path | None, settings: Mapping[str, Any]) -> Path:
    """A YAML config file: the mapping in `base` (if any) with `settings` merged over it."""
    import yaml

    from curation.layered_config import merge, read_mapping

    data = merge(read_mapping(base) if base else {}, settings)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text("# written by the pipeline (curation/stages.py)\n" + yaml.safe_dump(data, sort_keys=True))
    return Path(path)


def sync_report(result: Mapping[str, Any]) -> str:
    """Markdown lines of the sync stage: held-out accuracy next to the chance level, loudly when
    it is no better than chance or rests on no video."""
    accuracy, chance = result["accuracy"], result["chance"]
    lines = [f"Sync classifier trained on {result['clips'].get('train', 0)} clips, evaluated on "
             f"{accuracy['videos']} held-out clips (VGGSoundSync protocol: ±5 of 31 offsets 0.04 s apart).",
             "", "| | A→V | V→A |", "|---|---|---|",
             f"| accuracy | {100 * accuracy['a2v']:.1f} % | {100 * accuracy['v2a']:.1f} % |",
             f"| chance | {100 * chance:.1f} % | {100 * chance:.1f} % |"]
    if accuracy["videos"] == 0:
        lines.append("\n**No held-out clip was long enough (3.2 s): the accuracy means nothing.**")
    elif max(accuracy["a2v"], accuracy["v2a"]) <= chance:
        lines.append("\n**Not better than chance: PSync from this classifier filters at random.**")
    return "\n".join(lines)


def review_classes_file(layout: RunLayout, classes: str | None) -> Path:
    """The class list the review uses: the configured file (relative paths: from the working
    folder, else from the repository), or the run's own list of its AVSync-AC classes."""
    if classes is None:
        return layout.review_classes
    path = Path(classes)
    return path if path.is_absolute() or path.exists() else REPO / path


def mark_review_finished(run_dir: str | Path, classes_file: str | Path, reviewer: str) -> dict:
    """Write the review's `finished.json` as the page's "finish" does."""
    from curation.review.session import ReviewSession

    session = ReviewSession(Path(run_dir), Path(classes_file), reviewer)
    try:
        return session.finish(reviewer)
    finally:
        session.close()


def write_review_classes(avsync_ac_path: str | Path, out_path: str | Path) -> list[str]:
    """A class list naming every class of an AVSync-AC table (the review's `classes: null`)."""
    labels = sorted(pd.read_parquet(avsync_ac_path, columns=["label"])["label"].dropna().unique())
    if not labels:
        raise ValueError(f"{avsync_ac_path}: no class has enough clips for AVSync-AC; lower "
                         "psync.min_clips_per_class or curate more videos")
    Path(out_path).write_text("# every AVSync-AC class of this run (written by the pipeline)\n"
                              + "".join(f"{label}\n" for label in labels))
    return labels


def auto_accept(run_dir: str | Path, classes_file: str | Path, minimums: Mapping[str, float],
                reviewer: str = "auto-accept") -> dict:
    """Accept every undecided candidate whose scores meet `minimums` ({metric: lowest clip mean};
    empty: every candidate — they all passed the filters), recorded in the review's decision log
    like a reviewer's clicks, then mark the review finished (`finished.json`). Decisions already
    made are kept. Returns counts."""
    from curation.review.session import ReviewSession

    session = ReviewSession(Path(run_dir), Path(classes_file), reviewer)
    try:
        latest = session.decisions.latest()
        counts = {"candidates": len(session.candidates), "accepted": 0, "below_threshold": 0, "already_decided": 0}
        for clip in session.candidates:
            if clip.key in latest:
                counts["already_decided"] += 1
            elif all(clip.scores.get(metric, float("-inf")) >= low for metric, low in minimums.items()):
                session.decide(clip.key, "accept", reviewer, base_version=0)
                counts["accepted"] += 1
            else:
                counts["below_threshold"] += 1
        session.finish(reviewer)
    finally:
        session.close()
    return counts
