"""Contrastive training of the sync classifier with accelerate; `python -m sync_classifier.train`.

Each step draws `batch_size` videos × K = 21 clips (0.2 s apart), scores all K×K audio/video
pairs per video and minimises the two-way cross-entropy at τ = 0.1 (`contrastive.py`).
AdamW with linear warm-up to a constant rate, gradient clipping, bf16 autocast (real on CPU).

Output folder:
    checkpoints/step-000500/   resumable state (accelerate: model.safetensors, optimizer,
                               scheduler, RNG) + model/ (config.json + model.safetensors)
    final/                     the last model: config.json + model.safetensors (+ metrics.json)
    logs/                      TensorBoard event files
    config.yaml                the full resolved config of the run

A rerun with the same --out resumes from the latest checkpoint (pass --no-resume to refuse).

    python -m sync_classifier.train --preset tiny --synthetic --max-steps 150 --out runs/sync-demo
    python -m sync_classifier.train --preset paper --manifest data/runs/vggss/clips.parquet \
        --init-from AVID-CMA_Audioset_InstX-N1024-PosW-N64-Top32_checkpoint.pth.tar --out runs/sync
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import torch
import yaml
from torch.utils.data import DataLoader

from curation.layered_config import config_error_message
from curation.manifest import read_clip_rows
from curation.precision import resolve_precision
from sync_classifier.config import SyncConfig, TrainConfig, load_config
from sync_classifier.contrastive import sync_contrastive_loss
from sync_classifier.data import (
    EpochShuffleSampler,
    ManifestTrainingSet,
    SyntheticTrainingSet,
    collate_examples,
)
from sync_classifier.model import SyncClassifier

log = logging.getLogger("sync_classifier.train")

CHECKPOINTS = "checkpoints"
FINAL = "final"
STEP_FILE = "step.json"


@dataclass
class TrainResult:
    out_dir: Path
    final_model: Path
    steps: int
    resumed_from: int
    seconds: float  # wall time
    cpu_seconds: float  # CPU time of this process, all threads
    precision: dict = field(default_factory=dict)  # mixed_precision chosen and why (curation/precision.py)
    reached_target: bool | None = None  # final held-out accuracy >= train.target_accuracy (None: not checked)
    warning: str | None = None  # why the run is not good enough, when it is not
    history: list[dict] = field(default_factory=list)  # logged rows: step, loss, accuracies, lr
    evaluations: list[dict] = field(default_factory=list)  # held-out sync accuracy rows


def lr_factor(tc: TrainConfig, step: int) -> float:
    """The learning rate at `step` as a fraction of `tc.lr`: linear warm-up, then `tc.lr_schedule`."""
    if step < tc.warmup_steps:
        return (step + 1) / tc.warmup_steps
    if tc.lr_schedule == "constant":
        return 1.0
    progress = (step - tc.warmup_steps) / max(1, tc.max_steps - tc.warmup_steps)
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


def latest_checkpoint(out_dir: Path) -> Path | None:
    """The newest complete checkpoint folder (its step file is written last)."""
    folder = out_dir / CHECKPOINTS
    if not folder.is_dir():
        return None
    done = sorted(p for p in folder.glob("step-*") if (p / STEP_FILE).is_file())
    return done[-1] if done else None


def _build_loader(config: SyncConfig, start_step: int, rank: int = 0, world: int = 1) -> DataLoader:
    """Endless batches of the configured source for process `rank` of `world`, starting after
    the `start_step` batches a resumed run has already used."""
    data, model_cfg, train_cfg = config.data, config.model, config.train
    if data.synthetic == bool(data.manifest):
        raise ValueError("choose exactly one data source: data.synthetic=true or data.manifest=PATH")
    common = dict(batch_size=train_cfg.batch_size, collate_fn=collate_examples, num_workers=data.num_workers,
                  persistent_workers=data.num_workers > 0)
    if data.synthetic:
        dataset = SyntheticTrainingSet(model_cfg, data, seed=data.synthetic_seed,
                                       start_index=start_step * train_cfg.batch_size, rank=rank)
        return DataLoader(dataset, **common)
    rows = read_clip_rows(data.manifest, data.split)
    from curation.avsync15 import overlap_counts

    if leaked := overlap_counts(row.video_id for row in rows)["test"]:  # leakage guard (data/avsync15/README.md)
        log.warning("%d training rows are AVSync15 test segments: this classifier must not score AVSync15's test set "
                    "(curate with --exclude-avsync15-test)", leaked)
    dataset = ManifestTrainingSet(rows, model_cfg, data, seed=train_cfg.seed)
    sampler = EpochShuffleSampler(len(dataset), seed=train_cfg.seed, skip=start_step * train_cfg.batch_size,
                                  rank=rank, world=world)
    return DataLoader(dataset, sampler=sampler, **common)


def threads_for_this_machine(sample_s: float = 0.5) -> tuple[int, str]:
    """(torch CPU threads, why): the cores this process may use minus those others keep busy now
    (utilisation sampled over `sample_s`, rounded to whole cores), at least 1. Why: on shared cores,
    more threads than idle cores make every small op wait for a descheduled thread (measured: 0.65
    s/step with 1 thread vs 6.2 s with 2 on 2 loaded cores). Sampled, not the load average: that
    lags by minutes, so a process that just ended (or just started) would still count (or not yet)."""
    import psutil

    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else list(range(os.cpu_count() or 1))
    per_core = psutil.cpu_percent(interval=sample_s, percpu=True)
    busy = sum(per_core[c] for c in cores if c < len(per_core)) / 100
    threads = max(1, len(cores) - round(busy))
    return threads, f"{len(cores)} cores, {busy:.1f} of them busy over {sample_s:g} s → {threads} thread(s)"


def accuracy_verdict(final: dict | None, target: float | None, stopped_early: bool, steps: int) -> tuple[bool | None, str | None]:
    """(reached the target?, a warning naming why not) for the final held-out evaluation row."""
    if target is None or final is None:
        return None, None
    worst = min(final["a2v"], final["v2a"])
    if worst >= target:
        return True, None
    why = (f"the time budget stopped it after {steps} steps" if stopped_early
           else f"{steps} steps were not enough")
    return False, (f"sync classifier below target: held-out accuracy A→V {final['a2v']:.1%}, V→A {final['v2a']:.1%} "
                   f"< {target:.0%} (chance ≈ 35.5 %); {why}. Its PSync scores are weak: train longer "
                   f"(train.max_steps / train.max_minutes) or on a faster machine before relying on them.")


def _flat(config: SyncConfig) -> dict:
    out = {}
    for section, values in config.model_dump().items():
        for key, value in values.items():
            out[f"{section}.{key}"] = value if isinstance(value, (int, float, str, bool)) else str(value)
    return out


def train(config: SyncConfig, out_dir: str | Path, resume: bool = True, eval_seed: int = 10_000,
          on_log: Callable[[dict], None] | None = None, progress: bool | None = None) -> TrainResult:
    """Train (or resume) into `out_dir`; returns where the final model is and what was logged.
    `progress`: a step bar on stderr (default: when stderr is a terminal)."""
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState
    from accelerate.utils import set_seed

    out_dir = Path(out_dir)
    tc = config.train
    threads, why = (tc.num_threads, "train.num_threads") if tc.num_threads else threads_for_this_machine()
    torch.set_num_threads(threads)
    log.info("torch CPU threads: %d (%s)", threads, why)
    previous = latest_checkpoint(out_dir)
    if previous is not None and not resume:
        raise FileExistsError(f"{out_dir} already holds checkpoints; use another --out or allow resuming")
    out_dir.mkdir(parents=True, exist_ok=True)
    saved_config = out_dir / "config.yaml"
    if previous is not None and saved_config.is_file():
        before = SyncConfig.model_validate(yaml.safe_load(saved_config.read_text()))
        if before.model != config.model:
            raise ValueError(f"{out_dir} was trained with a different model config; resume needs the same one")
    saved_config.write_text(yaml.safe_dump(json.loads(config.model_dump_json()), sort_keys=False))

    set_seed(tc.seed)
    # One process may train several times (flows, tests): start from a fresh accelerate state.
    AcceleratorState._reset_state(reset_partial_state=True)
    precision = resolve_precision(tc.mixed_precision)
    accelerator = Accelerator(
        mixed_precision=precision.mixed_precision,
        log_with="tensorboard",
        project_dir=str(out_dir),
    )
    model = SyncClassifier(config.model)
    if tc.init_from and previous is None:
        from sync_classifier.pretrained import load_avid_cma

        report = load_avid_cma(model, tc.init_from)
        log.info("encoders initialised from %s (%d tensors, %d keys ignored)", tc.init_from, report.loaded, len(report.ignored))
    optimizer = torch.optim.AdamW(model.parameters(), lr=tc.lr, weight_decay=tc.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, partial(lr_factor, tc))
    model, optimizer, scheduler = accelerator.prepare(model, optimizer, scheduler)
    start_step = 0
    if previous is not None:
        accelerator.load_state(str(previous))
        start_step = json.loads((previous / STEP_FILE).read_text())["step"]
        log.info("resumed from %s (step %d)", previous, start_step)
    # Each process draws its own batches (per-GPU batch_size, as in the paper's 4 x 8 GPUs).
    batches = iter(_build_loader(config, start_step, accelerator.process_index, accelerator.num_processes))
    accelerator.init_trackers("logs", config=_flat(config))

    eval_media = None
    if config.data.synthetic:  # held-out synthetic videos, disjoint seeds from the training stream
        from sync_classifier.evaluate import synthetic_eval_media

        eval_media = synthetic_eval_media(tc.eval_videos, config.model, config.data, seed=eval_seed)

    def evaluate(step: int) -> dict | None:
        if eval_media is None or not accelerator.is_main_process:
            return None
        from sync_classifier.evaluate import evaluate_media

        with accelerator.autocast():
            result = evaluate_media(accelerator.unwrap_model(model), eval_media)
        row = {"step": step, "a2v": result.a2v, "v2a": result.v2a, "a2v_exact": result.a2v_exact,
               "v2a_exact": result.v2a_exact, "videos": result.videos}
        accelerator.log({"eval/a2v_accuracy": result.a2v, "eval/v2a_accuracy": result.v2a}, step=step)
        log.info("step %d held-out sync accuracy (±5 of 31): A→V %.3f, V→A %.3f", step, result.a2v, result.v2a)
        return row

    def save_checkpoint(step: int) -> None:
        folder = out_dir / CHECKPOINTS / f"step-{step:06d}"
        accelerator.save_state(str(folder), safe_serialization=True)
        accelerator.wait_for_everyone()
        if accelerator.is_main_process:
            accelerator.unwrap_model(model).save_pretrained(folder / "model")
            (folder / STEP_FILE).write_text(json.dumps({"step": step}) + "\n")  # last: marks it complete
            for old in sorted((out_dir / CHECKPOINTS).glob("step-*"))[: -tc.keep_checkpoints]:
                shutil.rmtree(old, ignore_errors=True)

    history, evaluations = [], []
    stopped_early = False
    started, cpu_started = time.perf_counter(), time.process_time()
    step = start_step
    model.train()
    window = {"loss": 0.0, "a2v_acc": 0.0, "v2a_acc": 0.0, "n": 0}
    tick = time.perf_counter()
    bar = None
    if progress if progress is not None else sys.stderr.isatty():
        from tqdm import tqdm

        bar = tqdm(total=tc.max_steps, initial=start_step, desc="sync classifier", unit="step")
    while step < tc.max_steps:
        batch = next(batches)
        audio, video = batch["audio"].to(accelerator.device), batch["video"].to(accelerator.device)
        with accelerator.autocast():
            scores = model(audio, video)  # (B, K, K)
        output = sync_contrastive_loss(scores, tc.tau)
        accelerator.backward(output.loss)
        accelerator.clip_grad_norm_(model.parameters(), tc.grad_clip)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        step += 1
        if bar is not None:
            bar.update(1)
        window["loss"] += output.loss.item()
        window["a2v_acc"] += output.a2v_accuracy.item()
        window["v2a_acc"] += output.v2a_accuracy.item()
        window["n"] += 1
        out_of_time = (tc.max_minutes is not None and time.perf_counter() - started > 60 * tc.max_minutes) or (
            tc.max_cpu_minutes is not None and time.process_time() - cpu_started > 60 * tc.max_cpu_minutes)
        if step % tc.log_every == 0 or step == tc.max_steps or out_of_time:
            n = window.pop("n")
            row = {"step": step, **{k: v / n for k, v in window.items()}, "lr": scheduler.get_last_lr()[0],
                   "seconds_per_step": (time.perf_counter() - tick) / n}
            accelerator.log({f"train/{k}": v for k, v in row.items() if k != "step"}, step=step)
            log.info("step %d loss %.4f acc a2v %.3f v2a %.3f (%.2f s/step)", step, row["loss"], row["a2v_acc"],
                     row["v2a_acc"], row["seconds_per_step"])
            history.append(row)
            if on_log is not None:
                minutes = (time.perf_counter() - started) / 60
                on_log(row | {"done": min(1.0, max(step / tc.max_steps, minutes / tc.max_minutes if tc.max_minutes else 0))})
            window = {"loss": 0.0, "a2v_acc": 0.0, "v2a_acc": 0.0, "n": 0}
            tick = time.perf_counter()
        if step % tc.checkpoint_every == 0 and step < tc.max_steps and not out_of_time:
            save_checkpoint(step)
        if tc.eval_every and step % tc.eval_every == 0 and step < tc.max_steps and not out_of_time:
            if (row := evaluate(step)) is not None:
                evaluations.append(row)
        if out_of_time:
            log.info("stopping at step %d: time budget reached (max_minutes=%s, max_cpu_minutes=%s)", step,
                     tc.max_minutes, tc.max_cpu_minutes)
            stopped_early = True
            break

    if bar is not None:
        bar.close()
    if step > start_step:
        save_checkpoint(step)
    final = out_dir / FINAL
    if accelerator.is_main_process:
        accelerator.unwrap_model(model).save_pretrained(final)
        if (row := evaluate(step)) is not None:
            evaluations.append(row)
    reached, warning = accuracy_verdict(evaluations[-1] if evaluations else None, tc.target_accuracy,
                                        stopped_early, step)
    if warning:
        log.warning("!" * 20 + " %s " + "!" * 20, warning)
    if accelerator.is_main_process:
        (final / "metrics.json").write_text(json.dumps({"steps": step, "precision": precision.as_dict(),
                                                        "reached_target": reached, "warning": warning,
                                                        "history": history[-5:],
                                                        "evaluations": evaluations}, indent=2) + "\n")
    accelerator.end_training()
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    log.info("done: %d steps in %.0f s (%.0f s CPU); model in %s", step, seconds, cpu_seconds, final)
    return TrainResult(out_dir, final, step, start_step, seconds, cpu_seconds, precision.as_dict(), reached, warning,
                       history, evaluations)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m sync_classifier.train", description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default="tiny", choices=["tiny", "paper"], help="model size preset (default: %(default)s)")
    parser.add_argument("--config", help="YAML file overriding any subset of the preset")
    parser.add_argument("--out", required=True, help="run folder (checkpoints, logs, final model)")
    parser.add_argument("--synthetic", action="store_true", help="train on generated audio-visual clips")
    parser.add_argument("--manifest", help="Parquet clip manifest (path, start_s, end_s), e.g. curation's clips.parquet")
    parser.add_argument("--split", help="manifest split to train on (e.g. train)")
    parser.add_argument("--max-steps", type=int)
    parser.add_argument("--max-minutes", type=float, help="stop and save after this much wall time")
    parser.add_argument("--max-cpu-minutes", type=float, help="stop and save after this much process CPU time")
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--lr", type=float)
    parser.add_argument("--threads", type=int, help="torch CPU threads")
    parser.add_argument("--workers", type=int, help="DataLoader worker processes")
    parser.add_argument("--init-from", help="AVID-CMA checkpoint for both encoders (paper preset)")
    parser.add_argument("--no-resume", action="store_true", help="fail if --out already has checkpoints")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="any config override, e.g. --set train.tau=0.1 (repeatable)")
    return parser


def config_from_args(args: argparse.Namespace) -> SyncConfig:
    """preset < --config file < the named flags < --set (the same precedence as `model.train`)."""
    flags = {
        "data.synthetic": True if args.synthetic else None, "data.manifest": args.manifest, "data.split": args.split,
        "train.max_steps": args.max_steps, "train.max_minutes": args.max_minutes,
        "train.max_cpu_minutes": args.max_cpu_minutes, "train.batch_size": args.batch_size,
        "train.lr": args.lr, "train.num_threads": args.threads, "data.num_workers": args.workers,
        "train.init_from": args.init_from,
    }
    return load_config(args.preset, args.config, args.set, flags)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        config = config_from_args(args)
    except (ValueError, KeyError, FileNotFoundError) as exc:  # a bad --config / --set: one line, exit 2
        parser.error(f"config: {config_error_message(exc)}")
    result = train(config, args.out, resume=not args.no_resume)
    summary = {"final_model": str(result.final_model), "steps": result.steps, "seconds": round(result.seconds, 1),
               "cpu_seconds": round(result.cpu_seconds, 1),
               "last": result.history[-1] if result.history else None,
               "held_out": result.evaluations[-1] if result.evaluations else None,
               "reached_target": result.reached_target, "warning": result.warning, "precision": result.precision}
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
