"""Inference: animate an image with a sound (paper §4, Eq. 6; implementation notes A11).

`AVSyncDPipeline` is a thin `__call__` over the frozen VAE / CLIP text encoder / audio encoder,
the video UNet and SD's PNDM scheduler, in diffusers style: `from_pretrained` / `save_pretrained`
of a folder with one sub-folder per component and a `model_index.json`.

Sampling: the clean first-frame latent (a VAE posterior sample) sits at frame 1 for the whole
loop; frames 2..F start as N(0, I) and only they are updated by the scheduler. Classifier-free
audio guidance: ε = ε(text, null) + η·(ε(text, audio) − ε(text, null)); η = 1 runs one pass with
the audio only. I2VD (a UNet without audio attention) ignores the audio. `StaticAnimator` is the
Static baseline (the image repeated) behind the same call.
"""

from __future__ import annotations

import importlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from diffusers import AutoencoderKL, PNDMScheduler
from PIL import Image

from model.audio_conditioning import AudioTokenEncoder
from model.encoders.imagebind_audio import centre_clip
from model.stable_diffusion import decode_latents, encode_frames, encode_prompts, load_stable_diffusion, vae_scale_factor
from model.unet import AVSyncUNet

log = logging.getLogger(__name__)

PIPELINE_CLASS = "AVSyncDPipeline"
# Audio encoder classes a pipeline folder may name (module, class); loaded by import, so only ours.
_ALLOWED_AUDIO_MODULES = ("model.",)
# An audio encoder recorded by reference (ImageBind: its checkpoint path + preset, never its weights).
REFERENCE, REFERENCE_FILE = "reference", "reference.json"


@dataclass
class Animation:
    """A generated clip. frames: (F, H, W, 3) uint8 RGB at `fps`; audio: (S,) float32 mono at
    `sample_rate` Hz, the conditioning sound cut to the clip's length."""

    frames: np.ndarray
    audio: np.ndarray
    fps: float
    sample_rate: int
    latents: torch.Tensor | None = None  # (1, C, F, h, w) final latents (AVSyncD only)

    @property
    def duration_s(self) -> float:
        return len(self.frames) / self.fps

    def write_mp4(self, path: str | Path) -> Path:
        """H.264 video with the audio muxed in as AAC (PyAV; no ffmpeg binary needed)."""
        from curation.media import write_mp4

        frames = self.frames
        if frames.shape[1] % 2 or frames.shape[2] % 2:  # 4:2:0 needs even sides
            frames = frames[:, : frames.shape[1] // 2 * 2, : frames.shape[2] // 2 * 2]
        return write_mp4(path, frames, self.fps, self.audio, self.sample_rate)


def guided_noise(eps_null: torch.Tensor, eps_audio: torch.Tensor, guidance_scale: float) -> torch.Tensor:
    """Classifier-free audio guidance (Eq. 6): ε_∅ + η·(ε_a − ε_∅) = (1 − η)·ε_∅ + η·ε_a."""
    return eps_null + guidance_scale * (eps_audio - eps_null)


def prepare_image(image: Image.Image | np.ndarray | str | Path, height: int, width: int) -> np.ndarray:
    """Any image → (height, width, 3) uint8 RGB: short side resized (bicubic, antialiased), then
    centre-cropped."""
    if isinstance(image, (str, Path)):
        image = Image.open(image)
    if isinstance(image, np.ndarray):
        image = Image.fromarray(image)
    image = image.convert("RGB")
    scale = max(height / image.height, width / image.width)
    size = (max(width, round(image.width * scale)), max(height, round(image.height * scale)))
    image = image.resize(size, Image.BICUBIC)
    left, top = (size[0] - width) // 2, (size[1] - height) // 2
    return np.array(image.crop((left, top, left + width, top + height)))


def read_pipeline_index(path: Path) -> dict:
    """A saved pipeline folder's model_index.json (its components and clip format), checked."""
    index_file = path / "model_index.json"
    if not index_file.is_file():
        raise FileNotFoundError(f"no AVSyncD pipeline at {path} (model_index.json missing)")
    index = json.loads(index_file.read_text())
    if index.get("_class_name") != PIPELINE_CLASS:
        raise ValueError(f"{path} holds a {index.get('_class_name')}, not an {PIPELINE_CLASS}")
    return index


def _as_waveform(audio: np.ndarray | torch.Tensor, samples: int) -> np.ndarray:
    """(S,) mono waveform → exactly `samples` (centre crop or zero pad), float32."""
    wave = torch.as_tensor(np.asarray(audio, dtype=np.float32)).reshape(1, -1)
    return centre_clip(wave, samples)[0].numpy()


class AVSyncDPipeline:
    """image + audio + class prompt → Animation (12 frames at 6 fps by default); `resolution` =
    (height, width) of the frames it generates (recorded in model_index.json; 128 × 256 for
    TheGreatestHits)."""

    def __init__(self, vae: AutoencoderKL, text_encoder: torch.nn.Module, tokenizer, unet: AVSyncUNet,
                 scheduler: PNDMScheduler, audio_encoder: AudioTokenEncoder | None = None, num_frames: int = 12,
                 fps: float = 6.0, resolution: tuple[int, int] = (256, 256), audio_encoder_reference: dict | None = None):
        """`audio_encoder_reference` ({"checkpoint": path, "preset": "huge"}) is what a saved folder
        records instead of weights for an encoder that must not be copied (ImageBind, CC BY-NC-SA)."""
        if unet.config.audio_attention and audio_encoder is None:
            raise ValueError("this UNet has audio attention: an audio encoder is required")
        self.vae, self.text_encoder, self.tokenizer = vae, text_encoder, tokenizer
        self.unet, self.scheduler, self.audio_encoder = unet, scheduler, audio_encoder
        self.num_frames, self.fps, self.resolution = num_frames, fps, tuple(resolution)
        self.audio_encoder_reference = audio_encoder_reference

    # --- construction --------------------------------------------------------------------------

    @classmethod
    def from_base(cls, base: str | Path, unet: AVSyncUNet, audio_encoder: AudioTokenEncoder | None,
                  num_frames: int = 12, fps: float = 6.0, resolution: tuple[int, int] = (256, 256)) -> "AVSyncDPipeline":
        """Frozen parts from an SD folder (checked, never random) around a given video UNet."""
        parts = load_stable_diffusion(base)
        scheduler = PNDMScheduler.from_config(parts.scheduler_config)
        return cls(parts.vae, parts.text_encoder, parts.tokenizer, unet, scheduler, audio_encoder, num_frames, fps,
                   resolution)

    @classmethod
    def from_pretrained(cls, path: str | Path, audio_encoder: AudioTokenEncoder | None = None,
                        device: torch.device | str = "cpu") -> "AVSyncDPipeline":
        """Load a folder written by `save_pretrained` (an explicit `audio_encoder` overrides the saved one)."""
        path = Path(path)
        index = read_pipeline_index(path)
        parts = load_stable_diffusion(path, device)
        unet = AVSyncUNet.from_pretrained(path / "unet").to(device).eval().requires_grad_(False)
        reference = None
        if index.get("audio_encoder", [None])[0] == REFERENCE:
            reference = json.loads((path / "audio_encoder" / REFERENCE_FILE).read_text())
        if audio_encoder is None and reference is not None:
            from model.encoders import load_imagebind_audio_encoder

            checkpoint = Path(reference["checkpoint"])
            if not checkpoint.is_file():
                raise FileNotFoundError(f"{path} needs the ImageBind checkpoint {checkpoint} (not bundled: CC BY-NC-SA "
                                        "4.0); pass audio_encoder= or put the file there")
            audio_encoder = load_imagebind_audio_encoder(checkpoint, reference.get("preset", "huge"), device=device)
        elif audio_encoder is None and index.get("audio_encoder", [None])[0]:
            module, name = index["audio_encoder"]
            if not module.startswith(_ALLOWED_AUDIO_MODULES):
                raise ValueError(f"refusing to import audio encoder from {module!r}")
            audio_encoder = getattr(importlib.import_module(module), name).from_pretrained(path / "audio_encoder")
            audio_encoder = audio_encoder.to(device).eval()
        scheduler = PNDMScheduler.from_config(parts.scheduler_config)
        return cls(parts.vae, parts.text_encoder, parts.tokenizer, unet, scheduler, audio_encoder,
                   index.get("num_frames", 12), index.get("fps", 6.0), tuple(index.get("resolution", (256, 256))),
                   reference)

    def save_pretrained(self, path: str | Path) -> Path:
        """Every component in its own folder (diffusers / transformers layout) + model_index.json."""
        import diffusers

        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        self.vae.save_pretrained(path / "vae")
        self.text_encoder.save_pretrained(path / "text_encoder")
        self.tokenizer.save_pretrained(path / "tokenizer")
        self.scheduler.save_pretrained(path / "scheduler")
        self.unet.save_pretrained(path / "unet")
        audio = [None, None]
        if self.audio_encoder is not None and self.unet.config.audio_attention:
            if self.audio_encoder_reference is not None:  # weights that must not be copied: record where they are
                (path / "audio_encoder").mkdir(exist_ok=True)
                (path / "audio_encoder" / REFERENCE_FILE).write_text(json.dumps(self.audio_encoder_reference, indent=2))
                audio = [REFERENCE, type(self.audio_encoder).__name__]
            elif hasattr(self.audio_encoder, "save_pretrained"):
                self.audio_encoder.save_pretrained(path / "audio_encoder")
                audio = [type(self.audio_encoder).__module__, type(self.audio_encoder).__name__]
            else:
                raise TypeError(f"{type(self.audio_encoder).__name__} has no save_pretrained: pass "
                                "audio_encoder_reference (where its weights are) to save the pipeline")
        index = {
            "_class_name": PIPELINE_CLASS, "_diffusers_version": diffusers.__version__,
            "vae": ["diffusers", "AutoencoderKL"], "text_encoder": ["transformers", type(self.text_encoder).__name__],
            "tokenizer": ["transformers", type(self.tokenizer).__name__], "unet": ["model.unet", "AVSyncUNet"],
            "scheduler": ["diffusers", type(self.scheduler).__name__], "audio_encoder": audio,
            "num_frames": self.num_frames, "fps": self.fps, "resolution": list(self.resolution),
        }
        (path / "model_index.json").write_text(json.dumps(index, indent=2) + "\n")
        return path

    def to(self, device: torch.device | str) -> "AVSyncDPipeline":
        for module in (self.vae, self.text_encoder, self.unet, self.audio_encoder):
            if module is not None:
                module.to(device)
        return self

    @property
    def device(self) -> torch.device:
        return self.unet.device

    @property
    def sample_rate(self) -> int:
        return self.audio_encoder.sample_rate if self.audio_encoder is not None else 16000

    # --- sampling ------------------------------------------------------------------------------

    @torch.no_grad()
    def __call__(self, image: Image.Image | np.ndarray | str | Path, audio: np.ndarray | torch.Tensor | None,
                 prompt: str = "", guidance_scale: float = 4.0, num_inference_steps: int = 50, seed: int = 0,
                 audio_sample_rate: int | None = None, progress: bool = False, height: int | None = None,
                 width: int | None = None) -> Animation:
        """Animate `image` with `audio`.

        image:  PIL image, (H, W, 3) uint8 array or a file path; resized + centre-cropped to
                height × width (default: the pipeline's `resolution`, the size it was trained at;
                each a multiple of the VAE's factor, 8 for SD)
        audio:  (S,) mono waveform at the encoder's rate (16 kHz); longer than the clip → centre
                cut, shorter → zero padded; None for I2VD
        prompt: the class prompt, e.g. "lions roaring"
        guidance_scale: η of Eq. 6 (4 is the paper's best); η = 1 → one pass with the audio,
                η = 0 → the null audio's prediction (no audio guidance at all)
        seed:   the noise seed (the same seed gives the same video)
        """
        if audio_sample_rate is not None and audio_sample_rate != self.sample_rate:
            raise ValueError(f"audio must be at {self.sample_rate} Hz, got {audio_sample_rate}")
        height, width = height or self.resolution[0], width or self.resolution[1]
        factor = vae_scale_factor(self.vae)
        if height % factor or width % factor:
            raise ValueError(f"height and width must be multiples of {factor} (the VAE's factor), got {height}×{width}")
        f, device = self.num_frames, self.device
        samples = round(f / self.fps * self.sample_rate)
        wave = _as_waveform(audio, samples) if audio is not None else np.zeros(samples, np.float32)
        pixels = prepare_image(image, height, width)
        generator = torch.Generator("cpu").manual_seed(seed)

        frame = torch.from_numpy(pixels).permute(2, 0, 1).float().div(127.5).sub(1)[None, :, None]  # (1, 3, 1, H, W)
        first = encode_frames(self.vae, frame.to(device), generator=torch.Generator(device).manual_seed(seed))
        text = encode_prompts(self.tokenizer, self.text_encoder, [prompt])
        uses_audio = bool(self.unet.config.audio_attention)
        guided = uses_audio and guidance_scale != 1.0  # η = 1: the audio pass alone; η = 0: null audio alone
        tokens = mask = None
        if uses_audio:
            enc = self.audio_encoder
            audio_tokens = enc.encode(torch.from_numpy(wave)[None].to(device))
            tokens = torch.cat([enc.encode_null(1), audio_tokens]) if guided else audio_tokens
            mask = enc.frame_mask(f)[None]
            text = text.expand(len(tokens), -1, -1)

        c, h, w = first.shape[1], first.shape[3], first.shape[4]
        noise = torch.randn((1, c, f - 1, h, w), generator=generator).to(device) * self.scheduler.init_noise_sigma
        latents = torch.cat([first, noise], dim=2)
        self.scheduler.set_timesteps(num_inference_steps, device=device)
        steps = self.scheduler.timesteps
        if progress:
            from tqdm import tqdm

            steps = tqdm(steps, desc="denoising")
        for t in steps:
            model_in = latents.expand(len(text), -1, -1, -1, -1)
            eps = self.unet(model_in, t, text, tokens, mask).sample
            if guided:
                eps = guided_noise(eps[:1], eps[1:], guidance_scale)
            # Frame 1 stays the clean image latent; only frames 2..F are denoised.
            rest = self.scheduler.step(eps[:, :, 1:], t, latents[:, :, 1:]).prev_sample
            latents = torch.cat([latents[:, :, :1], rest], dim=2)
        video = decode_latents(self.vae, latents)[0]  # (3, F, H, W) in [0, 1]
        frames = (video.permute(1, 2, 3, 0).cpu().numpy() * 255).round().astype(np.uint8)
        return Animation(frames=frames, audio=wave, fps=self.fps, sample_rate=self.sample_rate, latents=latents.cpu())


class StaticAnimator:
    """The Static baseline (paper Table 1): the input image repeated for every frame;
    `resolution` = (height, width)."""

    def __init__(self, num_frames: int = 12, fps: float = 6.0, resolution: tuple[int, int] = (256, 256),
                 sample_rate: int = 16000):
        self.num_frames, self.fps, self.resolution, self.sample_rate = num_frames, fps, tuple(resolution), sample_rate

    @classmethod
    def like_pipeline(cls, path: str | Path) -> "StaticAnimator":
        """The clip format (frames, fps, height × width, audio rate) of a saved AVSyncD pipeline, read
        from its model_index.json (and its audio encoder's config.json) without loading any model."""
        path = Path(path)
        index = read_pipeline_index(path)
        encoder_config = path / "audio_encoder" / "config.json"
        sample_rate = json.loads(encoder_config.read_text()).get("sample_rate", 16000) if encoder_config.is_file() else 16000
        return cls(index.get("num_frames", 12), index.get("fps", 6.0), tuple(index.get("resolution", (256, 256))),
                   sample_rate)

    def __call__(self, image: Image.Image | np.ndarray | str | Path, audio: np.ndarray | torch.Tensor | None,
                 prompt: str = "", guidance_scale: float = 4.0, num_inference_steps: int = 50, seed: int = 0,
                 audio_sample_rate: int | None = None, progress: bool = False, height: int | None = None,
                 width: int | None = None) -> Animation:
        """The image resized + centre-cropped to height × width (default: `resolution`), repeated."""
        samples = round(self.num_frames / self.fps * self.sample_rate)
        wave = _as_waveform(audio, samples) if audio is not None else np.zeros(samples, np.float32)
        pixels = prepare_image(image, height or self.resolution[0], width or self.resolution[1])
        return Animation(np.repeat(pixels[None], self.num_frames, axis=0), wave, self.fps, self.sample_rate)
