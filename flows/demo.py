"""`make demo`: build a small demo set and run the curation flow on it (embedded Prefect API).

The demo set mixes real clips (tests/fixtures/media), generated clips with known scene cuts,
static, silent and chaotic scenes, and deliberately broken files, so every branch of the
pipeline shows up in the manifests.

    python -m flows.demo --out data/demo
"""

from __future__ import annotations

import argparse
import shutil
import sys
import threading
import time
from pathlib import Path

from curation.sources.synthetic import make_demo_set, write_bad_inputs

REPO = Path(__file__).resolve().parents[1]
REAL_CLIPS = REPO / "tests" / "fixtures" / "media"
DEMO_CONFIG = REPO / "configs" / "demo.yaml"
# (file, label folder): real footage with sound; the rotated one has two hard cuts.
DEMO_REAL = [("hitting_metal.mp4", "hitting"), ("issue-134-rotate.mp4", "movie_scene")]


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flows.demo", description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("data/demo"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--without-prefect", action="store_true",
                        help="run the same steps as plain library calls (benchmarks/prefect_overhead.py compares the two)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    api_start = None if args.without_prefect else start_embedded_api()
    videos = build_demo_set(args.out, args.seed)
    print(f"demo set: {sum(1 for p in videos.rglob('*') if p.is_file())} files in {videos}")

    from flows.curate import curate_vggsound, print_summary

    manifests = args.out / "curated"
    if manifests.exists():
        shutil.rmtree(manifests)  # the demo always starts over; real runs resume instead
    if args.without_prefect:
        from curation.config import load_config
        from curation.pipeline import run_curation
        from curation.sources.collect import collect_items

        summary = run_curation(collect_items(videos=videos), manifests, load_config(DEMO_CONFIG))
    else:
        if api_start is not None:
            api_start.join()
        summary = curate_vggsound(videos=str(videos), out=str(manifests), config=str(DEMO_CONFIG))
    print_summary(summary, str(manifests))
    print(f"demo finished in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
