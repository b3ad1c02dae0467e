"""What the neural metrics (clip_semantics, imagebind_alignment) share: device and dtype choice,
one loaded model per process and options, frame sampling that overlapping windows share, batches
that span videos, background preparation of the next batch, and the device guard.

Not a metric itself (it registers nothing). Prefect-free: the flow lends its GPU slot through
`device_guard`, e.g.

    with device_guard(lambda: concurrency("gpu", occupy=1)):   # prefect.concurrency.sync
        pipeline.process_batch(...)

and every neural metric call inside holds that slot while it loads and runs its model.
"""

from __future__ import annotations

import contextlib
import importlib
import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, ContextManager

import numpy as np

from curation.metrics import VideoWindows


class ModelWeightsMissing(FileNotFoundError):
    """A neural metric's weights are not where the config says: a setup error, not a bad video."""


# --- device, dtype, per-process model cache -------------------------------------------------------


def resolve_device(device: str = "auto") -> str:
    """'auto' → 'cuda' when a GPU is visible, else 'cpu'; anything else as given."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"device {device!r} asked for, but torch sees no GPU")
    return device


def resolve_dtype(dtype: str, device: str):
    """'auto' → float16 on GPUs, float32 on CPUs (fp16 matmuls are slow or missing there)."""
    import torch

    if dtype == "auto":
        return torch.float16 if device.startswith("cuda") else torch.float32
    try:
        return {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}[dtype]
    except KeyError:
        raise ValueError(f"dtype must be auto, float32, float16 or bfloat16, got {dtype!r}") from None


@dataclass
class LoadedModel:
    """A model loaded once per process; `lock` serialises its use by concurrent task threads
    (one forward at a time per device: no doubled activations, no oversubscribed cores)."""

    model: Any
    lock: threading.Lock = field(default_factory=threading.Lock)
    cache: dict = field(default_factory=dict)  # e.g. text embeddings by prompt


_MODELS: dict[tuple, LoadedModel] = {}
_MODELS_LOCK = threading.Lock()


def cached_model(key: tuple, load: Callable[[], Any]) -> LoadedModel:
    """The model for `key` (options that define it), loading it on first use in this process."""
    with _MODELS_LOCK:  # two task threads asking at once load it once
        if key not in _MODELS:
            _MODELS[key] = LoadedModel(load())
        return _MODELS[key]


def clear_model_cache() -> None:
    with _MODELS_LOCK:
        _MODELS.clear()


# --- the device guard ---------------------------------------------------------------------------

_GUARD: ContextVar[Callable[[], ContextManager] | None] = ContextVar("neural_device_guard", default=None)


@contextlib.contextmanager
def device_guard(factory: Callable[[], ContextManager] | None) -> Iterator[None]:
    """Within this block (same thread/context), neural metrics run inside `factory()`."""
    token = _GUARD.set(factory)
    try:
        yield
    finally:
        _GUARD.reset(token)


def holding_device() -> ContextManager:
    """The current guard's context (a no-op outside `device_guard`)."""
    factory = _GUARD.get()
    return factory() if factory is not None else contextlib.nullcontext()


def preflight(metrics: Sequence[str], metric_options: Mapping[str, Mapping[str, Any]] | None = None) -> None:
    """Fail fast on setup errors (missing weights, unknown presets) before any video is decoded:
    calls `check_options(**options)` of each configured metric module that defines it."""
    metric_options = metric_options or {}
    for name in metrics:
        try:
            module = importlib.import_module(f"curation.metrics.{name}")
        except ModuleNotFoundError:
            continue  # get_metric reports unknown names
        check = getattr(module, "check_options", None)
        if check is not None:
            check(**dict(metric_options.get(name, {})))


# --- frames that windows share, batches across videos -------------------------------------------


@dataclass(frozen=True)
class FramePlan:
    """Which analysis frames of one video get embedded, and which of them each window averages.

    frames:  (K,) sorted frame indices into `media.frames` (each embedded once)
    windows: per window, (n_w,) positions into `frames`, in time order
    """

    frames: np.ndarray
    windows: list[np.ndarray]


def plan_frames(video: VideoWindows, sample_fps: float | None = None) -> FramePlan:
    """Frames of each window, thinned to `sample_fps` on the video's own frame grid (every
    round(fps / sample_fps)-th frame), so overlapping windows share their frames."""
    media = video.media
    step = 1 if not sample_fps else max(1, round(media.fps / sample_fps))
    per_window = []
    for window in video.windows:
        span = media.frame_slice(window.start_s, window.end_s)
        first = -(-span.start // step) * step  # first multiple of step in the window
        per_window.append(np.arange(first, span.stop, step, dtype=np.int64))
    frames = np.unique(np.concatenate(per_window)) if per_window else np.zeros(0, np.int64)
    return FramePlan(frames, [np.searchsorted(frames, idx) for idx in per_window])


def frame_batches(videos: Sequence[VideoWindows], plans: Sequence[FramePlan], batch_size: int, size: int
                  ) -> Iterator[tuple[list[tuple[int, np.ndarray]], Any]]:
    """Batches of `batch_size` square uint8 crops (B, size, size, 3) spanning videos, with
    [(video index, positions in its plan)] telling where each part of the batch belongs."""
    import torch
    from model.encoders.images import square_crops

    parts: list[tuple[int, np.ndarray]] = []
    crops: list[torch.Tensor] = []
    filled = 0
    for v, (video, plan) in enumerate(zip(videos, plans)):
        start = 0
        while start < len(plan.frames):
            take = min(batch_size - filled, len(plan.frames) - start)
            idx = plan.frames[start : start + take]
            frames = video.media.frames
            if min(frames.shape[1:3]) == size:  # crop views first: only the crops are copied
                crops.append(square_crops(frames, size)[torch.from_numpy(idx)])
            else:
                crops.append(square_crops(frames[idx], size))
            parts.append((v, np.arange(start, start + take)))
            filled += take
            start += take
            if filled == batch_size:
                yield parts, torch.cat(crops)
                parts, crops, filled = [], [], 0
    if filled:
        yield parts, torch.cat(crops)


def embed_planned_frames(videos: Sequence[VideoWindows], plans: Sequence[FramePlan], embed: Callable[[Any], Any],
                         batch_size: int, size: int) -> list[np.ndarray]:
    """Run `embed` ((B, size, size, 3) uint8 → (B, E) tensor) over all planned frames of all
    videos, batches prepared one ahead in a background thread. Returns (K_v, E) float32 per video."""
    out: list[np.ndarray | None] = [None] * len(videos)
    for parts, crops in prefetch(frame_batches(videos, plans, batch_size, size)):
        emb = embed(crops).float().cpu().numpy()
        offset = 0
        for v, positions in parts:
            if out[v] is None:
                out[v] = np.empty((len(plans[v].frames), emb.shape[1]), dtype=np.float32)
            out[v][positions] = emb[offset : offset + len(positions)]
            offset += len(positions)
    return [o if o is not None else np.zeros((0, 0), np.float32) for o in out]


def batched(items: Iterable, size: int) -> Iterator[list]:
    chunk = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


_DONE = object()


def prefetch(items: Iterable, depth: int = 2) -> Iterator:
    """Iterate `items` while a background thread prepares the next `depth` ones (crop, fbank:
    torch/numpy work that releases the GIL), so the model does not wait for its inputs.
    An exception in the producer is raised here, in the consumer."""
    slots: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                if stop.is_set():
                    return
                slots.put((True, item))
            slots.put((True, _DONE))
        except BaseException as exc:  # handed to the consumer
            slots.put((False, exc))

    thread = threading.Thread(target=produce, name="neural-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            ok, item = slots.get()
            if not ok:
                raise item
            if item is _DONE:
                return
            yield item
    finally:
        stop.set()
        while thread.is_alive():  # unblock a producer waiting on a full queue
            try:
                slots.get_nowait()
            except queue.Empty:
                thread.join(timeout=0.05)
