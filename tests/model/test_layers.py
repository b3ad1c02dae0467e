"""Each video layer: shapes, zero-init identity, which frames it reads, and masks."""

import pytest
import torch
from diffusers.models.attention_processor import Attention, AttnProcessor2_0
from torch import nn

from model.audio_conditioning import StandInAudioEncoder
from model.encoders.audio_tokens import frame_token_mask
from model.encoders.audio_tokens import segment_starts
from model.layers import (AudioCrossAttention, FirstFrameConv2d, FrameContext, FrameGroupNorm, TemporalAttention,
                          multihead_attention, temporal_lookup)
from model.layers.first_frame_conv import lookup_indices


def _ff_conv(lookup="first_frame", frames=6, channels=4):
    torch.manual_seed(0)
    context = FrameContext(frames)
    conv = FirstFrameConv2d.from_conv(nn.Conv2d(channels, channels, 3, padding=1), context, lookup)
    return conv, context


def test_first_frame_conv_shapes_and_zero_init_identity():
    conv2d = nn.Conv2d(3, 8, 3, stride=2, padding=1)
    conv = FirstFrameConv2d.from_conv(conv2d, FrameContext(5))
    x = torch.randn(2 * 5, 3, 16, 16)
    assert conv(x).shape == (10, 8, 8, 8)
    assert torch.equal(conv(x), conv2d(x))  # zero-initialised residual: exactly the pretrained conv
    assert conv.weight is conv2d.weight  # the pretrained tensor itself, under its own name
    assert sum(p.numel() for p in conv.conv_temp.parameters()) == 3 * 8 * 8 + 8
    assert set(dict(conv.named_parameters())) == {"weight", "bias", "conv_temp.weight", "conv_temp.bias"}


@pytest.mark.parametrize("lookup", ["first_frame", "standard"])
def test_temporal_conv_receptive_field_is_exactly_its_three_frames(lookup):
    frames = 6
    conv, _ = _ff_conv(lookup, frames)
    nn.init.normal_(conv.conv_temp.weight)  # as if trained
    x = torch.randn(frames, 4, 5, 5)
    base = conv(x)
    for source in range(frames):
        bumped = x.clone()
        bumped[source] += 1.0
        changed = {t for t in range(frames) if not torch.allclose(conv(bumped)[t], base[t])}
        expected = {t for t in range(frames) if source in lookup_indices(frames, lookup)[t].tolist()}
        assert changed == expected, (source, changed, expected)
    if lookup == "first_frame":
        # frame t reads (1, t-1, t): frame 1 reaches every frame, the future never reaches the past
        assert lookup_indices(4, lookup).tolist() == [[0, 0, 0], [0, 0, 1], [0, 1, 2], [0, 2, 3]]


def test_blockwise_residual_equals_a_linear_over_the_concatenated_frames():
    conv, context = _ff_conv("first_frame", frames=5)
    nn.init.normal_(conv.conv_temp.weight)
    nn.init.normal_(conv.conv_temp.bias)
    x = torch.randn(2 * 5, 4, 6, 6)
    y = nn.functional.conv2d(x, conv.weight, conv.bias, padding=1)
    explicit = conv.conv_temp(temporal_lookup(y, 5)).permute(0, 1, 4, 2, 3).reshape(y.shape)  # (B, F, C, H, W)
    assert torch.allclose(conv(x), y + explicit, atol=1e-5)


def test_frame_group_norm_pools_all_frames_of_a_video():
    gn = nn.GroupNorm(2, 4)
    nn.init.normal_(gn.weight)
    norm = FrameGroupNorm.from_norm(gn, FrameContext(3))
    x = torch.randn(2 * 3, 4, 5, 5)
    video = x.reshape(2, 3, 4, 5, 5).transpose(1, 2)  # (B, C, F, H, W) as in the authors' code
    expected = nn.functional.group_norm(video, 2, gn.weight, gn.bias, gn.eps).transpose(1, 2).reshape(x.shape)
    assert torch.allclose(norm(x), expected, atol=1e-6)
    assert not torch.allclose(norm(x), gn(x), atol=1e-3)  # differs from per-frame statistics
    same = x[:1].repeat(3, 1, 1, 1)  # identical frames: pooled statistics = per-frame ones
    assert torch.allclose(FrameGroupNorm.from_norm(gn, FrameContext(3))(same), gn(same), atol=1e-5)


def test_multihead_attention_matches_diffusers_attention():
    torch.manual_seed(0)
    self_attn = Attention(16, heads=4, dim_head=4).eval()
    cross = Attention(16, cross_attention_dim=12, heads=4, dim_head=4).eval()
    x, ctx = torch.randn(3, 10, 16), torch.randn(3, 7, 12)
    for attn in (self_attn, cross):
        attn.set_processor(AttnProcessor2_0())
    assert torch.allclose(multihead_attention(self_attn, x), self_attn(x), atol=1e-6)
    assert torch.allclose(multihead_attention(cross, x, ctx), cross(x, encoder_hidden_states=ctx), atol=1e-6)
    # shared keys/values broadcast over a frame axis = the same keys copied per frame
    q = torch.randn(2, 5, 10, 16)
    kv = torch.randn(2, 1, 7, 12)
    assert torch.allclose(multihead_attention(cross, q, kv), multihead_attention(cross, q, kv.expand(2, 5, 7, 12)),
                          atol=1e-6)


def test_temporal_attention_shapes_zero_init_and_frame_mixing():
    torch.manual_seed(0)
    layer = TemporalAttention(16, heads=4)
    x = torch.randn(2 * 6, 9, 16)
    assert torch.equal(layer(x, 6), x)  # out-projection weight and bias zero: identity
    authors = TemporalAttention(16, heads=4, zero_out_bias=False)
    assert torch.equal(authors.attn.to_out[0].weight, torch.zeros(16, 16))
    assert not torch.allclose(authors(x, 6), x)  # the authors' init only zeroes the weight
    nn.init.normal_(layer.attn.to_out[0].weight)
    y = layer(x, 6)
    bumped = x.clone()
    bumped[5, 3] += torch.randn(16)  # video 0, last frame, position 3 (not a constant: LayerNorm removes it)
    changed = (layer(bumped, 6) - y).abs().sum(-1).reshape(2, 6, 9) > 1e-6
    assert changed[0, :, 3].all() and changed.sum() == 6  # every frame of that position, nothing else
    assert sum(p.numel() for p in layer.pos_embedding.parameters()) == 2 * 16 * 16 + 2 * 16


def test_audio_cross_attention_masked_tokens_have_no_influence():
    torch.manual_seed(0)
    frames, tokens = 12, 1 + 12 * 19
    layer = AudioCrossAttention(16, 24, heads=4)
    x = torch.randn(frames, 5, 16)
    audio = torch.randn(1, tokens, 24)
    mask = frame_token_mask(frames)[None]  # (1, F, T)
    y = layer(x, audio, mask, frames)
    assert y.shape == x.shape
    hidden = audio.clone()
    hidden[0, 1 + 19 * 4 + 10] += 5.0  # a patch in column 10: visible only to frame index 6 (columns 9-10)
    delta = (layer(x, hidden, mask, frames) - y).abs().amax((1, 2))
    assert (delta[torch.arange(frames) != 6] == 0).all() and delta[6] > 0
    hidden = audio.clone()
    hidden[0, 0] += 5.0  # the global token: every frame sees it
    assert ((layer(x, hidden, mask, frames) - y).abs().amax((1, 2)) > 0).all()


def test_segment_masks_follow_the_authors_layout():
    mask = frame_token_mask(12)
    assert mask.shape == (12, 229) and mask.sum(1).tolist() == [25] * 12 and mask[:, 0].all()
    assert list(segment_starts(12)) == [0, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17]
    grid = mask[:, 1:].reshape(12, 12, 19)
    assert grid[3, :, 5:7].all() and grid[3].sum() == 24  # frame 4: columns 5 and 6, all 12 frequency rows
    stand_in = StandInAudioEncoder(token_dim=8)
    assert torch.equal(stand_in.frame_mask(12), mask) and stand_in.num_tokens == 229
    tokens = stand_in.encode(torch.randn(2, 40000) * 0.1)
    assert tokens.shape == (2, 229, 8) and stand_in.encode_null(3).shape == (3, 229, 8)
