"""Neural scoring end to end (decode → preprocess → model → manifest) vs the bare model forward.

Runs the curation pipeline with the two neural metrics (clip_semantics, imagebind_alignment) on
real videos, batches of videos handled by two worker threads like the curate-vggsound flow's
task runner (`--workers`). Every model forward made during that run is recorded (its input
shape); the bare figure replays exactly those forwards, same batch sizes, on ready-made tensors.
Ratio = bare time / end-to-end time = end-to-end throughput / bare throughput; target ≥ 0.9.
The same pipeline without metrics (decode, scenes, windows, manifests) is timed too: the floor
that no model speed can go below.

Configs: tiny (ImageBind tiny + open_clip ASVA-tiny) and base (ImageBind base: ViT-B-sized
branches + open_clip ViT-B-16), random weights written as checkpoint files in /tmp first and
loaded through the real loaders (throughput does not depend on the weight values).

    .venv/bin/python -m benchmarks.encoders_throughput [--configs tiny base] [--base-videos 2] [--repeats 3]
"""

from __future__ import annotations

import os

# On a shared machine, OpenMP threads that busy-wait between ops steal the cores other processes
# (and our own prefetch / decode threads) need; passive waiting keeps both sides comparable.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import torch

from benchmarks.common import REPO, machine, write_result
from curation import pipeline
from curation.config import CurationConfig, load_config
from curation.media import MediaError, probe
from curation.metrics.neural_scoring import clear_model_cache
from curation.sources import SourceItem
from model.encoders.clip import ClipImageEncoder, write_random_clip_checkpoint
from model.encoders.imagebind import ImageBind
from model.encoders.imagebind_layout import write_random_checkpoint

CONFIGS = {  # name → (ImageBind preset, open_clip model)
    "tiny": ("tiny", "ASVA-tiny"),
    "base": ("base", "ViT-B-16"),
}


def find_videos(folders: list[Path], config: CurationConfig) -> list[SourceItem]:
    items = []
    for folder in folders:
        for path in sorted(folder.rglob("*.mp4")) if folder.is_dir() else [folder]:
            try:
                probe(path, config.media)
            except MediaError:
                continue  # the demo set's deliberately broken files
            items.append(SourceItem(video_id=f"{path.parent.name}-{path.stem}", label=path.parent.name.replace("_", " "),
                                    path=str(path)))
    return items


def neural_config(ib_path: Path, ib_preset: str, clip_path: Path, clip_model: str) -> CurationConfig:
    """configs/curation_neural.yaml with the benchmark's checkpoints and only the neural metrics."""
    config = load_config(REPO / "configs" / "curation_neural.yaml")
    options = dict(config.metric_options)
    options["imagebind_alignment"] = {**options["imagebind_alignment"], "checkpoint": str(ib_path),
                                      "preset": ib_preset, "device": "cpu"}
    options["clip_semantics"] = {**options["clip_semantics"], "model": clip_model, "pretrained": None,
                                 "checkpoint": str(clip_path), "device": "cpu"}
    filters = [f for f in config.filters if not f.metric.startswith(("pixel", "audio_max"))]
    return config.model_copy(update={"metrics": ["clip_semantics", "imagebind_alignment"], "metric_options": options,
                                     "filters": filters, "batch_size": 4, "min_clips_per_class": 1})


@contextmanager
def recording_forwards(calls: list):
    """Record (kind, input shape) of every ImageBind / CLIP forward made inside the block."""
    ib_forward, clip_embed = ImageBind.forward, ClipImageEncoder.embed_pixels

    def ib(self, inputs):
        calls.extend(("imagebind", self, m, tuple(v.shape), v.dtype) for m, v in inputs.items())
        return ib_forward(self, inputs)

    def clip(self, pixels):
        calls.append(("clip", self, "vision", tuple(pixels.shape), pixels.dtype))
        return clip_embed(self, pixels)

    ImageBind.forward, ClipImageEncoder.embed_pixels = ib, clip
    try:
        yield
    finally:
        ImageBind.forward, ClipImageEncoder.embed_pixels = ib_forward, clip_embed


def end_to_end(items: list[SourceItem], config: CurationConfig, workers: int, out: Path) -> tuple[float, int]:
    """Seconds to curate `items` (batches over `workers` threads, then finalize) and windows scored."""
    batches = pipeline.make_batches(items, config.batch_size)
    start = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        reports = list(pool.map(lambda batch: pipeline.process_batch(batch, out, config), batches))
    pipeline.finalize(out, config)
    return time.perf_counter() - start, sum(r.n_windows for r in reports)


def replay(calls: list) -> float:
    """Seconds for the recorded forwards on pre-made inputs of the same shapes (no preprocessing)."""
    gen = torch.Generator().manual_seed(0)
    inputs = []
    for kind, model, modality, shape, dtype in calls:
        if modality == "text":
            ids = torch.zeros(shape, dtype=torch.long)
            ids[:, :3] = torch.tensor([49406, 320, 49407])
            inputs.append(ids)
        else:
            inputs.append(torch.randn(shape, generator=gen).to(dtype))
    start = time.perf_counter()
    with torch.inference_mode():
        for (kind, model, modality, _, _), x in zip(calls, inputs):
            model.embed(modality, x) if kind == "imagebind" else model.embed_pixels(x)
    return time.perf_counter() - start


def run_config(name: str, items: list[SourceItem], workers: int, repeats: int, scratch: Path) -> dict:
    ib_preset, clip_model = CONFIGS[name]
    ib_path = write_random_checkpoint(scratch / f"imagebind_{name}.pth", ib_preset, other_modalities=False)
    clip_path = write_random_clip_checkpoint(scratch / f"clip_{name}.bin", clip_model)
    config = neural_config(ib_path, ib_preset, clip_path, clip_model)
    clear_model_cache()
    end_to_end(items[:1], config, 1, scratch / f"warmup_{name}")  # loads the models once, as a worker would
    no_metrics = config.model_copy(update={"metrics": [], "filters": []})
    e2e, bare, floor, windows = [], [], [], 0
    for r in range(repeats):  # interleaved, so machine noise hits all alike
        calls: list = []
        with recording_forwards(calls):
            seconds, windows = end_to_end(items, config, workers, scratch / f"run_{name}_{r}")
        e2e.append(seconds)
        bare.append(replay(calls))
        floor.append(end_to_end(items, no_metrics, workers, scratch / f"floor_{name}_{r}")[0])
    images = sum(shape[0] for kind, _, m, shape, _ in calls if m == "vision")
    audio = sum(shape[0] for _, _, m, shape, _ in calls if m == "audio")
    clear_model_cache()
    return {"config": name, "videos": len(items), "windows": windows, "images": images, "audio_windows": audio,
            "forwards": len(calls), "e2e_s": statistics.median(e2e), "bare_s": statistics.median(bare),
            "floor_s": statistics.median(floor), "e2e_runs": e2e, "bare_runs": bare, "floor_runs": floor}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--videos", type=Path, nargs="+",
                        default=[REPO / "data/demo/videos", REPO / "tests/fixtures/media/hitting_metal.mp4"])
    parser.add_argument("--configs", nargs="+", default=["tiny", "base"], choices=sorted(CONFIGS))
    parser.add_argument("--base-videos", type=int, default=2, help="videos for the base config (CPU is slow)")
    parser.add_argument("--workers", type=int, default=2, help="batch threads (the flow's task runner has 2)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--save", action="store_true", help="also write benchmarks/results/encoders_throughput.md")
    args = parser.parse_args()
    items = find_videos(args.videos, CurationConfig())
    if not items:
        raise SystemExit(f"no decodable videos in {args.videos} (run `make demo` first)")
    rows = []
    with tempfile.TemporaryDirectory(prefix="asva-bench-") as scratch:
        for name in args.configs:
            chosen = items if name == "tiny" else items[: args.base_videos]
            rows.append(run_config(name, chosen, args.workers, args.repeats, Path(scratch)))
            print(rows[-1], flush=True)
    lines = [f"Machine: {machine()}; torch threads {torch.get_num_threads()}, {args.workers} batch threads.", "",
             "| config | videos | windows | images / audio windows embedded | forwards | end to end (s) "
             "| bare forwards (s) | same pipeline without metrics (s) | windows/s end to end | windows/s bare "
             "| ratio (per repeat) |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['config']} | {r['videos']} | {r['windows']} | {r['images']} / {r['audio_windows']} | "
                     f"{r['forwards']} | {r['e2e_s']:.2f} | {r['bare_s']:.2f} | {r['floor_s']:.2f} | {r['windows'] / r['e2e_s']:.3g} | "
                     f"{r['windows'] / r['bare_s']:.3g} | **{r['bare_s'] / r['e2e_s']:.2f}** "
                     f"({', '.join(f'{b / e:.2f}' for b, e in zip(r['bare_runs'], r['e2e_runs']))}) |")
    markdown = "\n".join(lines) + "\n"
    if args.save:
        write_result("encoders_throughput", markdown)
    else:
        print(markdown)


if __name__ == "__main__":
    main()
