"""The pretrained image model AVSyncD starts from: a Stable Diffusion folder in diffusers layout.

`load_stable_diffusion(path)` reads `vae/ text_encoder/ tokenizer/ scheduler/` and the path of
`unet/` (inflated by `AVSyncUNet.from_pretrained_2d`). A real SD-1.5 download and the project's
tiny one (`build_tiny_stable_diffusion`, saved in the same layout) take this same code path; a
missing or incomplete folder fails at once with what is missing, never with random weights.

Also the frozen helpers around it: prompt → CLIP tokens, frames ↔ VAE latents.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import torch
from diffusers import AutoencoderKL, DDPMScheduler, PNDMScheduler, UNet2DConditionModel

log = logging.getLogger(__name__)

# What a diffusers SD folder must hold for AVSyncD (safety checker / feature extractor unused):
# per folder, alternatives (any one complete set of files is enough).
REQUIRED_FILES: dict[str, list[list[str]]] = {
    "unet": [["config.json", "diffusion_pytorch_model.safetensors"], ["config.json", "diffusion_pytorch_model.bin"]],
    "vae": [["config.json", "diffusion_pytorch_model.safetensors"], ["config.json", "diffusion_pytorch_model.bin"]],
    "text_encoder": [["config.json", "model.safetensors"], ["config.json", "pytorch_model.bin"]],
    "tokenizer": [["vocab.json", "merges.txt"], ["tokenizer.json"]],  # slow (SD-1.5) or fast (transformers 5) files
    "scheduler": [["scheduler_config.json"]],
}
# SD-1.5's inference scheduler (implementation notes A11), also used for the tiny base.
SD15_SCHEDULER = dict(num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                      set_alpha_to_one=False, skip_prk_steps=True, steps_offset=1, prediction_type="epsilon")


@dataclass
class StableDiffusionParts:
    """The frozen parts of an SD folder, and where its 2D UNet is."""

    path: Path
    vae: AutoencoderKL
    text_encoder: torch.nn.Module  # transformers CLIPTextModel
    tokenizer: object  # transformers CLIPTokenizer
    scheduler_config: dict
    unet_dir: Path

    def training_scheduler(self) -> DDPMScheduler:
        """DDPM with the base's betas (SD: 1000 steps, scaled-linear 0.00085–0.012, ε)."""
        return DDPMScheduler.from_config(self.scheduler_config)


def missing_parts(path: str | Path) -> list[str]:
    """Files an SD folder lacks (empty when it is complete)."""
    path = Path(path)
    missing = []
    for folder, alternatives in REQUIRED_FILES.items():
        if not any(all((path / folder / name).is_file() for name in files) for files in alternatives):
            missing.append(" or ".join("+".join(f"{folder}/{name}" for name in files) for files in alternatives))
    return missing


def check_stable_diffusion(path: str | Path) -> Path:
    """Raise FileNotFoundError (with what is missing) unless `path` is a complete SD folder."""
    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"Stable Diffusion folder not found: {path}. Pass --pretrained with a local "
                                "diffusers-layout copy of Stable Diffusion 1.5 (unet/ vae/ text_encoder/ tokenizer/ "
                                "scheduler/), or use the tiny preset.")
    missing = missing_parts(path)
    if missing:
        raise FileNotFoundError(f"{path} is not a complete Stable Diffusion folder; missing: {', '.join(missing)}")
    return path


def load_stable_diffusion(path: str | Path, device: torch.device | str = "cpu") -> StableDiffusionParts:
    """Load the frozen VAE, CLIP text encoder and tokenizer of an SD folder (eval mode)."""
    from transformers import CLIPTextModel, CLIPTokenizer

    path = check_stable_diffusion(path)
    vae = AutoencoderKL.from_pretrained(path / "vae").to(device).eval().requires_grad_(False)
    text_encoder = CLIPTextModel.from_pretrained(path / "text_encoder").to(device).eval().requires_grad_(False)
    tokenizer = CLIPTokenizer.from_pretrained(path / "tokenizer")
    scheduler_config = json.loads((path / "scheduler" / "scheduler_config.json").read_text())
    return StableDiffusionParts(path, vae, text_encoder, tokenizer, scheduler_config, path / "unet")


@torch.no_grad()
def encode_prompts(tokenizer, text_encoder: torch.nn.Module, prompts: list[str]) -> torch.Tensor:
    """Prompts → CLIP last hidden states (B, 77, D), as SD conditions on them."""
    ids = tokenizer(prompts, padding="max_length", max_length=tokenizer.model_max_length, truncation=True,
                    return_tensors="pt").input_ids
    device = next(text_encoder.parameters()).device
    return text_encoder(ids.to(device))[0]


def vae_scale_factor(vae: AutoencoderKL) -> int:
    """Pixels per latent cell (SD: 8)."""
    return 2 ** (len(vae.config.block_out_channels) - 1)


@torch.no_grad()
def encode_frames(vae: AutoencoderKL, frames: torch.Tensor, generator: torch.Generator | None = None,
                  chunk: int = 16) -> torch.Tensor:
    """Frames (B, 3, F, H, W) in [−1, 1] → latents (B, c, F, h, w): a posterior *sample* × the VAE's
    scaling factor (as the authors do), frame by frame."""
    b, _, f, h, w = frames.shape
    flat = frames.transpose(1, 2).reshape(b * f, 3, h, w).to(vae.dtype)
    latents = torch.cat([vae.encode(part).latent_dist.sample(generator) for part in flat.split(chunk)])
    latents = latents * vae.config.scaling_factor
    return latents.reshape(b, f, *latents.shape[1:]).transpose(1, 2)


@torch.no_grad()
def decode_latents(vae: AutoencoderKL, latents: torch.Tensor, chunk: int = 16) -> torch.Tensor:
    """Latents (B, c, F, h, w) → frames (B, 3, F, H, W) in [0, 1]."""
    b, c, f, h, w = latents.shape
    flat = latents.transpose(1, 2).reshape(b * f, c, h, w) / vae.config.scaling_factor
    frames = torch.cat([vae.decode(part.to(vae.dtype)).sample for part in flat.split(chunk)])
    frames = ((frames.float() + 1) / 2).clamp(0, 1)
    return frames.reshape(b, f, *frames.shape[1:]).transpose(1, 2)


# --- the project's tiny base ----------------------------------------------------------------------


def clip_tokenizer_from_open_clip(out_dir: str | Path):
    """An HF CLIPTokenizer built from the CLIP BPE vocabulary open_clip ships (no hub access):
    writes vocab.json + merges.txt to `out_dir` and loads them (model_max_length 77)."""
    from open_clip.tokenizer import SimpleTokenizer
    from transformers import CLIPTokenizer

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    bpe = SimpleTokenizer()
    merges = sorted(bpe.bpe_ranks, key=bpe.bpe_ranks.get)
    # open_clip names the special tokens <start_of_text>/<end_of_text>; OpenAI's (and HF's) spelling:
    renamed = {"<start_of_text>": "<|startoftext|>", "<end_of_text>": "<|endoftext|>"}
    vocab = {renamed.get(token, token): index for token, index in bpe.encoder.items()}
    (out_dir / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False))
    (out_dir / "merges.txt").write_text("#version: 0.2\n" + "\n".join(" ".join(pair) for pair in merges) + "\n")
    return CLIPTokenizer(str(out_dir / "vocab.json"), str(out_dir / "merges.txt"), model_max_length=77)


@torch.no_grad()
def latent_scaling_factor(vae: AutoencoderKL, images: torch.Tensor) -> float:
    """1 / std of the VAE's latent samples on `images` (N, 3, H, W) in [−1, 1]: how SD's 0.18215 was
    chosen, so that scaled latents have unit variance (the diffusion schedule assumes it)."""
    latents = vae.encode(images).latent_dist.sample(torch.Generator().manual_seed(0))
    return float(1.0 / latents.std())


def calibration_images(size: int = 64, count: int = 24, seed: int = 0) -> torch.Tensor:
    """(N, 3, size, size) in [−1, 1]: generated scenes, to calibrate the tiny VAE's latent scale."""
    import numpy as np

    from curation.sources.synthetic import random_scenes, render_clip

    rng = np.random.default_rng(seed)
    frames = np.concatenate([render_clip(random_scenes(rng, duration_s=1.0), fps=4, size=(size, size), seed=i)[0]
                             for i in range(count // 4)])
    return torch.from_numpy(frames).permute(0, 3, 1, 2).float().div(127.5).sub(1)


def build_tiny_stable_diffusion(out_dir: str | Path, seed: int = 0) -> Path:
    """Write a tiny, SD-1.5-shaped model folder in diffusers layout (same classes, same block
    types and layout, much narrower): unet/ vae/ text_encoder/ tokenizer/ scheduler/ and
    model_index.json. Weights are seeded random (an image model the project can afford to build).
    """
    from transformers import CLIPTextConfig, CLIPTextModel

    out_dir = Path(out_dir)
    torch.manual_seed(seed)
    text_dim = 32
    unet = UNet2DConditionModel(
        sample_size=8, in_channels=4, out_channels=4, layers_per_block=1, block_out_channels=(32, 64, 64),
        down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=text_dim, attention_head_dim=4, norm_num_groups=16,
    )
    vae = AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=4, sample_size=64, layers_per_block=1, norm_num_groups=8,
        block_out_channels=(8, 16, 32, 32), down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
    )
    # SD's 0.18215 fits SD's VAE only; measure this VAE's own factor the same way.
    vae.register_to_config(scaling_factor=latent_scaling_factor(vae.eval(), calibration_images()))
    tokenizer = clip_tokenizer_from_open_clip(out_dir / "tokenizer")
    text_encoder = CLIPTextModel(CLIPTextConfig(
        vocab_size=len(tokenizer), hidden_size=text_dim, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, max_position_embeddings=77, bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id))
    unet.save_pretrained(out_dir / "unet")
    vae.save_pretrained(out_dir / "vae")
    text_encoder.save_pretrained(out_dir / "text_encoder")
    tokenizer.save_pretrained(out_dir / "tokenizer")
    PNDMScheduler(**SD15_SCHEDULER).save_pretrained(out_dir / "scheduler")
    import diffusers

    (out_dir / "model_index.json").write_text(json.dumps({
        "_class_name": "StableDiffusionPipeline", "_diffusers_version": diffusers.__version__,
        "feature_extractor": [None, None], "requires_safety_checker": False, "safety_checker": [None, None],
        "scheduler": ["diffusers", "PNDMScheduler"], "text_encoder": ["transformers", "CLIPTextModel"],
        "tokenizer": ["transformers", "CLIPTokenizer"], "unet": ["diffusers", "UNet2DConditionModel"],
        "vae": ["diffusers", "AutoencoderKL"],
    }, indent=2) + "\n")
    log.info("tiny Stable Diffusion folder written to %s", out_dir)
    return out_dir


def ensure_tiny_stable_diffusion(out_dir: str | Path, seed: int = 0) -> Path:
    """The tiny base at `out_dir`, built there first if it is not complete yet."""
    out_dir = Path(out_dir)
    if missing_parts(out_dir):
        build_tiny_stable_diffusion(out_dir, seed)
    return out_dir


# Stable Diffusion 1.5's `unet/config.json` (the public runwayml/stable-diffusion-v1-5 file), for
# building the full-size model without weights (parameter counts, shapes) when no copy is at hand.
SD15_UNET_CONFIG = dict(
    sample_size=64, in_channels=4, out_channels=4, center_input_sample=False, flip_sin_to_cos=True, freq_shift=0,
    down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
    up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
    block_out_channels=(320, 640, 1280, 1280), layers_per_block=2, downsample_padding=1, mid_block_scale_factor=1,
    act_fn="silu", norm_num_groups=32, norm_eps=1e-5, cross_attention_dim=768, attention_head_dim=8,
)


def fit_tiny_vae(base_dir: str | Path, images: torch.Tensor, steps: int = 300, batch_size: int = 8, lr: float = 2e-3,
                 kl_weight: float = 1e-6, seed: int = 0) -> float:
    """Fit the tiny base's VAE as an autoencoder on `images` (N, 3, H, W) in [−1, 1] and save it
    back to `base_dir/vae`; returns the last reconstruction MSE.

    A seeded random VAE decodes anything to noise; a few hundred steps on small frames make the
    tiny base's videos recognisable (blurry) for the demo. Real SD folders never need this."""
    base_dir = Path(base_dir)
    vae = AutoencoderKL.from_pretrained(base_dir / "vae").train()
    optimizer = torch.optim.AdamW(vae.parameters(), lr=lr, weight_decay=0.0)
    generator = torch.Generator().manual_seed(seed)
    loss = torch.tensor(float("nan"))
    for _ in range(steps):
        batch = images[torch.randint(0, len(images), (batch_size,), generator=generator)]
        posterior = vae.encode(batch).latent_dist
        reconstruction = vae.decode(posterior.sample(generator)).sample
        mse = torch.nn.functional.mse_loss(reconstruction, batch)
        loss = mse + kl_weight * posterior.kl().mean()
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    vae.eval()
    vae.register_to_config(scaling_factor=latent_scaling_factor(vae, images[:64]))  # the fit changed the latents' scale
    vae.save_pretrained(base_dir / "vae")
    return float(mse.detach())
