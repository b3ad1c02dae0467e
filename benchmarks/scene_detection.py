"""Scene detection on our shared decode vs the `scenedetect` command-line tool, same files.

Ours: the extra time a decode spends feeding PySceneDetect's ContentDetector through the frame
sink (decode with sink minus decode without, both at the analysis fps/size): scene detection
costs only that, because the decode is needed anyway. Theirs: the `scenedetect -i FILE
detect-content` process wall time, and the library's own `scenedetect.detect()` in-process.
Both use ContentDetector defaults with the same minimum scene length. Cuts must agree within one
source frame.

    .venv/bin/python -m benchmarks.scene_detection [FILE ...]
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from scenedetect import ContentDetector, detect

from benchmarks.common import REPO, machine, median_time, write_result
from curation.config import MediaConfig, SceneConfig
from curation.media import decode, probe
from curation.scenes import SceneCutter

DEFAULT_FILES = [REPO / "tests/fixtures/media/goldeneye-vfr-drop3.mp4", REPO / "tests/fixtures/media/issue-134-rotate.mp4",
                 REPO / "tests/fixtures/media/hitting_metal.mp4",
                 *sorted((REPO / "data/demo/videos").glob("*/*_[123].mp4"))]  # demo clips with cuts
SCENEDETECT = str(Path(sys.executable).parent / "scenedetect")


def _timecode_s(text: str) -> float:
    hours, minutes, seconds = text.split(":")
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def cli_cuts(path: Path, min_scene_len_s: float) -> tuple[list[float], float]:
    start = time.perf_counter()
    result = subprocess.run([SCENEDETECT, "-i", str(path), "-m", f"{min_scene_len_s}s", "detect-content", "list-scenes", "-n"],
                            capture_output=True, text=True, check=True, timeout=600)
    elapsed = time.perf_counter() - start
    match = re.search(r"Comma-separated timecode list:\s*\n\s*(\S*)", result.stdout + result.stderr)
    cuts = [_timecode_s(t) for t in match.group(1).split(",")] if match and match.group(1) else []
    return cuts, elapsed


def measure(path: Path, repeats: int, frame_width: int) -> dict:
    media_config = MediaConfig(require_audio=False)
    scenes_config = SceneConfig(frame_width=frame_width)
    info = probe(path, media_config)
    cutter_box: list[SceneCutter] = []

    def shared_decode_with_scenes() -> None:
        cutter = SceneCutter(info.fps, scenes_config)
        decode(path, media_config, info=info, frame_sink=cutter, sink_width=scenes_config.frame_width)
        cutter_box[:] = [cutter]

    with_sink = median_time(shared_decode_with_scenes, repeats)
    without_sink = median_time(lambda: decode(path, media_config, info=info), repeats)
    ours = max(with_sink - without_sink, 1e-3)
    our_cuts = cutter_box[0].cut_times()
    cli_runs = [cli_cuts(path, scenes_config.min_scene_len_s) for _ in range(repeats)]
    cli_time = sorted(t for _, t in cli_runs)[len(cli_runs) // 2]
    their_cuts = cli_runs[0][0]
    library = median_time(lambda: detect(str(path), ContentDetector(min_scene_len=float(scenes_config.min_scene_len_s))), repeats)
    tolerance = 1.0 / info.fps + 1e-3
    same = len(our_cuts) == len(their_cuts) and all(abs(a - b) <= tolerance for a, b in zip(our_cuts, their_cuts))
    return {"file": path.name, "ours_s": ours, "shared_decode_s": without_sink, "cli_s": cli_time, "library_s": library,
            "our_cuts": [round(c, 3) for c in our_cuts], "cli_cuts": [round(c, 3) for c in their_cuts], "same_cuts": same}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--frame-width", type=int, default=SceneConfig().frame_width,
                        help="width of the frames our detector sees (scenes.frame_width)")
    args = parser.parse_args()
    if shutil.which(SCENEDETECT) is None:
        sys.exit(f"scenedetect CLI not found at {SCENEDETECT}")
    files = args.files or DEFAULT_FILES
    rows = [measure(path, args.repeats, args.frame_width) for path in files]
    total_ours = sum(r["ours_s"] for r in rows)
    total_cli = sum(r["cli_s"] for r in rows)
    total_lib = sum(r["library_s"] for r in rows)
    lines = [
        "| file | ours: detection on the shared decode (s) | shared decode itself (s) | `scenedetect` CLI (s) | CLI / ours | scenedetect.detect() in-process (s) | library / ours | cuts (ours) | cuts (CLI) | same cuts |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r['file']} | {r['ours_s']:.3f} | {r['shared_decode_s']:.3f} | {r['cli_s']:.3f} | {r['cli_s'] / r['ours_s']:.1f}× | "
                     f"{r['library_s']:.3f} | {r['library_s'] / r['ours_s']:.1f}× | {r['our_cuts']} | {r['cli_cuts']} | {'yes' if r['same_cuts'] else 'NO'} |")
    lines.append(f"| **all** | {total_ours:.3f} | | {total_cli:.3f} | **{total_cli / total_ours:.1f}×** | {total_lib:.3f} | **{total_lib / total_ours:.1f}×** | | | "
                 f"{'yes' if all(r['same_cuts'] for r in rows) else 'NO'} |")
    write_result(f"scene_detection_w{args.frame_width}", f"Machine: {machine()}\n\nOur detector's frame width: "
                 f"{args.frame_width} px\n\n" + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
