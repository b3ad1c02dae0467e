"""`make demo`: the whole chain on the toy domain (a lamp flashing on clicks), on the embedded Prefect API.

1. toy data: long toy clips for the sync classifier (train / held-out test, plus out-of-sync
   copies of the test clips), next to the demo set (real clips, generated clips with scene cuts,
   static / silent / chaotic scenes, deliberately broken files);
2. `train-sync-classifier` on the toy clips; its held-out accuracy (VGGSoundSync protocol, ±5 of
   31 offsets) is printed, loudly when it misses 90 %;
3. `curate-vggsound` on the demo set (scene cuts, broken files, the CPU filters), then on the toy
   test clips in sync and with the sound 1 s late, with PSync from that classifier as a filter
   (the late copies should go);
4. AVSyncD on the toy base (a tiny image diffusion model fitted to toy frames), trained briefly,
   in a second process alongside steps 2–3;
5. held-out toy images animated with held-out sounds, by AVSyncD and by the same model with no
   sound: event F1 of both, and a side-by-side mp4 with the sound;
6. the authors' lion picture + roar, when their converted AVSyncD is there (else: says so).

Writes OUT/summary.json: held-out sync accuracies, event F1s, curation counts, seconds per stage.

    python -m flows.demo --out data/demo                     # `make demo`
    python -m flows.demo --out /tmp/demo --quick             # the same chain at smoke size (~1 min)
    python -m flows.demo --out data/demo --curation-only     # steps 1 and 3 without PSync, ~25 s
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path

import yaml

from curation.sources.demo_set import make_demo_set, write_bad_inputs

REPO = Path(__file__).resolve().parents[1]
REAL_CLIPS = REPO / "data" / "examples"  # with their origins in its README.md
DEMO_CONFIG = REPO / "configs" / "demo.yaml"
# (file, label folder): real footage with sound; the rotated one has two hard cuts.
DEMO_REAL = [("hitting_metal.mp4", "hitting"), ("issue-134-rotate.mp4", "movie_scene")]
# Curation folders of the toy test clips: in sync, and with the sound 1 s late.
TOY_IN_SYNC, TOY_OUT_OF_SYNC = "toy_lamp_in_sync", "toy_lamp_out_of_sync"
# The PSync run keeps a window when the classifier gives its true alignment at least this share of
# its softmax over the (up to 21) candidate shifts: 3× chance. The toy classifier only knows lamps,
# so this run holds only toy clips; the demo set is curated without PSync.
PSYNC_MIN = 3 / 21


def build_demo_set(root: Path, seed: int = 0, generated: bool = True) -> Path:
    """Write the demo videos under root/videos/<label>/ and return that folder (`generated=False`:
    only the real clips and the broken files, for the smoke-size demo)."""
    videos = root / "videos"
    if videos.exists():
        shutil.rmtree(videos)
    if generated:
        make_demo_set(videos, seed=seed)
    for name, label in DEMO_REAL:
        (videos / label).mkdir(parents=True, exist_ok=True)
        shutil.copy(REAL_CLIPS / name, videos / label / name)
    write_bad_inputs(videos / "broken")
    return videos


def add_toy_test_clips(videos: Path, toy_sync_root: Path) -> None:
    """Copy the toy sync test clips (in sync) and their out-of-sync copies into a curation input."""
    import pandas as pd

    rows = pd.read_parquet(toy_sync_root / "clips.parquet")
    for row in rows[rows.split == "test"].itertuples():
        for folder, source in ((TOY_IN_SYNC, toy_sync_root / row.path),
                               (TOY_OUT_OF_SYNC, toy_sync_root / "out_of_sync" / row.label / Path(row.path).name)):
            (videos / folder).mkdir(parents=True, exist_ok=True)
            shutil.copy(source, videos / folder / source.name)


def start_embedded_api() -> threading.Thread | None:
    """Start Prefect's embedded API in the background (it takes seconds) while the demo set is
    generated. No-op when PREFECT_API_URL points at a server."""
    from prefect.settings import PREFECT_API_URL

    if PREFECT_API_URL.value():
        return None

    def start() -> None:
        from prefect.server.api.server import SubprocessASGIServer  # a heavy import: keep it off the main thread

        SubprocessASGIServer().start()

    thread = threading.Thread(target=start, name="prefect-api-start", daemon=True)
    thread.start()
    return thread


def curation_config_with_psync(base: Path, checkpoint: Path, out: Path) -> Path:
    """The demo's curation config plus PSync (12 fps analysis frames resolve its 0.2 s shifts) and
    an absolute PSync filter, written next to the run so it is on record."""
    config = yaml.safe_load(base.read_text()) or {}
    config.setdefault("media", {})["fps"] = 12
    # A toy clip is one shot: its lamp's flashes (content_val ≤ 24, model.demo.SYNC_LAMP_RADIUS) are no cuts.
    config.setdefault("scenes", {})["threshold"] = 40.0
    config["metrics"] = ["pixel", "amplitude", "psync"]
    config["metric_options"] = {"psync": {"checkpoint": str(checkpoint.resolve())}}
    from curation.config import load_config

    config["filters"] = [rule.model_dump(exclude_none=True) for rule in load_config(base).filters] + [
        {"metric": "psync", "min": PSYNC_MIN, "low_reason": "not_synchronized"}]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("# written by flows/demo.py\n" + yaml.safe_dump(config, sort_keys=False))
    return out


def train_sync_model(out: Path, manifest: Path, settings: dict, with_prefect: bool) -> tuple[Path, dict, int]:
    """The toy sync classifier: (its model folder, held-out accuracy on the manifest's test split, steps)."""
    from model.demo import train_toy_sync_classifier, write_sync_settings

    if with_prefect:
        from flows.train_sync import train_sync_classifier

        result = train_sync_classifier(out=str(out), manifest=str(manifest), preset="tiny",
                                       config=str(write_sync_settings(out, settings)),
                                       train_split="train", eval_split="test")
        return Path(result["model"]), result["accuracy"], result["steps"]
    return train_toy_sync_classifier(out, manifest, settings)


def _run_and_send(send, fn: Callable, args: tuple) -> None:
    os.environ["TQDM_POSITION"] = "1"  # this process's bars draw one line below the main process's
    try:
        send.send((True, fn(*args)))
    except BaseException:
        send.send((False, traceback.format_exc()))
        raise


class SecondProcess:
    """`fn(*args)` in a spawned process. `result()` waits for its return value (its error is raised
    here with the child's traceback); `stop()` ends it early, so that a demo that failed elsewhere
    exits at once instead of waiting minutes for a training nobody will use (a
    ProcessPoolExecutor's worker cannot be stopped, and its exit hook waits for it)."""

    def __init__(self, fn: Callable, *args):
        import multiprocessing

        context = multiprocessing.get_context("spawn")
        self._receive, send = context.Pipe(duplex=False)
        self.process = context.Process(target=_run_and_send, args=(send, fn, args), name=getattr(fn, "__name__", "job"))
        self.process.start()
        send.close()  # only the child writes: its exit without a result shows up as EOFError

    def result(self):
        try:
            ok, value = self._receive.recv()
        except EOFError:
            self.process.join()
            raise RuntimeError(f"the {self.process.name} process ended without a result "
                               f"(exit code {self.process.exitcode})") from None
        self.process.join()
        if not ok:
            raise RuntimeError(f"the {self.process.name} process failed:\n{value}")
        return value

    def stop(self) -> None:
        if self.process.is_alive():
            self.process.terminate()
            self.process.join()


def start_avsyncd_training(out: Path, sizes, seed: int, threads: int) -> SecondProcess:
    """`model.demo.train_toy_avsyncd` in a second process, started before the sync classifier: the two
    trainings do not depend on each other, so on 2 cores they run side by side (the sync classifier's
    thread choice sees the busy core). A process, not a thread: both are Python loops of small torch
    ops that would take turns on one GIL."""
    from model.demo import train_toy_avsyncd

    return SecondProcess(train_toy_avsyncd, out, sizes, seed, threads)


def curate(videos: Path, manifests: Path, config: Path, with_prefect: bool) -> dict:
    if with_prefect:
        from flows.curate import curate_vggsound

        return curate_vggsound(videos=str(videos), out=str(manifests), config=str(config))
    from curation.config import load_config
    from curation.pipeline import run_curation
    from curation.sources.collect import collect_items

    return run_curation(collect_items(videos=videos), manifests, load_config(config))


def loud(message: str) -> None:
    bar = "!" * 100
    print(f"\n{bar}\n{message}\n{bar}\n", flush=True)


def machine_state() -> dict:
    """CPU flags that decide speed and precision, cores, and the load average (1, 5, 15 min)."""
    wanted = ("avx2", "avx512f", "avx512_bf16", "amx_bf16")
    try:
        flags = sorted(set(open("/proc/cpuinfo").read().split()) & set(wanted))
    except OSError:
        flags = []
    return {"cpu_flags": flags, "cores": len(os.sched_getaffinity(0)),
            "load_average": [round(x, 2) for x in os.getloadavg()]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flows.demo", description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("data/demo"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true",
                        help="every step at smoke size (about a minute; accuracies and F1s mean nothing)")
    parser.add_argument("--curation-only", action="store_true",
                        help="only build the demo set and curate it (no training, no PSync, no animation)")
    parser.add_argument("--without-prefect", action="store_true",
                        help="run the same steps as plain library calls (benchmarks/prefect_overhead.py compares the two)")
    parser.add_argument("--authors-model", help="the authors' AVSyncD converted as in README 'Use the authors' models', "
                        "for the lion + roar example (default: $ASVA_AVSYNCD_MODEL, else data/models/avsyncd-avsync15)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads for AVSyncD (default 1: tiny ops gain little from 2, and stall when shared)")
    args = parser.parse_args(argv)
    background: list[SecondProcess] = []
    try:
        return run_demo(args, background)
    finally:
        for job in background:  # a stage failed or the user stopped the demo: end the second process too
            job.stop()


def run_demo(args: argparse.Namespace, background: list[SecondProcess]) -> int:
    started = time.perf_counter()
    seconds: dict[str, float] = {}
    cpu_seconds: dict[str, float] = {}  # this process, all threads: what the stage costs on idle cores
    out = args.out

    @contextmanager
    def stage(name: str) -> Iterator[None]:
        begin, cpu_begin = time.perf_counter(), time.process_time()
        print(f"[{begin - started:.0f} s] {name} ...", flush=True)
        yield
        seconds[name] = round(time.perf_counter() - begin, 1)
        cpu_seconds[name] = round(time.process_time() - cpu_begin, 1)

    with_prefect = not args.without_prefect
    from model.demo import FULL, QUICK, authors_model_folder, sync_settings, write_toy_sync_clips

    sizes = QUICK if args.quick else FULL
    if not args.curation_only:
        authors_model_folder(args.authors_model)  # a named folder that is not there: fail now, not after minutes
    for previous in ("curated", "curated_toy_psync", "toy_curation_input", "sync", "toy_sync", "avsyncd"):
        shutil.rmtree(out / previous, ignore_errors=True)  # the demo always starts over; real runs resume
    summary: dict = {"quick": args.quick, "sizes": asdict(sizes), "machine_at_start": machine_state()}

    with stage("demo data"):
        api_start = start_embedded_api() if with_prefect else None
        videos = build_demo_set(out, args.seed, generated=not args.quick)
        if not args.curation_only:
            sync_manifest = write_toy_sync_clips(out / "toy_sync", sizes, seed=args.seed, progress=True)
            add_toy_test_clips(out / "toy_curation_input", out / "toy_sync")
        print(f"curation input: {sum(1 for p in videos.rglob('*') if p.is_file())} files in {videos}")
        if api_start is not None:
            api_start.join()

    if not args.curation_only:
        avsyncd_job = start_avsyncd_training(out / "avsyncd", sizes, args.seed, args.threads)
        background.append(avsyncd_job)
        with stage("sync classifier"):
            settings = sync_settings(sizes)
            # the cores AVSyncD's process (`--threads`) leaves free
            settings["train"]["num_threads"] = max(1, len(os.sched_getaffinity(0)) - args.threads)
            sync_model, accuracy, steps = train_sync_model(out / "sync", sync_manifest, settings, with_prefect)
        from sync_classifier.train import accuracy_verdict

        target = settings["train"]["target_accuracy"]
        reached, warning = accuracy_verdict(accuracy, target, steps < settings["train"]["max_steps"], steps)
        print(f"sync classifier {sync_model}: held-out accuracy (±5 of 31 offsets, chance 35.5 %) "
              f"A→V {100 * accuracy['a2v']:.0f} %, V→A {100 * accuracy['v2a']:.0f} % on {accuracy['videos']} toy videos "
              f"after {steps} steps")
        if warning:
            loud(warning)
        summary |= {"sync_accuracy_a2v": accuracy["a2v"], "sync_accuracy_v2a": accuracy["v2a"],
                    "sync_held_out_videos": accuracy["videos"], "sync_steps": steps, "sync_target": target,
                    "sync_reached_target": reached, "sync_warning": warning, "sync_model": str(sync_model)}
        psync_config = curation_config_with_psync(DEMO_CONFIG, sync_model, out / "curation_toy_psync.yaml")

    from flows.curate import print_summary

    with stage("curation"):
        manifests = out / "curated"
        curated = curate(videos, manifests, DEMO_CONFIG, with_prefect)
        print_summary(curated, str(manifests))
        if not args.curation_only:
            toy_manifests = out / "curated_toy_psync"
            toy_curated = curate(out / "toy_curation_input", toy_manifests, psync_config, with_prefect)
            print_summary(toy_curated, str(toy_manifests))
    keys = ("videos", "videos_ok", "windows", "windows_passed", "windows_failed_by_reason", "clips")
    summary["curation"] = {key: curated[key] for key in keys}
    if args.curation_only:
        return _finish(summary, seconds, cpu_seconds, started, out)

    per_class = {row["label"]: row for row in toy_curated["per_class"]}
    summary["curation_toy_psync"] = {key: toy_curated[key] for key in keys} | {"psync_min": PSYNC_MIN} | {
        "windows_passed_" + name: [int(per_class[name]["windows_passed"]) if name in per_class else 0,
                                   int(per_class[name]["windows"]) if name in per_class else 0]
        for name in (TOY_IN_SYNC, TOY_OUT_OF_SYNC)}
    toy = summary["curation_toy_psync"]
    print(f"PSync filter (PSync ≥ {PSYNC_MIN:.2f}) on the toy test clips, windows passed: "
          "in sync {}/{}, sound 1 s late {}/{}".format(*toy["windows_passed_" + TOY_IN_SYNC],
                                                       *toy["windows_passed_" + TOY_OUT_OF_SYNC]))
    in_sync, late = toy["windows_passed_" + TOY_IN_SYNC], toy["windows_passed_" + TOY_OUT_OF_SYNC]
    if not in_sync[1] or late[0] / max(late[1], 1) >= in_sync[0] / in_sync[1]:
        loud("PSync did not separate the toy clips in sync from those with the sound 1 s late "
             f"(passed: in sync {in_sync[0]}/{in_sync[1]}, late {late[0]}/{late[1]})")

    from model.demo import animate_held_out, authors_lion_example

    with stage("AVSyncD on the toy base"):  # the wait for the second process
        trained = avsyncd_job.result()
    # The stage's own cost, measured in its process (it ran alongside the sync classifier and curation).
    seconds["AVSyncD on the toy base"], cpu_seconds["AVSyncD on the toy base"] = trained["seconds"], trained["cpu_seconds"]
    summary["avsyncd"] = {key: trained[key] for key in ("final_pipeline", "steps", "base")}
    with stage("animation and event F1"):
        animated = animate_held_out(trained["final_pipeline"], trained["manifest"], out, sizes, seed=args.seed)
    with_audio, without_audio = animated["event_with_audio"], animated["event_without_audio"]
    summary |= {"event_f1_with_audio": with_audio["f1"], "event_f1_without_audio": without_audio["f1"],
                "event_scores": {"with_audio": with_audio, "without_audio": without_audio,
                                 "real_clips": animated["event_real_clips"]},
                "held_out_clips": animated["test_clips"], "guidance": animated["guidance"],
                "side_by_side_mp4": str(Path(animated["side_by_side_mp4"]).resolve())}
    print(f"event F1 (±1 frame) on {len(animated['test_clips'])} held-out toy clips: AVSyncD with the sound "
          f"{with_audio['f1']:.2f}, the same model without it {without_audio['f1']:.2f} "
          f"(real clips {animated['event_real_clips']['f1']:.2f})")
    print(f"side by side (real | AVSyncD + sound | no sound, with the sound): {summary['side_by_side_mp4']}")
    if with_audio["f1"] <= without_audio["f1"]:
        loud(f"AVSyncD did not follow the sound better than without it (event F1 {with_audio['f1']:.2f} vs "
             f"{without_audio['f1']:.2f}): the demo's training budget was too small for this run")

    with stage("authors' lion example"):
        lion = authors_lion_example(out, args.authors_model, steps=2 if args.quick else 50)
    summary |= lion
    print(f"lion + roar (authors' AVSyncD): {lion['lion_mp4']}" if lion["lion_mp4"] else
          f"lion + roar example skipped: {lion['lion_skipped']}")
    return _finish(summary, seconds, cpu_seconds, started, out)


def _finish(summary: dict, seconds: dict, cpu_seconds: dict, started: float, out: Path) -> int:
    summary |= {"seconds": seconds, "cpu_seconds": cpu_seconds, "total_seconds": round(time.perf_counter() - started, 1),
                "machine_at_end": machine_state()}
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(summary, indent=1, default=str) + "\n")
    print(f"demo finished in {summary['total_seconds']:.0f} s; summary: {(out / 'summary.json').resolve()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
