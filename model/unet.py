"""The AVSyncD denoiser: a Stable Diffusion `UNet2DConditionModel` inflated to video (paper §4.2).

The pretrained 2D UNet is kept whole (`self.unet`) and its pretrained layers run on the frames
folded into the batch axis, (B, C, F, H, W) → (B·F, C, H, W). Inflation swaps modules in place
without renaming any pretrained parameter:

- every 2D conv outside the transformers (conv_in/out, ResNet convs and shortcuts, down/up-
  samplers: 66 in SD-1.5) → `FirstFrameConv2d` (+ `conv_temp`, zero-init);
- every `BasicTransformerBlock` → `VideoTransformerBlock` (first-frame spatial attention,
  `attn_audio`, `attn_temp`);
- optionally the ResNet GroupNorms and conv_norm_out → `FrameGroupNorm` (statistics over all
  frames, as in the authors' code).

So SD's state dict loads into `self.unet` unchanged; the only missing keys are the new `_temp` /
`_audio` modules, which are the trainable ones. Every component is switchable by config (Table
2(a) ablations, I2VD = `audio_attention=False`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from diffusers import UNet2DConditionModel
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.attention import BasicTransformerBlock
from diffusers.models.modeling_utils import ModelMixin
from diffusers.models.resnet import Downsample2D, ResnetBlock2D, Upsample2D
from diffusers.utils import BaseOutput
from torch import nn

from model.layers import FirstFrameConv2d, FrameContext, FrameGroupNorm, VideoConditioning, VideoTransformerBlock

# A parameter is new (trainable) iff a module on its path is one of the added ones.
NEW_MODULE = re.compile(r"(^|\.)(conv_temp|attn_temp|attn_audio)(\.|$)")
UNET_WEIGHTS = ("diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.bin")


@dataclass
class VideoUNetOutput(BaseOutput):
    """sample: (B, C, F, H, W) predicted noise."""

    sample: torch.Tensor


def is_new_parameter(name: str) -> bool:
    """True for the parameters AVSyncD adds (temporal and audio layers); the rest is SD's."""
    return NEW_MODULE.search(name) is not None


class AVSyncUNet(ModelMixin, ConfigMixin):
    """Video UNet ε_θ(z^k, k; z_1, a, τ).

    Args:
        unet2d_config: the 2D UNet's config (SD's `unet/config.json` as a dict).
        temporal_conv: "first_frame" (frames 1, t−1, t), "standard" (t−1, t, t+1) or "none".
        first_frame_attention: spatial attention takes keys/values from frame 1 (else per frame).
        temporal_attention: add temporal attention to every transformer block.
        audio_attention: add audio cross-attention (False = I2VD).
        audio_dim: width of the audio tokens (ImageBind-huge audio: 768).
        norm_across_frames: ResNet GroupNorms pool statistics over all frames (authors' code).
        zero_temporal_out_bias: zero the temporal attention's output bias too (the authors zero
            only its weight; zeroing both makes the untrained model an exact per-frame copy of SD).
    """

    _supports_gradient_checkpointing = True

    @register_to_config
    def __init__(
        self,
        unet2d_config: dict[str, Any] | None = None,
        temporal_conv: str = "first_frame",
        first_frame_attention: bool = True,
        temporal_attention: bool = True,
        audio_attention: bool = True,
        audio_dim: int = 768,
        norm_across_frames: bool = True,
        zero_temporal_out_bias: bool = True,
    ):
        super().__init__()
        if unet2d_config is None:
            raise ValueError("unet2d_config is required (the 2D UNet's config.json as a dict)")
        if temporal_conv not in ("first_frame", "standard", "none"):
            raise ValueError(f"temporal_conv must be first_frame, standard or none, not {temporal_conv!r}")
        self.frame_context = FrameContext()
        self.unet = UNet2DConditionModel.from_config(unet2d_config)
        self._inflate()

    # --- construction --------------------------------------------------------------------------

    def _inflate(self) -> None:
        cfg, context = self.config, self.frame_context
        replacements: list[tuple[nn.Module, str, nn.Module]] = []
        for parent in self.unet.modules():
            for name, child in parent.named_children():
                if isinstance(child, BasicTransformerBlock):
                    new = VideoTransformerBlock(child, cfg.first_frame_attention, cfg.temporal_attention,
                                                cfg.audio_dim if cfg.audio_attention else None,
                                                cfg.zero_temporal_out_bias)
                elif isinstance(child, nn.Conv2d) and self._is_inflated_conv(parent, name):
                    new = FirstFrameConv2d.from_conv(child, context, cfg.temporal_conv)
                elif (isinstance(child, nn.GroupNorm) and cfg.norm_across_frames
                      and (isinstance(parent, ResnetBlock2D) or (parent is self.unet and name == "conv_norm_out"))):
                    new = FrameGroupNorm.from_norm(child, context)
                else:
                    continue
                replacements.append((parent, name, new))
        for parent, name, new in replacements:
            setattr(parent, name, new)

    def _is_inflated_conv(self, parent: nn.Module, name: str) -> bool:
        """The convs the authors wrap: UNet in/out, ResNets (incl. shortcuts), down/up-samplers.
        Transformer proj_in/proj_out (1×1 convs in SD-1.5) are not among them."""
        if parent is self.unet:
            return name in ("conv_in", "conv_out")
        return isinstance(parent, (ResnetBlock2D, Downsample2D, Upsample2D))

    @classmethod  # kept: the in-memory twin of from_pretrained_2d (tests and notebooks build tiny 2D UNets)
    def from_unet2d(cls, unet2d: UNet2DConditionModel, **options: Any) -> "AVSyncUNet":
        """Inflate an in-memory 2D UNet (its weights are copied into the video UNet)."""
        model = cls(unet2d_config=dict(unet2d.config), **options)
        model.load_2d_state_dict(unet2d.state_dict())
        return model

    @classmethod
    def from_pretrained_2d(cls, unet_dir: str | Path, **options: Any) -> "AVSyncUNet":
        """Inflate a diffusers-layout 2D UNet folder (`config.json` + weights), e.g. SD-1.5's `unet/`.

        Raises FileNotFoundError with what is missing; never falls back to random weights."""
        unet_dir = Path(unet_dir)
        config_file = unet_dir / "config.json"
        if not config_file.is_file():
            raise FileNotFoundError(f"no UNet config at {config_file} (expected a diffusers `unet/` folder)")
        weights = next((unet_dir / name for name in UNET_WEIGHTS if (unet_dir / name).is_file()), None)
        if weights is None:
            raise FileNotFoundError(f"no UNet weights in {unet_dir} (expected one of {', '.join(UNET_WEIGHTS)})")
        state = load_state_file(weights)
        model = cls(unet2d_config=json.loads(config_file.read_text()), **options)
        model.load_2d_state_dict(state)
        return model

    def load_2d_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        """Load a 2D UNet state dict into `self.unet`: every 2D key must match, and the only keys
        left untouched must be the new temporal/audio ones."""
        try:
            result = self.unet.load_state_dict(state, strict=False)
        except RuntimeError as exc:  # shape mismatches
            raise ValueError(f"2D UNet weights do not fit this config: {exc}") from exc
        not_new = [k for k in result.missing_keys if not is_new_parameter(k)]
        if not_new or result.unexpected_keys:
            raise ValueError(f"2D UNet weights do not fit: missing {not_new[:5]}…, unexpected {result.unexpected_keys[:5]}…")

    # --- parameters ----------------------------------------------------------------------------

    def freeze_pretrained(self) -> None:
        """requires_grad only for the new temporal and audio layers (paper: SD weights frozen)."""
        for name, parameter in self.named_parameters():
            parameter.requires_grad_(is_new_parameter(name))

    def trainable_state_dict(self) -> dict[str, torch.Tensor]:
        """The new layers' weights (what a training checkpoint stores)."""
        return {name: p.detach() for name, p in self.named_parameters() if is_new_parameter(name)}

    def load_trainable_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        """Load exactly the new layers' weights (strict on that subset)."""
        expected = set(self.trainable_state_dict())
        if set(state) != expected:
            missing, extra = sorted(expected - set(state)), sorted(set(state) - expected)
            raise ValueError(f"trainable weights do not fit this config: missing {missing[:5]}, unexpected {extra[:5]}")
        result = self.load_state_dict(state, strict=False)
        assert not result.unexpected_keys

    # --- forward -------------------------------------------------------------------------------

    def forward(
        self,
        sample: torch.Tensor,
        timestep: torch.Tensor | int,
        encoder_hidden_states: torch.Tensor,
        audio_tokens: torch.Tensor | None = None,
        audio_mask: torch.Tensor | None = None,
        return_dict: bool = True,
    ) -> VideoUNetOutput | tuple[torch.Tensor]:
        """Predict the noise of a latent video.

        sample:                (B, C, F, H, W) latents (frame 0 = the clean first-frame latent)
        timestep:              (B,) or scalar diffusion step, shared by all frames of a video
        encoder_hidden_states: (B, L, D_text) text tokens (one prompt per video)
        audio_tokens:          (B, T, D_audio), required when the model has audio attention
        audio_mask:            (B, F, T) or (F, T) bool, True = visible; None = all visible
        returns                (B, C, F, H, W)
        """
        b, c, f, h, w = sample.shape
        if self.config.audio_attention:
            if audio_tokens is None:
                raise ValueError("audio_tokens are required (use the null-audio tokens for 'no audio')")
            if audio_mask is not None:
                audio_mask = audio_mask.expand(b, f, audio_tokens.shape[1])
                if not bool(audio_mask.any(-1).all()):
                    raise ValueError("every frame must see at least one audio token")
        timestep = torch.as_tensor(timestep, device=sample.device)
        timestep = timestep.expand(b) if timestep.ndim == 0 else timestep
        self.frame_context.num_frames = f
        video = VideoConditioning(f, audio_tokens if self.config.audio_attention else None,
                                  audio_mask if self.config.audio_attention else None)
        folded = sample.transpose(1, 2).reshape(b * f, c, h, w)
        out = self.unet(folded, timestep.repeat_interleave(f), encoder_hidden_states,
                        cross_attention_kwargs={"video": video}).sample
        out = out.reshape(b, f, -1, h, w).transpose(1, 2)
        return VideoUNetOutput(sample=out) if return_dict else (out,)


def load_state_file(path: str | Path) -> dict[str, torch.Tensor]:
    """Tensors of a .safetensors or .bin file (the .bin read with weights_only and mmap)."""
    path = Path(path)
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    return torch.load(path, map_location="cpu", weights_only=True, mmap=True)
