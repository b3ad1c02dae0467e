"""`make demo`: the whole chain on a small demo set, with the embedded Prefect API.

1. the demo set: real clips (data/examples), generated clips with known scene cuts,
   static, silent and chaotic scenes, and deliberately broken files;
2. `train-sync-classifier`: a tiny sync classifier trained briefly on generated sync clips;
3. `curate-vggsound` on the demo set, scoring every window with PSync from that classifier
   (so every branch of the pipeline shows up in the manifests, filters included);
4. AVSyncD: a tiny model trained briefly on generated sync clips animates the authors' lion
   picture with a lion's roar (model/demo.py); the mp4's path is printed.

    python -m flows.demo --out data/demo                     # ~8 min on 2 CPU cores
    python -m flows.demo --out data/demo --curation-only     # step 1 and 3 without PSync, ~25 s
"""

from __future__ import annotations

import argparse
import shutil
import sys
import threading
import time
from pathlib import Path

import yaml

from curation.sources.demo_set import make_demo_set, write_bad_inputs

REPO = Path(__file__).resolve().parents[1]
REAL_CLIPS = REPO / "data" / "examples"  # with their origins in its README.md
DEMO_CONFIG = REPO / "configs" / "demo.yaml"
# (file, label folder): real footage with sound; the rotated one has two hard cuts.
DEMO_REAL = [("hitting_metal.mp4", "hitting"), ("issue-134-rotate.mp4", "movie_scene")]
# The demo's sync classifier: long enough to learn (held-out accuracy ≈ 45 % at 500 steps, ≈ 85 % at 750,
# > 90 % after ≈ 1000; chance 35.5 %; BENCHMARKS.md), short enough for a demo under ~10 min (≈ 6 min on 2
# idle cores). Capped in wall time on a busy machine.
SYNC_STEPS = 750
SYNC_MAX_MINUTES = 6.5
SYNC_EVAL_VIDEOS = 16
SYNC_DEMO_SETTINGS = {"train": {"eval_every": 0, "eval_videos": 8, "checkpoint_every": 200, "log_every": 50}}


def build_demo_set(root: Path, seed: int = 0) -> Path:
    """Write the demo videos under root/videos/<label>/ and return that folder."""
    videos = root / "videos"
    if videos.exists():
        shutil.rmtree(videos)
    make_demo_set(videos, seed=seed)
    for name, label in DEMO_REAL:
        (videos / label).mkdir(parents=True, exist_ok=True)
        shutil.copy(REAL_CLIPS / name, videos / label / name)
    write_bad_inputs(videos / "broken")
    return videos


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
    a run-quantile PSync filter, written next to the run so it is on record."""
    config = yaml.safe_load(base.read_text()) or {}
    config.setdefault("media", {})["fps"] = 12
    config["metrics"] = ["pixel", "amplitude", "psync"]
    config["metric_options"] = {"psync": {"checkpoint": str(checkpoint.resolve())}}
    from curation.config import load_config

    config["filters"] = [rule.model_dump(exclude_none=True) for rule in load_config(base).filters] + [
        {"metric": "psync", "min_quantile": 0.1, "low_reason": "not_synchronized"}]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("# written by flows/demo.py\n" + yaml.safe_dump(config, sort_keys=False))
    return out


def train_sync_model(out: Path, with_prefect: bool) -> tuple[Path, dict]:
    """A tiny sync classifier on generated clips: (its model folder, its held-out accuracy)."""
    settings = out.parent / "sync_demo.yaml"
    settings.write_text(yaml.safe_dump(SYNC_DEMO_SETTINGS))
    if with_prefect:
        from flows.train_sync import train_sync_classifier

        result = train_sync_classifier(out=str(out), synthetic=True, preset="tiny", config=str(settings),
                                       max_steps=SYNC_STEPS, max_minutes=SYNC_MAX_MINUTES,
                                       eval_synthetic_videos=SYNC_EVAL_VIDEOS)
        return Path(result["model"]), result["accuracy"]
    from sync_classifier.config import load_config
    from sync_classifier.evaluate import evaluate_checkpoint
    from sync_classifier.train import train

    config = load_config("tiny", settings, ["data.synthetic=true", f"train.max_steps={SYNC_STEPS}",
                                            f"train.max_minutes={SYNC_MAX_MINUTES}"])
    model = train(config, out).final_model
    return model, evaluate_checkpoint(str(model), synthetic=SYNC_EVAL_VIDEOS).as_dict()


def curate(videos: Path, manifests: Path, config: Path, with_prefect: bool) -> dict:
    if with_prefect:
        from flows.curate import curate_vggsound

        return curate_vggsound(videos=str(videos), out=str(manifests), config=str(config))
    from curation.config import load_config
    from curation.pipeline import run_curation
    from curation.sources.collect import collect_items

    return run_curation(collect_items(videos=videos), manifests, load_config(config))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flows.demo", description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("data/demo"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--curation-only", action="store_true",
                        help="only build the demo set and curate it (no training, no PSync, no animation)")
    parser.add_argument("--without-prefect", action="store_true",
                        help="run the same steps as plain library calls (benchmarks/prefect_overhead.py compares the two)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    with_prefect = not args.without_prefect
    api_start = start_embedded_api() if with_prefect else None
    videos = build_demo_set(args.out, args.seed)
    print(f"demo set: {sum(1 for p in videos.rglob('*') if p.is_file())} files in {videos}")
    for previous in ("curated", "sync", "avsyncd/run"):
        shutil.rmtree(args.out / previous, ignore_errors=True)  # the demo always starts over; real runs resume
    if api_start is not None:
        api_start.join()

    config = DEMO_CONFIG
    if not args.curation_only:
        print(f"[{time.perf_counter() - started:.0f} s] training a tiny sync classifier on generated clips ...")
        sync_model, accuracy = train_sync_model(args.out / "sync", with_prefect)
        print(f"sync classifier {sync_model}: held-out accuracy (±5 of 31 offsets) "
              f"A→V {100 * accuracy['a2v']:.0f} %, V→A {100 * accuracy['v2a']:.0f} % on {accuracy['videos']} videos")
        config = curation_config_with_psync(DEMO_CONFIG, sync_model, args.out / "curation.yaml")

    print(f"[{time.perf_counter() - started:.0f} s] curating the demo set ...")
    from flows.curate import print_summary

    manifests = args.out / "curated"
    summary = curate(videos, manifests, config, with_prefect)
    print_summary(summary, str(manifests))

    if not args.curation_only:
        from model.demo import run_demo

        print(f"[{time.perf_counter() - started:.0f} s] AVSyncD: tiny model, short training, animation ...")
        mp4 = run_demo(args.out / "avsyncd", threads=1)
        print(f"AVSyncD demo video (lion picture animated with a lion's roar, sound muxed in): {mp4.resolve()}")
    print(f"demo finished in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
