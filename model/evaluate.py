"""Evaluation of animation models on a clip manifest's test split: the paper's Table 1 (§5).

    python -m model.evaluate --manifest data/avsync15.parquet --split test --model runs/avsyncd/final \
        --guidance 1 4 8 --static --inception pretrained/pt_inception-2015-12-05-6726825d.pth \
        --i3d pretrained/i3d_torchscript.pt --imagebind pretrained/imagebind_huge.pth \
        --sync-classifier runs/sync/final --out data/runs/eval

The protocol is the authors' (`scripts/animation_gen.py`, `avgen/evaluations/eval.py`):
- per test video, `clips_per_video` (3) clips of `num_frames` / `fps` (12 frames at 6 fps = 2 s),
  their starts spaced uniformly from the video's start to its end minus 2 s (`linspace`, as their
  `load_av_clips_uniformly`); frames centre-cropped to the model's height × width (256²), audio
  mono 16 kHz. Clip id `<video_id>__clip<k>`.
- every model animates each clip's first frame with its audio and class prompt (the label with
  spaces) and seed 0; generations live at `OUT/generations/<model-tag>/<clip_id>.mp4` and only
  missing ones are generated. Scoring refuses to run when any generation is missing.
- FID over frames 2..F of every clip, FVD on 12-frame clips (model.metrics); IA / IT = ImageBind raw
  cosine × 100 of frames 2..F with the clip's audio / the label as the authors write it (their class
  folder name); RelSync = softmax([φ(a, v), φ(a, v̂)])[1] × 100, AlignSync = P_Align · RelSync × 100
  (Eqs. 2–4). Rows: ground truth, Static, each model (AVSyncD at each η, I2VD).
- Bootstrap 95 % CIs over test clips for every metric; the decoder (PyAV / FFmpeg versions) and
  every weight file's SHA-256 are recorded with the result; features are cached per (file, network)
  in `cache_dir`, so a second evaluation does not recompute the ground truth.

Writes `OUT/scores.parquet` (one row per model and clip), `OUT/summary.json`, `OUT/report.html`.
A metric whose weights are not given is skipped and the summary says so; a given weight file that
does not exist stops the run at once.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from curation.config import MediaConfig
from curation.manifest import read_clips, write_json_atomic, write_parquet_atomic

log = logging.getLogger(__name__)

GROUND_TRUTH, STATIC = "ground_truth", "static"
# Where each network is published (named by the error when a file is missing).
PUBLISHED = {
    "inception": "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth",
    "i3d": "https://www.dropbox.com/s/ge9e5ujwgetktms/i3d_torchscript.pt (StyleGAN-V's FVD detector)",
    "imagebind": "https://dl.fbaipublicfiles.com/imagebind/imagebind_huge.pth",
    "sync_classifier": "a folder written by `python -m sync_classifier.train` (config.json + model.safetensors)",
}


class EvalConfig(BaseModel):
    """Everything an evaluation needs; loadable from YAML through curation.layered_config."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    manifest: Path | None = None
    out: Path | None = None
    split: str = "test"
    models: list[Path] = Field(default_factory=list, description="AVSyncD / I2VD pipeline folders")
    guidance: list[float] = Field(default_factory=lambda: [4.0], description="η values for models with audio")
    static: bool = False
    inception: Path | None = None
    fid_bn_mode: Literal["eval", "authors-train"] = "eval"
    standard_fid: bool = True
    i3d: Path | None = None
    imagebind: Path | None = None
    imagebind_preset: str = "huge"
    ia_audio: Literal["single", "imagebind"] = Field(
        "single", description="IA's audio embedding: 'single' = one 2 s window, the clip's log-mel (the authors' "
        "evaluation); 'imagebind' = ImageBind's own 3 windows of 2 s, averaged (identical on 2 s clips: the windows coincide)")
    frame_pick: Literal["at_or_after", "nearest"] = Field(
        "at_or_after", description="test-clip frame for each 6 fps time T: the first source frame at or after T (the "
        "authors' loader) or the nearest one (what curation and training see)")
    sync_classifier: Path | None = None
    clips_per_video: int = Field(3, ge=1)
    num_frames: int = Field(12, ge=2)
    fps: float = Field(6.0, gt=0)
    sample_rate: int = 16000
    resolution: tuple[int, int] | None = Field(None, description="(height, width); default: the first model's")
    steps: int = Field(50, ge=1, description="denoising steps per generation")
    generate: bool = Field(True, description="generate missing videos; False: score existing generations only "
                           "(e.g. made on another machine) and refuse if any is missing")
    seed: int = 0
    bootstrap: int = Field(1000, ge=0, description="resamples for the CIs of clip-mean metrics")
    bootstrap_frechet: int = Field(100, ge=0, description="resamples for the CIs of FID / FVD (a Fréchet distance each)")
    cache_dir: Path | None = Field(None, description="feature cache; default OUT/cache")
    report_samples: int = Field(6, ge=0, description="test clips shown side by side in the report")
    device: str = "cpu"
    batch_size: int = Field(32, ge=1)


# ---- clips ------------------------------------------------------------------------------------

def uniform_clip_starts(start_s: float, end_s: float, clips: int, clip_s: float) -> np.ndarray:
    """Clip starts (s) spaced uniformly over [start_s, end_s - clip_s]; one clip → the centre one."""
    span = end_s - start_s
    if span + 1e-6 < clip_s:
        raise ValueError(f"a {span:.2f} s video is shorter than one {clip_s:.2f} s clip")
    if clips == 1:
        return np.array([start_s + (span - clip_s) / 2])
    return start_s + np.linspace(0.0, max(span - clip_s, 0.0), clips)


def evaluation_clips(manifest: str | Path, split: str, clips_per_video: int, clip_s: float) -> pd.DataFrame:
    """The evaluation clips of a manifest's `split`: columns clip_id, video_id, clip_index, label,
    prompt, path, start_s (seconds in the file), sorted by clip id."""
    from model.data import prompt_for

    table = read_clips(manifest, ("video_id", "label", "path", "start_s", "end_s"), split)
    if table.empty:
        raise ValueError(f"{manifest}: no rows in split {split!r}: nothing to evaluate")
    if table["video_id"].duplicated().any():
        dup = table["video_id"][table["video_id"].duplicated()].iloc[0]
        raise ValueError(f"{manifest}: video_id {dup!r} appears twice in split {split!r}; clip ids must be unique")
    rows = []
    for r in table.sort_values("video_id").itertuples(index=False):
        for k, start in enumerate(uniform_clip_starts(float(r.start_s), float(r.end_s), clips_per_video, clip_s)):
            prompt = getattr(r, "prompt", None) or prompt_for(str(r.label))
            rows.append({"clip_id": f"{r.video_id}__clip{k}", "video_id": str(r.video_id), "clip_index": k,
                         "label": str(r.label), "prompt": str(prompt), "path": str(r.path), "start_s": float(start)})
    return pd.DataFrame(rows)


def read_clip(path: str | Path, start_s: float, num_frames: int, fps: float, size: tuple[int, int],
              sample_rate: int = 16000, frame_pick: str = "at_or_after") -> tuple[np.ndarray, np.ndarray]:
    """One clip through the project's decoder: (num_frames, H, W, 3) uint8 frames (resized to
    cover `size` = (H, W), centre-cropped; a short clip repeats its last frame, as the authors)
    and (num_frames / fps · sample_rate,) float32 mono audio — the training windows' reader
    (`model.data.read_window`), with audio optional, no length limit and `frame_pick` (curation.config.MediaConfig)."""
    from model.data import read_window

    return read_window(path, start_s, num_frames, fps, size, sample_rate,
                       MediaConfig(require_audio=False, max_duration_s=1e6, frame_pick=frame_pick))


# ---- models -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class ModelSpec:
    """One evaluated row: tag (folder name under generations/), kind and how to generate."""

    tag: str
    kind: Literal["ground_truth", "static", "avsyncd", "i2vd"]
    path: Path | None = None
    guidance: float | None = None


def _model_name(path: Path) -> str:
    path = path.resolve()
    if path.name == "final" or path.name.startswith("checkpoint"):
        return f"{path.parent.name}-{path.name}"
    return path.name


def model_specs(config: EvalConfig) -> list[ModelSpec]:
    """Rows in table order: ground truth, Static, then each model (AVSyncD once per η)."""
    specs = [ModelSpec(GROUND_TRUTH, "ground_truth")] + ([ModelSpec(STATIC, "static")] if config.static else [])
    for path in config.models:
        index = path / "model_index.json"
        if not index.is_file():
            raise FileNotFoundError(f"--model {path}: no AVSyncD pipeline there (model_index.json missing)")
        audio = json.loads((path / "unet" / "config.json").read_text()).get("audio_attention", True)
        name = _model_name(path)
        if audio:
            specs += [ModelSpec(f"{name}_eta{g:g}", "avsyncd", path, float(g)) for g in config.guidance]
        else:
            specs.append(ModelSpec(f"{name}_i2vd", "i2vd", path))
    tags = [s.tag for s in specs]
    if len(set(tags)) != len(tags):
        raise ValueError(f"two models share a tag: {tags}")
    return specs


def eval_resolution(config: EvalConfig) -> tuple[int, int]:
    """(H, W) from the config, else from the first model's pipeline; all models must agree."""
    sizes = {tuple(json.loads((p / "model_index.json").read_text()).get("resolution", (256, 256))) for p in config.models}
    if config.resolution is not None:
        wanted = tuple(config.resolution)
    elif sizes:
        wanted = sorted(sizes)[0]
    else:
        wanted = (256, 256)
    if sizes - {wanted}:
        raise ValueError(f"models generate at {sorted(sizes)}, evaluation is at {wanted}: evaluate them separately")
    return int(wanted[0]), int(wanted[1])


def generation_path(out: Path, tag: str, clip_id: str) -> Path:
    return out / "generations" / tag / f"{clip_id}.mp4"


def missing_generations(out: Path, specs: Sequence[ModelSpec], clip_ids: Sequence[str]) -> dict[str, list[str]]:
    """tag → clip ids whose generation file does not exist (ground truth has none)."""
    missing = {}
    for spec in specs:
        if spec.kind != "ground_truth":
            lost = [c for c in clip_ids if not generation_path(out, spec.tag, c).is_file()]
            if lost:
                missing[spec.tag] = lost
    return missing


def _write_atomic_mp4(animation, path: Path) -> None:
    tmp = path.with_name(f".{path.stem}.tmp.mp4")
    path.parent.mkdir(parents=True, exist_ok=True)
    animation.write_mp4(tmp)
    os.replace(tmp, path)


def generate_missing(config: EvalConfig, specs: Sequence[ModelSpec], clips: pd.DataFrame, clip_loader: Callable,
                     on_progress: Callable[[str, int, int], None] | None = None) -> dict[str, float]:
    """Write every missing `generations/<tag>/<clip_id>.mp4`; returns seconds spent per tag."""
    from model.pipeline import AVSyncDPipeline, StaticAnimator

    out = Path(config.out)
    seconds: dict[str, float] = {}
    loaded: dict[Path, AVSyncDPipeline] = {}
    for spec in specs:
        if spec.kind == "ground_truth":
            continue
        todo = [r for r in clips.itertuples(index=False) if not generation_path(out, spec.tag, r.clip_id).is_file()]
        if not todo:
            continue
        start = time.perf_counter()
        if spec.kind == "static":
            animator = StaticAnimator(config.num_frames, config.fps, eval_resolution(config), config.sample_rate)
        else:
            if spec.path not in loaded:
                loaded[spec.path] = AVSyncDPipeline.from_pretrained(spec.path, device=config.device)
            animator = loaded[spec.path]
        from tqdm import tqdm

        for i, row in enumerate(tqdm(todo, desc=f"generating {spec.tag}", disable=None)):
            frames, audio = clip_loader(row)
            animation = animator(frames[0], audio if spec.kind != "i2vd" else None, row.prompt,
                                 guidance_scale=spec.guidance if spec.guidance is not None else 1.0,
                                 num_inference_steps=config.steps, seed=config.seed)
            animation.audio = audio  # the clip's own sound goes with the video (I2VD too)
            _write_atomic_mp4(animation, generation_path(out, spec.tag, row.clip_id))
            if on_progress:
                on_progress(f"generate {spec.tag}", i + 1, len(todo))
        seconds[spec.tag] = time.perf_counter() - start
    return seconds


# ---- provenance and feature cache -------------------------------------------------------------

def decoder_versions() -> dict:
    import av

    libs = {name: ".".join(map(str, v)) for name, v in getattr(av, "library_versions", {}).items()}
    return {"pyav": av.__version__, "ffmpeg": getattr(av, "ffmpeg_version_info", None), "libraries": libs}


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def weights_hash(path: Path) -> str:
    """SHA-256 of a weight file, or of a folder's files (name + content) in sorted order."""
    if path.is_file():
        return file_sha256(path)
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(file.relative_to(path).as_posix().encode())
        digest.update(file_sha256(file).encode())
    return digest.hexdigest()


def _file_identity(path: str | Path) -> str:
    stat = Path(path).stat()
    return f"{Path(path).resolve()}|{stat.st_size}|{stat.st_mtime_ns}"


@dataclass
class FeatureCache:
    """Arrays cached per (input, network): `root/<namespace>/<sha1(key)>.npy`. The namespace names
    the network by its weights' hash and the preprocessing; the key names the input file by path,
    size and mtime (a rewritten file is recomputed) plus the clip's start."""

    root: Path
    hits: int = 0
    misses: int = 0
    _memo: dict = field(default_factory=dict)

    def many(self, namespace: str, keys: Sequence[str], compute: Callable[[list[int]], Sequence[np.ndarray]]
             ) -> list[np.ndarray]:
        folder = self.root / namespace
        paths = [folder / f"{hashlib.sha1(k.encode()).hexdigest()}.npy" for k in keys]
        out: list[np.ndarray | None] = [np.load(p) if p.is_file() else None for p in paths]
        todo = [i for i, x in enumerate(out) if x is None]
        self.hits += len(keys) - len(todo)
        self.misses += len(todo)
        if todo:
            folder.mkdir(parents=True, exist_ok=True)
            for i, value in zip(todo, compute(todo)):
                value = np.asarray(value)
                tmp = paths[i].with_name(f".{paths[i].stem}.{os.getpid()}.tmp.npy")
                np.save(tmp, value)
                os.replace(tmp, paths[i])
                out[i] = value
        return out  # type: ignore[return-value]

    def weight_hash(self, path: Path) -> str:
        """Hashes memoised on disk by file identity (hashing ImageBind-huge takes seconds)."""
        index_file = self.root / "weight_hashes.json"
        index = json.loads(index_file.read_text()) if index_file.is_file() else {}
        ident = _file_identity(path) if path.is_file() else f"{path.resolve()}|dir|" + "|".join(
            _file_identity(p) for p in sorted(path.rglob("*")) if p.is_file())
        if ident not in index:
            index[ident] = weights_hash(path)
            self.root.mkdir(parents=True, exist_ok=True)
            write_json_atomic(index, index_file)
        return index[ident]


def check_weights(config: EvalConfig) -> dict[str, Path]:
    """The weight files to use; a given path that does not exist stops the run at once."""
    given = {"inception": config.inception, "i3d": config.i3d, "imagebind": config.imagebind,
             "sync_classifier": config.sync_classifier}
    if config.inception is not None or config.i3d is not None:
        from model.metrics.weight_files import FID_INCEPTION, I3D, require_weight_file

        for path, published in ((config.inception, FID_INCEPTION), (config.i3d, I3D)):
            if path is not None:
                require_weight_file(path, published)
    for name, path in given.items():
        if path is not None and not Path(path).exists():
            raise FileNotFoundError(f"--{name.replace('_', '-')} {path}: file not found (published at {PUBLISHED[name]})")
    if config.sync_classifier is not None and not (Path(config.sync_classifier) / "config.json").is_file():
        raise FileNotFoundError(f"--sync-classifier {config.sync_classifier}: no config.json there "
                                f"({PUBLISHED['sync_classifier']})")
    return {k: Path(v) for k, v in given.items() if v is not None}


# ---- statistics -------------------------------------------------------------------------------

def bootstrap_mean_ci(values: np.ndarray, resamples: int, seed: int = 0) -> list[float] | None:
    """95 % percentile interval of the mean over clips (None without resamples)."""
    values = np.asarray(values, dtype=np.float64)
    if resamples <= 0 or len(values) < 2:
        return None
    index = np.random.default_rng(seed).integers(0, len(values), (resamples, len(values)))
    means = values[index].mean(axis=1)
    return [float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))]


def bootstrap_frechet_ci(real: np.ndarray, generated: np.ndarray, resamples: int, seed: int = 0) -> list[float] | None:
    """95 % interval of a Fréchet distance when the test clips are resampled (paired: the same clips
    for both sides). real / generated: (N, D) or (N, R, D) per-clip features (model.metrics.frechet)."""
    if resamples <= 0 or len(real) < 2:
        return None
    from model.metrics.frechet import bootstrap_frechet_distances

    draws = bootstrap_frechet_distances(real, generated, resamples, seed)
    return [float(np.percentile(draws, 2.5)), float(np.percentile(draws, 97.5))]


IA_AUDIO = {"single": "one 2 s window, the clip's log-mel (as the authors)",
            "imagebind": "ImageBind's 3 windows of 2 s, averaged (not the authors'; identical on 2 s clips)"}


def authors_differences(config: EvalConfig) -> list[str]:
    """The known ways this run's protocol differs from the authors' scripts (docs/evaluation.md)."""
    out = []
    if config.frame_pick != "at_or_after":
        out.append(f"decoder frame pick: the source frame nearest to each {config.fps:g} fps timestamp; the authors' "
                   "loader takes the first frame at or after it, so a frame may be one source frame earlier here "
                   "(≤ 1/source-fps, e.g. 33 ms at 30 fps)")
    if config.ia_audio != "single":
        out.append(f"IA audio: {IA_AUDIO[config.ia_audio]}")
    if config.fid_bn_mode != "authors-train":
        out.append("FID Inception BatchNorm in eval mode (pytorch-fid); the authors' eval.py left it in training mode "
                   "(fid_bn_mode=authors-train reproduces them)")
    return out


def frechet_protocol(metric: str, config: EvalConfig) -> str:
    """The label that goes with every FID / FVD number, so no table mixes protocols."""
    if metric == "FID":
        return f"asva (229² bicubic, [-1, 1], frames 2..{config.num_frames}, Inception BatchNorm {config.fid_bn_mode})"
    if metric == "FID (standard)":
        return f"standard (torchmetrics / torch-fidelity: 299² bilinear, frames 2..{config.num_frames}, BatchNorm eval)"
    if metric == "FVD (standard)":
        return "standard (StyleGAN-V fvd2048_16f-style: I3D on the first 16 frames, rescale=True, resize=True)"
    return f"asva (StyleGAN-V I3D, {config.num_frames} frames at 224² bicubic, [-1, 1], rescale=False, resize=False)"


# ---- scoring ----------------------------------------------------------------------------------

@dataclass
class ClipFeatures:
    """Per-clip features of one row (model) in clip order."""

    fid: np.ndarray | None = None  # (N, F, 2048) pool3 features
    fid_standard: np.ndarray | None = None  # (N, F, 2048), 299² protocol
    fvd: np.ndarray | None = None  # (N, 400)
    fvd_standard: np.ndarray | None = None  # (N, 400), StyleGAN-V's 16-frame protocol (clips of ≥ 16 frames)
    image_embeddings: np.ndarray | None = None  # (N, F, E) ImageBind unit vectors
    sync: np.ndarray | None = None  # (N,) φ(a, v)


class Scorers:
    """The networks of one evaluation, loaded once, with their cache namespaces."""

    def __init__(self, config: EvalConfig, weights: dict[str, Path], cache: FeatureCache):
        self.config, self.cache, self.weights = config, cache, weights
        self.hashes = {name: cache.weight_hash(path) for name, path in weights.items()}
        self.inception = self.i3d = self.imagebind = self.sync = None
        if "inception" in weights:
            from model.metrics.fid import load_fid_inception

            self.inception = load_fid_inception(weights["inception"]).to(config.device)
        if "i3d" in weights:
            from model.metrics.fvd import load_i3d

            self.i3d = load_i3d(weights["i3d"]).to(config.device)
        if "imagebind" in weights:
            from model.encoders.image_audio import ImageBindIAScorer

            self.imagebind = ImageBindIAScorer(weights["imagebind"], config.imagebind_preset, config.device,
                                               modalities=("vision", "text", "audio"))
        if "sync_classifier" in weights:
            from sync_classifier.model import SyncClassifier

            self.sync = SyncClassifier.from_pretrained(weights["sync_classifier"], device=config.device)

    def namespace(self, name: str, extra: str = "") -> str:
        c = self.config
        return f"{name}-{self.hashes[name][:16]}-{c.num_frames}f{c.fps:g}fps{extra}"

    def features(self, keys: Sequence[str], group: Sequence[str], load: Callable[[int], tuple[np.ndarray, np.ndarray]],
                 audio_of: Callable[[int], np.ndarray], timings: dict[str, float]) -> ClipFeatures:
        """Features of N clips. keys[i] identifies clip i's frames; group[i] batches FID frames the
        way the authors did (all clips of one ground-truth video, one generated file) so the
        `authors-train` BatchNorm mode reproduces them; audio_of(i) is the conditioning audio."""
        c, out = self.config, ClipFeatures()
        decoded: dict[int, tuple[np.ndarray, np.ndarray]] = {}

        def frames(i: int) -> np.ndarray:
            if i not in decoded:
                decoded[i] = load(i)
            return decoded[i][0]

        def timed(metric: str, fn: Callable[[], np.ndarray]) -> np.ndarray:
            start = time.perf_counter()
            value = fn()
            timings[metric] = timings.get(metric, 0.0) + time.perf_counter() - start
            return value

        if self.inception is not None:
            from model.metrics.fid import fid_features

            def fid_of(protocol: str):
                bn_mode = c.fid_bn_mode if protocol == "asva" else "eval"  # the standard protocol has no authors' mode

                def compute(todo: list[int]) -> list[np.ndarray]:
                    result: dict[int, np.ndarray] = {}
                    for g in dict.fromkeys(group[i] for i in todo):  # one network call per batch group
                        members = [i for i in todo if group[i] == g]
                        feats = fid_features(np.concatenate([frames(i) for i in members]), self.inception,
                                             protocol=protocol, bn_mode=bn_mode, batch_size=len(members) * c.num_frames)
                        for j, i in enumerate(members):
                            result[i] = feats[j * c.num_frames : (j + 1) * c.num_frames]
                    return [result[i] for i in todo]

                ns = self.namespace("inception", f"-{protocol}-{bn_mode}")
                return np.stack(self.cache.many(ns, [f"{k}|{group[i]}" for i, k in enumerate(keys)], compute))

            out.fid = timed("FID", lambda: fid_of("asva"))
            if c.standard_fid:
                out.fid_standard = timed("FID (standard)", lambda: fid_of("standard"))
        if self.i3d is not None:
            from model.metrics.fvd import NUM_FRAMES, fvd_features

            def fvd_of(protocol: str) -> np.ndarray:
                def compute(todo: list[int]) -> list[np.ndarray]:
                    feats = [fvd_features(np.stack([frames(i) for i in todo[b : b + c.batch_size]]), self.i3d, protocol)
                             for b in range(0, len(todo), c.batch_size)]
                    return list(np.concatenate(feats))

                ns = self.namespace("i3d", "" if protocol == "asva" else f"-{protocol}")
                return np.stack(self.cache.many(ns, list(keys), compute))

            out.fvd = timed("FVD", lambda: fvd_of("asva"))
            if c.num_frames >= NUM_FRAMES["standard"]:  # StyleGAN-V's 16-frame FVD when the clips allow it
                out.fvd_standard = timed("FVD (standard)", lambda: fvd_of("standard"))
        if self.imagebind is not None:
            ib = self.imagebind
            ns = self.namespace("imagebind", f"-{c.imagebind_preset}")
            out.image_embeddings = timed("IA/IT", lambda: np.stack(self.cache.many(
                ns, list(keys), lambda todo: [ib.image_embeddings(frames(i)) for i in todo])))
        if self.sync is not None:
            from sync_classifier.sync_metrics import sync_scores

            def sync_compute(todo: list[int]) -> list[np.ndarray]:
                scores = sync_scores(self.sync, [audio_of(i) for i in todo], [frames(i) for i in todo], c.batch_size)
                return [np.asarray(s) for s in scores]

            out.sync = timed("RelSync/AlignSync", lambda: np.stack(self.cache.many(
                self.namespace("sync_classifier"), list(keys), sync_compute)))
        return out

    def ia_references(self, keys: Sequence[str], labels: Sequence[str], audio_of: Callable[[int], np.ndarray]
                      ) -> tuple[np.ndarray | None, np.ndarray | None]:
        """(N, E) ImageBind embeddings of each clip's audio (IA) and label as written (IT, the
        authors' text), or (None, None) without ImageBind; audio embeddings cached under `keys`."""
        if self.imagebind is None:
            return None, None
        c, ib = self.config, self.imagebind
        text = dict(zip(sorted(set(labels)), ib.text_embeddings(sorted(set(labels)))))
        audio = np.stack(self.cache.many(self.namespace("imagebind", f"-{c.imagebind_preset}-audio-{c.ia_audio}"),
                                         list(keys), lambda todo: [ib.audio_embedding(audio_of(i), c.sample_rate,
                                                                                       c.ia_audio) for i in todo]))
        return audio, np.stack([text[label] for label in labels])


def row_scores(config: EvalConfig, reference: ClipFeatures, generated: Sequence[ClipFeatures],
               audio_emb: np.ndarray | None, text_emb: np.ndarray | None, timings: dict[str, float] | None = None
               ) -> tuple[dict[str, np.ndarray], dict[str, dict]]:
    """One row's scores against the ground truth: per-clip columns (IA, IT, sync_score, RelSync,
    AlignSync) and the row's metrics with 95 % CIs (those and FID / FVD). `generated` holds one
    ClipFeatures per noise seed, all for the same clips (the evaluation command uses one seed): a
    clip's value is its mean over seeds, and a Fréchet distance pools every seed's frames / clips,
    each bootstrap draw taking a clip with all its seeds. audio_emb / text_emb: (N, E) IA / IT
    references of each clip (Scorers.ia_references)."""
    from sync_classifier.sync_metrics import align_probability, relsync

    c, n = config, next((len(v) for v in vars(reference).values() if v is not None), 0)
    columns: dict[str, np.ndarray] = {}
    ia = None
    if reference.image_embeddings is not None:
        ia = np.stack([np.einsum("nfe,ne->nf", g.image_embeddings, audio_emb) for g in generated])  # (S, N, F) raw cosine
        it = np.stack([np.einsum("nfe,ne->nf", g.image_embeddings, text_emb) for g in generated])
        columns["IA"] = 100 * ia[:, :, 1:].mean(axis=(0, 2))
        columns["IT"] = 100 * it[:, :, 1:].mean(axis=(0, 2))
    if reference.sync is not None:
        rel = np.stack([relsync(g.sync, reference.sync) for g in generated])  # (S, N)
        columns["sync_score"] = np.mean([g.sync for g in generated], axis=0)
        columns["RelSync"] = 100 * rel.mean(axis=0)
        if ia is not None:
            ia_first_gt = np.einsum("ne,ne->n", reference.image_embeddings[:, 0], audio_emb)
            p_align = np.array([[align_probability(ia_first_gt[i], ia[k, i, 1:]) for i in range(n)]
                                for k in range(len(generated))])
            columns["AlignSync"] = 100 * (p_align * rel).mean(axis=0)  # Eq. 4 per clip and seed
    metrics: dict[str, dict] = {}
    for name in ("IA", "IT", "RelSync", "AlignSync"):
        if name in columns:
            values = columns[name]
            metrics[name] = {"value": float(values.mean()), "std": float(values.std(ddof=1)) if n > 1 else 0.0,
                             "ci95": bootstrap_mean_ci(values, c.bootstrap, c.seed)}
    start = time.perf_counter()
    from model.metrics.frechet import frechet_distance

    for name, attr in (("FID", "fid"), ("FID (standard)", "fid_standard"), ("FVD", "fvd"),
                       ("FVD (standard)", "fvd_standard")):
        real = getattr(reference, attr)
        if real is None:
            continue
        if name.startswith("FID"):  # FID drops frame 1 (the conditioning image)
            r_, g_ = real[:, 1:], np.concatenate([getattr(g, attr)[:, 1:] for g in generated], axis=1)
        else:
            r_, g_ = real, np.stack([getattr(g, attr) for g in generated], axis=1)  # (N, S, D)
        metrics[name] = {"value": frechet_distance(r_.reshape(-1, r_.shape[-1]), g_.reshape(-1, g_.shape[-1])),
                         "ci95": bootstrap_frechet_ci(r_, g_, c.bootstrap_frechet, c.seed),
                         "protocol": frechet_protocol(name, c)}
    if timings is not None:
        timings["Fréchet + bootstrap"] = timings.get("Fréchet + bootstrap", 0.0) + time.perf_counter() - start
    return columns, metrics


def score_rows(config: EvalConfig, specs: Sequence[ModelSpec], clips: pd.DataFrame, scorers: Scorers,
               clip_loader: Callable, on_progress: Callable[[str, int, int], None] | None = None
               ) -> tuple[pd.DataFrame, dict, dict[str, float]]:
    """Per-clip scores (one row per model × clip) and the summary rows with 95 % CIs."""
    out, c = Path(config.out), config
    timings: dict[str, float] = {}
    rows = list(clips.itertuples(index=False))
    gt_keys = [f"{_file_identity(r.path)}|{r.start_s:.4f}|{eval_resolution(c)}|{c.frame_pick}" for r in rows]
    gt_cache: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def gt(i: int) -> tuple[np.ndarray, np.ndarray]:
        if i not in gt_cache:
            gt_cache[i] = clip_loader(rows[i])
        return gt_cache[i]

    audio_cache: dict[int, np.ndarray] = {}

    def audio_of(i: int) -> np.ndarray:  # the clip's sound, also when a generated file is scored
        if i not in audio_cache:
            audio_cache[i] = gt(i)[1] if i in gt_cache else clip_loader(rows[i])[1]
        return audio_cache[i]

    reference = scorers.features(gt_keys, [r.video_id for r in rows], gt, audio_of, timings)
    audio_emb, text_emb = scorers.ia_references(gt_keys, [r.label for r in rows], audio_of)
    per_clip, summary_rows = [], {}
    for s, spec in enumerate(specs):
        if spec.kind == "ground_truth":
            feats = reference
        else:
            paths = [generation_path(out, spec.tag, r.clip_id) for r in rows]
            keys = [f"{_file_identity(p)}|0|{eval_resolution(c)}" for p in paths]
            feats = scorers.features(keys, [r.clip_id for r in rows],
                                     lambda i: read_clip(paths[i], 0.0, c.num_frames, c.fps, eval_resolution(c),
                                                         c.sample_rate), audio_of, timings)
        table = pd.DataFrame({"model": spec.tag, "kind": spec.kind, "guidance": spec.guidance,
                              "clip_id": clips["clip_id"], "video_id": clips["video_id"], "label": clips["label"]})
        columns, metrics = row_scores(c, reference, [feats], audio_emb, text_emb, timings)
        for name, values in columns.items():
            table[name] = values
        summary_rows[spec.tag] = {"kind": spec.kind, "guidance": spec.guidance,
                                  "model_path": str(spec.path) if spec.path else None, "metrics": metrics}
        per_clip.append(table)
        if on_progress:
            on_progress("score", s + 1, len(specs))
    return pd.concat(per_clip, ignore_index=True), summary_rows, timings


# ---- the command ------------------------------------------------------------------------------

def evaluate(config: EvalConfig, on_progress: Callable[[str, int, int], None] | None = None) -> dict:
    """Generate what is missing, score every row, write scores.parquet, summary.json, report.html;
    returns the summary."""
    if config.manifest is None or config.out is None:
        raise ValueError("manifest and out are required")
    started = time.perf_counter()
    out = Path(config.out)
    weights = check_weights(config)  # before anything slow: a missing file stops the run at once
    specs = model_specs(config)
    size = eval_resolution(config)
    clip_s = config.num_frames / config.fps
    clips = evaluation_clips(config.manifest, config.split, config.clips_per_video, clip_s)

    def clip_loader(row) -> tuple[np.ndarray, np.ndarray]:
        return read_clip(row.path, row.start_s, config.num_frames, config.fps, size, config.sample_rate, config.frame_pick)

    generation_s = generate_missing(config, specs, clips, clip_loader, on_progress) if config.generate else {}
    missing = missing_generations(out, specs, list(clips["clip_id"]))
    if missing:
        detail = "; ".join(f"{tag}: {len(ids)} missing, e.g. {ids[0]}" for tag, ids in missing.items())
        raise FileNotFoundError(f"generations missing under {out / 'generations'} ({detail}); refusing to score a "
                                "partial set")
    cache = FeatureCache(Path(config.cache_dir) if config.cache_dir else out / "cache")
    scorers = Scorers(config, weights, cache)
    scores, rows, timings = score_rows(config, specs, clips, scorers, clip_loader, on_progress)
    write_parquet_atomic(scores, out / "scores.parquet")
    table_order = ("FID", "FVD", "IA", "IT", "RelSync", "AlignSync", "FID (standard)", "FVD (standard)")
    metric_names = [m for m in table_order                    if any(m in r["metrics"] for r in rows.values())]
    per_class = {tag: {label: {m: float(g[m].mean()) for m in ("IA", "IT", "RelSync", "AlignSync") if m in g}
                       for label, g in scores[scores["model"] == tag].groupby("label")} for tag in rows}
    notes = []
    skipped = {"FID": "inception", "FVD": "i3d", "IA/IT": "imagebind", "RelSync/AlignSync": "sync_classifier"}
    for metric, name in skipped.items():
        if name not in weights:
            notes.append(f"{metric} not computed: no --{name.replace('_', '-')} given")
    if "i3d" in weights and len(clips) <= 400:
        notes.append(f"FVD: {len(clips)} clips for a 400-d covariance: rank ≤ {len(clips) - 1} < 400, the covariance "
                     "is singular and FVD is unreliable")
    elif "i3d" in weights:
        notes.append(f"FVD: {len(clips)} clips for a 400-d covariance (rank ≤ {len(clips) - 1}): barely full rank; "
                     "expect wide CIs")
    if "i3d" in weights and config.num_frames < 16:
        notes.append("FVD of 16-frame clips (StyleGAN-V fvd2048_16f) not computed: the protocol's clips are "
                     f"{config.num_frames} frames")
    summary = {
        "protocol": {"split": config.split, "clips_per_video": config.clips_per_video, "num_frames": config.num_frames,
                     "fps": config.fps, "resolution": list(size), "sample_rate": config.sample_rate,
                     "steps": config.steps, "seed": config.seed,
                     "fid": frechet_protocol("FID", config),
                     "fid_standard": frechet_protocol("FID (standard)", config) if config.standard_fid else None,
                     "fvd": frechet_protocol("FVD", config),
                     "fvd_standard": frechet_protocol("FVD (standard)", config) if config.num_frames >= 16 else None,
                     "ia_it": f"ImageBind raw cosine × 100 over frames 2..{config.num_frames}; IT text = the label; "
                              f"IA audio: {IA_AUDIO[config.ia_audio]}",
                     "relsync_alignsync": "Eqs. 2-4, × 100; ground truth RelSync = 50",
                     "frame_pick": f"test-clip frames at {config.fps:g} fps: " + (
                         "the first source frame at or after each time (the authors' loader)"
                         if config.frame_pick == "at_or_after" else "the source frame nearest each time"),
                     "frechet": "exact Tr (Σa Σb)^½ from a factored eigenvalue problem (pytorch-fid's number without "
                                "its sqrtm; model.metrics.frechet); CIs: paired bootstrap over test clips",
                     "differences_from_authors": authors_differences(config)},
        "manifest": str(config.manifest), "videos": int(clips["video_id"].nunique()), "clips": len(clips),
        "metrics": metric_names, "row_order": list(rows), "rows": rows, "per_class": per_class,
        "decoder": decoder_versions(),
        "weights": {name: {"path": str(path), "sha256": scorers.hashes[name]} for name, path in weights.items()},
        "cache": {"dir": str(cache.root), "hits": cache.hits, "misses": cache.misses},
        "timings_s": {"generation": generation_s, "metrics": timings, "total": time.perf_counter() - started},
        "notes": notes,
    }
    from model.report import write_report

    summary["report"] = str(write_report(summary, scores, clips, out, config, clip_loader))
    write_json_atomic(summary, out / "summary.json")
    return summary


def load_eval_config(path: str | Path | None, overrides: Sequence[str] = ()) -> EvalConfig:
    """An EvalConfig from a YAML file and `key=value` overrides (the project's one loader)."""
    from curation.layered_config import load_layered

    return load_layered({"default": EvalConfig}, "default", path, overrides)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m model.evaluate", description=__doc__.split("\n")[0])
    parser.add_argument("--config", help="YAML file with any EvalConfig fields")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config field")
    parser.add_argument("--manifest")
    parser.add_argument("--split")
    parser.add_argument("--model", action="append", default=[], help="AVSyncD / I2VD pipeline folder (repeatable)")
    parser.add_argument("--guidance", nargs="+", type=float, help="audio guidance η values (default 4)")
    parser.add_argument("--static", action="store_true", default=None, help="add the Static baseline row")
    parser.add_argument("--inception", help="pt_inception-2015-12-05-6726825d.pth (FID)")
    parser.add_argument("--fid-bn-mode", choices=["eval", "authors-train"])
    parser.add_argument("--i3d", help="i3d_torchscript.pt (FVD)")
    parser.add_argument("--imagebind", help="imagebind_huge.pth (IA, IT, AlignSync)")
    parser.add_argument("--imagebind-preset")
    parser.add_argument("--ia-audio", choices=["single", "imagebind"],
                        help="IA audio embedding: single 2 s window (the authors', default) or ImageBind's 3 × 2 s")
    parser.add_argument("--frame-pick", choices=["at_or_after", "nearest"],
                        help="test-clip frame per 6 fps time: first at or after it (the authors', default) or nearest")
    parser.add_argument("--sync-classifier", help="sync classifier folder (RelSync, AlignSync)")
    parser.add_argument("--steps", type=int)
    parser.add_argument("--no-generate", dest="generate", action="store_false", default=None,
                        help="score existing generations only; refuse if any is missing")
    parser.add_argument("--bootstrap", type=int)
    parser.add_argument("--bootstrap-frechet", type=int)
    parser.add_argument("--cache-dir")
    parser.add_argument("--device")
    parser.add_argument("--out")
    args = parser.parse_args(argv)
    overrides = list(args.set)
    flags = {"manifest": args.manifest, "split": args.split, "guidance": args.guidance, "static": args.static,
             "inception": args.inception, "fid_bn_mode": args.fid_bn_mode, "i3d": args.i3d, "imagebind": args.imagebind,
             "imagebind_preset": args.imagebind_preset, "ia_audio": args.ia_audio, "frame_pick": args.frame_pick, "sync_classifier": args.sync_classifier, "steps": args.steps, "generate": args.generate,
             "bootstrap": args.bootstrap, "bootstrap_frechet": args.bootstrap_frechet, "cache_dir": args.cache_dir,
             "device": args.device, "out": args.out, "models": args.model or None}
    overrides += [f"{k}={json.dumps(v if not isinstance(v, list) else v)}" for k, v in flags.items() if v is not None]
    try:
        config = load_eval_config(args.config, overrides)
        summary = evaluate(config)
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    table = {tag: {m: round(v["value"], 3) for m, v in row["metrics"].items()} for tag, row in summary["rows"].items()}
    print(json.dumps({"report": summary["report"], "rows": table, "notes": summary["notes"]}, indent=2))
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    sys.exit(main())
