"""Image-audio alignment (IA) with ImageBind, for AlignSync (paper Eqs. 3-4).

Implements `sync_classifier.sync_metrics.ImageAudioScorer`: the raw cosine similarity of each
image's ImageBind vision embedding with the sound's audio embedding (3 clips of 2 s, averaged as
ImageBind does), not ×100 — the authors' IA.

    python -m sync_classifier.sync_metrics --checkpoint SYNC/final --video gen.mp4 --reference real.mp4 \
        --imagebind pretrained/imagebind_huge.pth
"""

from __future__ import annotations

import os

import numpy as np
import torch

from model.encoders.imagebind import load_imagebind
from model.encoders.imagebind_audio import SAMPLE_RATE, audio_clips, centre_clip_mel
from model.encoders.images import clip_pixels


class ImageBindIAScorer:
    """IA scores from ImageBind's vision and audio branches (loaded strictly from the official file);
    with `modalities` including "text", also IT (image-text) embeddings for evaluation."""

    def __init__(self, checkpoint: str | os.PathLike, preset: str = "huge", device: str = "cpu",
                 modalities: tuple[str, ...] = ("vision", "audio")):
        self.model = load_imagebind(checkpoint, preset, modalities=modalities, device=device)

    @torch.inference_mode()
    def image_embeddings(self, images: np.ndarray) -> np.ndarray:
        """images (N, H, W, 3) uint8 RGB (centre-cropped to the model's size) → (N, E) unit vectors."""
        model = self.model
        pixels = clip_pixels(images, model.config.image_size, device=model.device, dtype=model.dtype)
        return model.embed("vision", pixels).float().cpu().numpy()

    @torch.inference_mode()
    def audio_embedding(self, audio: np.ndarray, sample_rate: int, windows: str = "imagebind") -> np.ndarray:
        """audio (S,) mono → (E,) unit vector. windows "imagebind": ImageBind's 3 clips of 2 s,
        averaged; "single": one 2 s window, the centre (the ASVA authors' evaluation: the clip's
        own log-mel, as AVSyncD's loader makes it)."""
        model = self.model
        wave = torch.as_tensor(np.asarray(audio, dtype=np.float32))
        if sample_rate != SAMPLE_RATE:
            import torchaudio

            wave = torchaudio.functional.resample(wave, sample_rate, SAMPLE_RATE)
        if windows == "single":
            mels = centre_clip_mel(wave.numpy(), SAMPLE_RATE)[None, None]  # (1, 1 clip, 1, mel, frames)
        elif windows == "imagebind":
            mels = audio_clips(wave.numpy(), SAMPLE_RATE).unsqueeze(0)  # (1, clips, 1, mel, frames)
        else:
            raise ValueError(f"windows must be 'imagebind' or 'single', got {windows!r}")
        return model.embed("audio", mels.to(model.device, model.dtype))[0].float().cpu().numpy()

    @torch.inference_mode()
    def text_embeddings(self, texts: list[str]) -> np.ndarray:
        """texts → (T, E) unit vectors (CLIP BPE ids, as ImageBind's text branch expects)."""
        from open_clip.tokenizer import SimpleTokenizer

        model = self.model
        ids = SimpleTokenizer(context_length=model.config.context_length)(list(texts)).to(model.device)
        return model.embed("text", ids).float().cpu().numpy()

    def image_audio_scores(self, images: np.ndarray, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        """images (N, H, W, 3) uint8 RGB (centre-cropped to the model's size), audio (S,) mono → (N,)."""
        sound = self.audio_embedding(audio, sample_rate)
        return (self.image_embeddings(images) @ sound).astype(np.float64)
