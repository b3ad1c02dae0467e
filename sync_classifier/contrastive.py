"""The training objective (paper Eq. 1 with temperature; SPEC "Training").

For each video, K clips start 0.2 s apart; φ scores all K×K (audio i, video j) pairs. Row i is
a K-way classification "which video is synchronized with audio i" (target j = i), column j
the same for video j over audios. Loss = mean of the two cross-entropies on φ / τ.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass
class ContrastiveOutput:
    loss: torch.Tensor  # scalar, (a2v + v2a) / 2
    a2v_loss: torch.Tensor
    v2a_loss: torch.Tensor
    a2v_accuracy: torch.Tensor  # exact-index accuracy of row / column argmax
    v2a_accuracy: torch.Tensor


def sync_contrastive_loss(scores: torch.Tensor, tau: float = 0.1) -> ContrastiveOutput:
    """scores (B, K, K) with [b, i, j] = φ(a_i, v_j) of video b → losses and accuracies."""
    if scores.ndim != 3 or scores.shape[1] != scores.shape[2]:
        raise ValueError(f"scores must be (B, K, K), got {tuple(scores.shape)}")
    b, k, _ = scores.shape
    logits = scores.float() / tau
    target = torch.arange(k, device=scores.device).repeat(b)
    a2v_logits = logits.reshape(b * k, k)  # rows: one audio against all videos
    v2a_logits = logits.transpose(1, 2).reshape(b * k, k)  # rows: one video against all audios
    a2v = F.cross_entropy(a2v_logits, target)
    v2a = F.cross_entropy(v2a_logits, target)
    with torch.no_grad():
        a2v_acc = (a2v_logits.argmax(1) == target).float().mean()
        v2a_acc = (v2a_logits.argmax(1) == target).float().mean()
    return ContrastiveOutput((a2v + v2a) / 2, a2v, v2a, a2v_acc, v2a_acc)
