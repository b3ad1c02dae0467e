"""The sync classifier: audio encoder + video encoder + MLP head → unbounded score φ(a, v).

Config in, module out: `SyncClassifier(ModelConfig)`. A saved model is a folder with
`config.json` (the ModelConfig) and `model.safetensors`; `from_pretrained` rebuilds it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
import torch.nn.functional as F
from torch import nn

from sync_classifier.config import ModelConfig
from sync_classifier.encoders import AudioConvNet, VideoR2Plus1DNet

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"


class SyncHead(nn.Module):
    """[a, v] → Linear(head_width) → ReLU → Linear(head_width/2) → ReLU → Linear(1).

    The first layer acts on the concatenation, i.e. W_a·a + W_v·v + b, so scoring all P×Q
    pairs of P audio and Q video embeddings projects each embedding once and broadcasts
    the sum instead of building P·Q concatenations.
    """

    def __init__(self, audio_dim: int, video_dim: int, width: int):
        super().__init__()
        self.audio_dim = audio_dim
        self.layers = nn.Sequential(
            nn.Linear(audio_dim + video_dim, width), nn.ReLU(), nn.Linear(width, width // 2), nn.ReLU(), nn.Linear(width // 2, 1)
        )

    # The head always runs in full precision, even under autocast: it is cheap, and the scores
    # are divided by τ = 0.1 in the loss, where bf16's 8-bit mantissa made training diverge.

    def forward(self, audio: torch.Tensor, video: torch.Tensor) -> torch.Tensor:
        """Matched pairs: (N, Da), (N, Dv) → (N,) scores."""
        with torch.autocast(audio.device.type, enabled=False):
            x = torch.cat([audio, video], dim=-1).to(self.layers[0].weight.dtype)
            return self.layers(x).squeeze(-1)

    def all_pairs(self, audio: torch.Tensor, video: torch.Tensor) -> torch.Tensor:
        """(..., P, Da), (..., Q, Dv) → (..., P, Q) with [.., i, j] = φ(a_i, v_j)."""
        first: nn.Linear = self.layers[0]
        w_audio, w_video = first.weight[:, : self.audio_dim], first.weight[:, self.audio_dim :]
        with torch.autocast(audio.device.type, enabled=False):
            a = F.linear(audio.to(first.weight.dtype), w_audio, first.bias)
            v = F.linear(video.to(first.weight.dtype), w_video)
            return self.layers[1:](a.unsqueeze(-2) + v.unsqueeze(-3)).squeeze(-1)


class SyncClassifier(nn.Module):
    """φ(a, v): log-mel (N, 1, 128, 204) and video (N, 3, F, S, S) → (N,) sync scores."""

    def __init__(self, config: ModelConfig | None = None):
        super().__init__()
        self.config = config or ModelConfig()
        self.audio_encoder = AudioConvNet(self.config.audio_widths)
        self.video_encoder = VideoR2Plus1DNet(self.config.video_widths)
        self.head = SyncHead(self.audio_encoder.out_dim, self.video_encoder.out_dim, self.config.head_width)

    def encode_audio(self, fbank: torch.Tensor) -> torch.Tensor:
        """(N, 1, mel, T) → (N, Da)."""
        return self.audio_encoder(fbank)

    def encode_video(self, video: torch.Tensor) -> torch.Tensor:
        """(N, 3, F, S, S) → (N, Dv)."""
        return self.video_encoder(video)

    def forward(self, fbank: torch.Tensor, video: torch.Tensor) -> torch.Tensor:
        """Matched pairs (N, 1, mel, T), (N, 3, F, S, S) → (N,) scores; or groups of clips
        (B, P, 1, mel, T), (B, Q, 3, F, S, S) → (B, P, Q) all-pairs scores (`score_matrix`).
        Training goes through here so that wrappers (DDP) see the forward pass."""
        if fbank.ndim == 5:
            return self.score_matrix(fbank, video)
        return self.head(self.encode_audio(fbank), self.encode_video(video))

    def score_matrix(self, fbank: torch.Tensor, video: torch.Tensor) -> torch.Tensor:
        """Every audio against every video of each group: (B, P, 1, mel, T), (B, Q, 3, F, S, S)
        → (B, P, Q) with [b, i, j] = φ(a_bi, v_bj). Each clip is encoded once."""
        b, p, q = fbank.shape[0], fbank.shape[1], video.shape[1]
        audio = self.encode_audio(fbank.flatten(0, 1)).unflatten(0, (b, p))
        vid = self.encode_video(video.flatten(0, 1)).unflatten(0, (b, q))
        return self.head.all_pairs(audio, vid)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def save_pretrained(self, directory: str | os.PathLike) -> Path:
        """Write `config.json` + `model.safetensors` (weights and BN statistics) to a folder."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().cpu().contiguous() for k, v in self.state_dict().items()}
        tmp = directory / f".{WEIGHTS_NAME}.tmp"
        save_file(state, str(tmp), metadata={"format": "pt", "kind": "asva-sync-classifier"})
        os.replace(tmp, directory / WEIGHTS_NAME)
        (directory / CONFIG_NAME).write_text(json.dumps(self.config.model_dump(), indent=2) + "\n")
        return directory

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike, device: str | torch.device = "cpu") -> "SyncClassifier":
        """Rebuild a saved model (strict: every weight must be present). Returned in eval mode."""
        directory = Path(directory)
        config_path, weights_path = directory / CONFIG_NAME, directory / WEIGHTS_NAME
        if not config_path.is_file() or not weights_path.is_file():
            raise FileNotFoundError(
                f"no sync classifier checkpoint at {directory}: expected {CONFIG_NAME} and {WEIGHTS_NAME} "
                f"(train one with `python -m sync_classifier.train --out DIR`; the model is DIR/final)"
            )
        config = ModelConfig.model_validate(json.loads(config_path.read_text()))
        model = cls(config)
        model.load_state_dict(load_file(str(weights_path), device="cpu"), strict=True)
        return model.to(device).eval()
