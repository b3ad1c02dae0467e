"""Cost of all CPU curation stages of a video relative to one plain decode of it.

For each video: (probe + decode once with scene detection riding along + windows + pixel and
amplitude metrics) divided by (probe + plain decode at the same analysis fps and size). Runs
alternate between the two so machine noise hits both alike. Target: ≤ 1.3.

    .venv/bin/python -m benchmarks.curation_cpu_stages [--videos data/demo/videos]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from benchmarks.common import machine, write_result
from curation.config import CurationConfig
from curation.media import MediaError, decode, probe
from curation.pipeline import analyze_videos
from curation.sources import SourceItem

VIDEO_SUFFIXES = {".mp4", ".mkv", ".webm", ".mov", ".avi", ".m4v"}


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--videos", type=Path, default=Path("data/demo/videos"))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--scene-frame-width", type=int, help="override scenes.frame_width")
    args = parser.parse_args()
    config = CurationConfig()
    if args.scene_frame_width:
        config.scenes.frame_width = args.scene_frame_width
    paths = sorted(p for p in args.videos.rglob("*") if p.suffix.lower() in VIDEO_SUFFIXES)
    rows = []
    for path in paths:
        try:
            probe(path, config.media)
        except MediaError:
            continue  # bad inputs are not part of the cost comparison
        item = SourceItem(video_id=path.stem, label=path.parent.name, path=str(path))
        plain, full = [], []
        for _ in range(args.repeats):
            plain.append(_timed(lambda: decode(path, config.media)))
            full.append(_timed(lambda: analyze_videos([(item, str(path))], config)))
        rows.append((path.relative_to(args.videos), statistics.median(plain), statistics.median(full)))
    if not rows:
        raise SystemExit(f"no decodable videos under {args.videos}")
    lines = ["| video | plain decode (s) | all CPU stages (s) | ratio |", "|---|---|---|---|"]
    lines += [f"| {name} | {p:.3f} | {f:.3f} | {f / p:.2f} |" for name, p, f in rows]
    total_plain, total_full = sum(r[1] for r in rows), sum(r[2] for r in rows)
    lines.append(f"| **all {len(rows)} videos** | {total_plain:.3f} | {total_full:.3f} | **{total_full / total_plain:.2f}** |")
    write_result(f"curation_cpu_stages_w{config.scenes.frame_width}",
                 f"Machine: {machine()}\n\nScene detector frame width: {config.scenes.frame_width} px\n\n"
                 + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
