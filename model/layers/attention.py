"""Multi-head attention with diffusers' `Attention` weights, computed by
`torch.nn.functional.scaled_dot_product_attention`.

One function serves every attention of the video block: the pretrained spatial attention (with
keys/values from frame 1), the text cross-attention, the audio cross-attention and the temporal
attention. Keys and values may carry fewer leading batch entries than the queries (e.g. one set
per video shared by its F frames): they are broadcast, never copied per frame.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from diffusers.models.attention_processor import Attention


def check_plain_attention(attn: Attention) -> None:
    """Refuse attention variants this function does not implement (SD-1.5's are all plain)."""
    extras = {
        "group_norm": attn.group_norm is not None, "spatial_norm": attn.spatial_norm is not None,
        "norm_q": getattr(attn, "norm_q", None) is not None, "norm_cross": getattr(attn, "norm_cross", None) is not None,
        "residual_connection": bool(attn.residual_connection), "rescale_output_factor": attn.rescale_output_factor != 1.0,
        "added_kv": getattr(attn, "add_k_proj", None) is not None,
    }
    used = [name for name, on in extras.items() if on]
    if used:
        raise NotImplementedError(f"attention with {used} is not supported by the video block")


def _heads(x: torch.Tensor, heads: int) -> torch.Tensor:
    """(..., L, H·d) → (..., H, L, d)."""
    *lead, length, width = x.shape
    return x.reshape(*lead, length, heads, width // heads).transpose(-3, -2)


def multihead_attention(
    attn: Attention,
    query_states: torch.Tensor,
    key_value_states: torch.Tensor | None = None,
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Attention of `query_states` over `key_value_states` with `attn`'s projections.

    query_states:     (*Q, Lq, Cq), e.g. (B, F, N, C)
    key_value_states: (*K, Lk, Ck) with *K broadcastable to *Q (e.g. (B, 1, Lk, Ck)); None = self
    mask:             bool (*M, Lk) broadcastable to (*Q, Lk); True = attend
    returns           (*Q, Lq, C_out)
    """
    kv = query_states if key_value_states is None else key_value_states
    q = _heads(attn.to_q(query_states), attn.heads)
    k = _heads(attn.to_k(kv), attn.heads)
    v = _heads(attn.to_v(kv), attn.heads)
    lead = q.shape[:-3]
    # One flat batch axis: the fused CPU/GPU kernels take 4-D inputs (5-D falls back to the slow
    # math path). Shared keys/values are materialised per query batch here, after projection.
    q = q.reshape(-1, *q.shape[-3:])
    k = k.expand(*lead, *k.shape[-3:]).reshape(-1, *k.shape[-3:])
    v = v.expand(*lead, *v.shape[-3:]).reshape(-1, *v.shape[-3:])
    if mask is not None:
        # An additive bias rather than a bool mask (the bool path checks for fully-masked rows on
        # every call); our masks always keep at least one key per query.
        mask = mask.expand(*lead, mask.shape[-1])
        bias = torch.zeros(mask.shape, dtype=q.dtype, device=q.device).masked_fill(~mask.bool(), float("-inf"))
        mask = bias.reshape(-1, 1, 1, bias.shape[-1])  # (batch, 1 head, 1 query, Lk)
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=attn.scale)
    out = out.transpose(-3, -2).flatten(-2).reshape(*lead, -1, out.shape[-3] * out.shape[-1])  # (..., Lq, H·d)
    out = attn.to_out[0](out)
    return attn.to_out[1](out)  # dropout
