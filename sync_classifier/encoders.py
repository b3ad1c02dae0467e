"""The two encoders of the sync classifier (SPEC "Sync classifier", notes §D1).

Attribute names follow the AVID-CMA networks (`conv1`, `block1..4`; `conv2x..conv5x`,
`spt_conv1`, `tmp_bn1`, `out_bn`, `res_conv`, ...) so that its AudioSet checkpoint loads by
stripping a prefix (see `pretrained.py`); widths are configurable for the tiny preset.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


class ConvBNBlock2d(nn.Module):
    """Two 3x3 conv → BN → ReLU layers, the first one strided. No residual (as AVID-CMA's audio net)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(x)))


class AudioConvNet(nn.Module):
    """Log-mel spectrogram (B, 1, mel, T) → (B, widths[-1]) embedding.

    7x7 stride-2 stem to widths[0], then four conv blocks (strides 2, 2, 2, 1), mean over
    frequency and time.
    """

    def __init__(self, widths: Sequence[int] = (64, 128, 256, 512)):
        super().__init__()
        w1, w2, w3, w4 = widths
        self.conv1 = nn.Sequential(nn.Conv2d(1, w1, 7, stride=2, padding=3, bias=False), nn.BatchNorm2d(w1), nn.ReLU())
        self.block1 = ConvBNBlock2d(w1, w1, stride=2)
        self.block2 = ConvBNBlock2d(w1, w2, stride=2)
        self.block3 = ConvBNBlock2d(w2, w3, stride=2)
        self.block4 = ConvBNBlock2d(w3, w4, stride=1)
        self.out_dim = w4

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv1(x)
        for block in (self.block1, self.block2, self.block3, self.block4):
            x = block(x)
        return x.mean(dim=(2, 3))


def _temporal_conv(conv: nn.Conv3d, x: torch.Tensor) -> torch.Tensor:
    """Apply a temporal conv; in fp32 when CPU bf16 autocast meets fewer frames than the kernel.

    Why: with torch 2.14 on CPU, bf16 weight gradients of a 3x1x1 padded conv over a 2-frame
    input come out NaN now and then (measured; stage 4 of a 12-frame clip has 2 frames). Those
    late-stage tensors are small, so fp32 there costs little.
    """
    if x.device.type == "cpu" and x.shape[2] < conv.kernel_size[0] and torch.is_autocast_enabled("cpu"):
        with torch.autocast("cpu", enabled=False):
            return conv(x.float())
    return conv(x)


class R2Plus1DBlock(nn.Module):
    """Residual (2+1)D block: [1x3x3 spatial conv → BN → ReLU → 3x1x1 temporal conv → BN → ReLU]
    twice (the last temporal conv without BN/ReLU), plus the input (through a strided 1x1x1
    conv when the shape changes), then BN → ReLU. The middle width is not expanded (AVID-CMA's
    variant, unlike torchvision's R(2+1)D)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1):
        super().__init__()
        self.spt_conv1 = nn.Conv3d(in_channels, out_channels, (1, 3, 3), stride=(1, stride, stride), padding=(0, 1, 1), bias=False)
        self.spt_bn1 = nn.BatchNorm3d(out_channels)
        self.tmp_conv1 = nn.Conv3d(out_channels, out_channels, (3, 1, 1), stride=(stride, 1, 1), padding=(1, 0, 0), bias=False)
        self.tmp_bn1 = nn.BatchNorm3d(out_channels)
        self.spt_conv2 = nn.Conv3d(out_channels, out_channels, (1, 3, 3), padding=(0, 1, 1), bias=False)
        self.spt_bn2 = nn.BatchNorm3d(out_channels)
        self.tmp_conv2 = nn.Conv3d(out_channels, out_channels, (3, 1, 1), padding=(1, 0, 0), bias=False)
        self.out_bn = nn.BatchNorm3d(out_channels)
        self.res_conv = (
            nn.Conv3d(in_channels, out_channels, 1, stride=stride, bias=False)
            if in_channels != out_channels or stride != 1 else None
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.spt_bn1(self.spt_conv1(x)))
        y = torch.relu(self.tmp_bn1(_temporal_conv(self.tmp_conv1, y)))
        y = torch.relu(self.spt_bn2(self.spt_conv2(y)))
        y = _temporal_conv(self.tmp_conv2, y)
        shortcut = self.res_conv(x) if self.res_conv is not None else x
        return torch.relu(self.out_bn(y + shortcut))


class VideoR2Plus1DNet(nn.Module):
    """Video (B, 3, F, H, W) → (B, widths[-1]) embedding, R(2+1)D-18 style.

    3x7x7 stem (spatial stride 2) → BN → ReLU → 1x3x3 max-pool (spatial stride 2); four stages
    of two blocks, stages 2-4 halving time and space; mean over time and space.
    """

    def __init__(self, widths: Sequence[int] = (64, 128, 256, 512)):
        super().__init__()
        w1, w2, w3, w4 = widths
        self.conv1 = nn.Sequential(
            nn.Conv3d(3, w1, (3, 7, 7), stride=(1, 2, 2), padding=(1, 3, 3), bias=False),
            nn.BatchNorm3d(w1),
            nn.ReLU(),
            nn.MaxPool3d((1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1)),
        )
        self.conv2x = nn.Sequential(R2Plus1DBlock(w1, w1), R2Plus1DBlock(w1, w1))
        self.conv3x = nn.Sequential(R2Plus1DBlock(w1, w2, stride=2), R2Plus1DBlock(w2, w2))
        self.conv4x = nn.Sequential(R2Plus1DBlock(w2, w3, stride=2), R2Plus1DBlock(w3, w3))
        self.conv5x = nn.Sequential(R2Plus1DBlock(w3, w4, stride=2), R2Plus1DBlock(w4, w4))
        self.out_dim = w4

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv1(x)
        for stage in (self.conv2x, self.conv3x, self.conv4x, self.conv5x):
            x = stage(x)
        return x.mean(dim=(2, 3, 4))
