"""Semantic alignment per window (paper §3.1): ImageBind image–audio (IA) and image–text (IT)
cosine similarities, averaged over the window's frames. Low = what is heard, or the label, does
not match what is seen.

Config (`metric_options: {imagebind_alignment: {...}}`):
    checkpoint:    the official imagebind_huge.pth (required; CC BY-NC-SA 4.0, never bundled)
    preset:        huge (default) | base | tiny: must match the checkpoint's sizes
    device:        auto (default: cuda when present, else cpu) | cpu | cuda | cuda:N
    dtype:         auto (default: float16 on GPU, float32 on CPU) | float32 | float16 | bfloat16
    batch_size:    images per vision forward (default 32); windows per audio forward is
                   batch_size // audio_clips (each window is `audio_clips` spectrograms)
    sample_fps:    embed the frames at this rate (default: every analysis frame)
    audio_clips:   ImageBind clips per window (default 3 of clip_s = 2 s, upstream's sampler and
                   its in-place mean subtraction; see model/encoders/imagebind_audio.py)
    text_template: the IT text, from the label (default "{label}")

Columns: `imagebind_ia`, `imagebind_it`: the mean over the window's frames of the raw cosine
(−1..1; the paper's tables print ×100). A window's audio embedding is ImageBind's (the mean of
its clips' embeddings); the cosine uses its direction. Each distinct frame is embedded once even
when windows overlap; frames, audio windows and labels are batched across all videos of the
call. NaN when a window has no frame (IA, IT) or no audio (IA).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from curation.metrics import VideoWindows, register_batched
from curation.metrics.neural_scoring import (LoadedModel, ModelWeightsMissing, batched, cached_model,
                                             embed_planned_frames, holding_device, plan_frames, prefetch,
                                             resolve_device, resolve_dtype)

COLUMNS = ("imagebind_ia", "imagebind_it")


def check_options(checkpoint: str | None = None, preset: str = "huge", **_: object) -> None:
    """Raise a clear error if the checkpoint file is missing or the preset unknown."""
    from model.encoders.imagebind import get_config, missing_checkpoint_message

    if not checkpoint or not Path(checkpoint).is_file():
        raise ModelWeightsMissing(f"metric 'imagebind_alignment': {missing_checkpoint_message(checkpoint)} "
                                  "Set metric_options.imagebind_alignment.checkpoint.")
    get_config(preset)


def load_model(checkpoint: str, preset: str = "huge", device: str = "auto", dtype: str = "auto") -> LoadedModel:
    """ImageBind (vision, text, audio) for these options, loaded once per process."""
    from model.encoders.imagebind import load_imagebind

    check_options(checkpoint, preset)
    dev = resolve_device(device)
    dt = resolve_dtype(dtype, dev)
    key = ("imagebind", str(Path(checkpoint).resolve()), str(preset), dev, str(dt))
    return cached_model(key, lambda: load_imagebind(checkpoint, preset, device=dev, dtype=dt))


def _text_embeddings(loaded: LoadedModel, texts: Sequence[str]) -> dict[str, np.ndarray]:
    """Unit text embeddings (E,), cached per model (labels repeat across batches)."""
    import torch
    from open_clip.tokenizer import SimpleTokenizer

    model = loaded.model
    cache = loaded.cache.setdefault("text", {})
    todo = [t for t in dict.fromkeys(texts) if t not in cache]
    if todo:
        tokenizer = loaded.cache.setdefault("tokenizer", SimpleTokenizer(context_length=model.config.context_length))
        with torch.inference_mode():
            emb = model.embed("text", tokenizer(todo).to(model.device)).cpu().numpy()
        cache.update(zip(todo, emb))
    return {t: cache[t] for t in texts}


def _audio_embeddings(model, videos: Sequence[VideoWindows], clips: int, clip_s: float, batch_size: int
                      ) -> list[np.ndarray]:
    """(n_windows, E) unit audio embeddings per video (NaN rows for windows without audio)."""
    import torch
    from model.encoders.imagebind_audio import audio_clips

    out = [np.full((len(v.windows), model.config.embed_dim), np.nan, np.float32) for v in videos]

    def window_mels():
        for v, video in enumerate(videos):
            media = video.media
            for w, window in enumerate(video.windows):
                wave = media.audio[media.audio_slice(window.start_s, window.end_s)]
                if len(wave) >= 400:  # at least one 25 ms fbank frame
                    yield v, w, audio_clips(wave, media.sample_rate, clips, clip_s)

    def stacked(chunks):
        for chunk in chunks:  # stacking happens in the prefetch thread too
            yield [(v, w) for v, w, _ in chunk], torch.stack([m for _, _, m in chunk])

    for where, mels in prefetch(stacked(batched(window_mels(), batch_size))):
        with torch.inference_mode():
            emb = model.embed("audio", mels.to(model.device, model.dtype)).cpu().numpy()
        for (v, w), e in zip(where, emb):
            out[v][w] = e
    return out


@register_batched("imagebind_alignment", columns=COLUMNS)
def imagebind_alignment(videos: Sequence[VideoWindows], checkpoint: str | None = None, preset: str = "huge",
                        device: str = "auto", dtype: str = "auto", batch_size: int = 32,
                        sample_fps: float | None = None, audio_clips: int = 3, clip_s: float = 2.0,
                        text_template: str = "{label}") -> list[dict[str, np.ndarray]]:
    """IA and IT of every window of every video (see the module docstring)."""
    import torch
    from model.encoders.images import normalise_pixels

    check_options(checkpoint, preset)
    with holding_device():
        loaded = load_model(checkpoint, preset, device, dtype)
        model = loaded.model
        with loaded.lock:
            plans = [plan_frames(video, sample_fps) for video in videos]

            def embed_images(crops):
                with torch.inference_mode():
                    return model.embed("vision", normalise_pixels(crops, device=model.device, dtype=model.dtype))

            frames = embed_planned_frames(videos, plans, embed_images, batch_size, model.config.image_size)
            prompts = [text_template.format(label=video.label) for video in videos]
            texts = _text_embeddings(loaded, prompts)
            audio = _audio_embeddings(model, videos, audio_clips, clip_s, max(1, batch_size // audio_clips))

    results = []
    for v, video in enumerate(videos):
        ia = np.full(len(video.windows), np.nan)
        it = np.full(len(video.windows), np.nan)
        for w, positions in enumerate(plans[v].windows):
            if len(positions):
                seen = frames[v][positions]  # (n, E) unit vectors
                ia[w] = float(np.mean(seen @ audio[v][w]))  # NaN when the window has no audio
                it[w] = float(np.mean(seen @ texts[prompts[v]]))
        results.append({"imagebind_ia": ia, "imagebind_it": it})
    return results
