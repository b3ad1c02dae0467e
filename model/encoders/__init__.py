"""Pretrained encoders shared by curation and AVSyncD: ImageBind (vision, text, audio) and CLIP.

    imagebind.py          compact ImageBind in the official key layout; `load_imagebind` (meta
                          device + mmap + assign, strict for the built modalities); presets
                          huge / base / tiny
    imagebind_layout.py   the official checkpoint's keys and shapes; random checkpoints in it
    imagebind_audio.py    waveform → normalised log-mel clips exactly as upstream (incl. quirks)
    audio_tokens.py       AVSyncD's time-aware audio tokens: 229 × 768, per-frame masks / gathers
    images.py             frames → 224² CLIP-normalised pixels (CLIP and ImageBind vision)
    clip.py               open_clip loading (ViT-L-14 / openai by default), local file or HF cache

Shapes (huge): image (B, 3, 224, 224) → (B, 1024); text ids (B, 77) → (B, 1024); audio
(B, 3, 1, 128, 204) → (B, 1024); audio tokens (B, 229, 768); frame mask (12, 229) with 25 True
per row; gathered frame tokens (B, 12, 25, 768).

ImageBind weights are CC BY-NC-SA 4.0 and never bundled: pass the path of your own
`imagebind_huge.pth`. Importing this package is cheap; torch loads with the sub-modules.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "ImageBind": "imagebind",
    "ImageBindConfig": "imagebind",
    "PRESETS": "imagebind",
    "load_imagebind": "imagebind",
    "ImageBindAudioEncoder": "audio_tokens",
    "load_imagebind_audio_encoder": "audio_tokens",
    "frame_token_mask": "audio_tokens",
    "gather_frame_tokens": "audio_tokens",
    "audio_clips": "imagebind_audio",
    "clip_pixels": "images",
    "ClipImageEncoder": "clip",
    "load_clip": "clip",
}


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = sorted(_EXPORTS)
