"""The inflated UNet: identity at init, first-frame rules, frozen/trainable split, sizes."""

import pytest
import torch

from model.encoders.audio_tokens import frame_token_mask
from model.stable_diffusion import SD15_UNET_CONFIG
from model.unet import AVSyncUNet, is_new_parameter

from .conftest import AUDIO_DIM, micro_unet2d

B, F, H = 2, 5, 8


def _inputs(seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(B, 4, F, H, H, generator=g), torch.tensor([10, 700]), torch.randn(B, 7, 16, generator=g))


def _randomise_new_layers(unet: AVSyncUNet, seed=1) -> None:
    """As if trained: non-zero temporal and audio weights."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in unet.named_parameters():
            if is_new_parameter(name):
                p.copy_(0.1 * torch.randn(p.shape, generator=g))


def test_identity_at_init_reproduces_the_2d_unet_frame_by_frame(unet2d):
    # Audio attention and first-frame spatial attention off; zero-initialised temporal layers on.
    video = AVSyncUNet.from_unet2d(unet2d, audio_attention=False, first_frame_attention=False,
                                   norm_across_frames=False).eval()
    assert video.config.temporal_conv == "first_frame" and video.config.temporal_attention
    x, t, text = _inputs()
    with torch.no_grad():
        out = video(x, t, text).sample
        per_frame = torch.stack([unet2d(x[:, :, i], t, text).sample for i in range(F)], dim=2)
    assert out.shape == x.shape
    assert torch.allclose(out, per_frame, atol=1e-5), (out - per_frame).abs().max()
    _randomise_new_layers(video)  # the test can fail: trained temporal layers break the identity
    with torch.no_grad():
        assert not torch.allclose(video(x, t, text).sample, per_frame, atol=1e-3)


def test_authors_groupnorm_couples_frames_but_not_identical_ones(unet2d):
    video = AVSyncUNet.from_unet2d(unet2d, audio_attention=False, first_frame_attention=False).eval()
    x, t, text = _inputs()
    with torch.no_grad():
        per_frame = torch.stack([unet2d(x[:, :, i], t, text).sample for i in range(F)], dim=2)
        assert not torch.allclose(video(x, t, text).sample, per_frame, atol=1e-4)
        still = x[:, :, :1].repeat(1, 1, F, 1, 1)
        assert torch.allclose(video(still, t, text).sample, unet2d(x[:, :, 0], t, text).sample[:, :, None]
                              .expand_as(still), atol=1e-5)


def test_first_frame_reaches_every_frame_and_later_frames_never_reach_earlier_ones(unet2d):
    # First-frame conv + first-frame attention only: causal, and frame 1 feeds every frame.
    video = AVSyncUNet.from_unet2d(unet2d, audio_attention=False, temporal_attention=False,
                                   norm_across_frames=False).eval()
    _randomise_new_layers(video)
    x, t, text = _inputs()
    with torch.no_grad():
        base = video(x, t, text).sample
        for source in (0, 2):
            bumped = x.clone()
            bumped[:, :, source] += torch.randn(B, 4, H, H)
            changed = (video(bumped, t, text).sample - base).abs().amax((0, 1, 3, 4)) > 1e-6
            assert changed.tolist() == [f >= source for f in range(F)], (source, changed)


def test_audio_changes_the_prediction_through_its_frame_segments(unet2d):
    video = AVSyncUNet.from_unet2d(unet2d, audio_dim=AUDIO_DIM, norm_across_frames=False).eval()
    x, t, text = _inputs()
    tokens = torch.randn(B, 229, AUDIO_DIM)
    mask = frame_token_mask(F, (12, 19))[None]
    with torch.no_grad():
        out = video(x, t, text, tokens, mask).sample
        other = video(x, t, text, torch.randn(B, 229, AUDIO_DIM), mask).sample
    assert out.shape == x.shape and not torch.allclose(out, other)
    with pytest.raises(ValueError, match="audio_tokens"):
        video(x, t, text)


def test_only_temporal_and_audio_layers_are_trainable(unet2d):
    video = AVSyncUNet.from_unet2d(unet2d, audio_dim=AUDIO_DIM)
    video.freeze_pretrained()
    trainable = {n for n, p in video.named_parameters() if p.requires_grad}
    assert trainable and all(any(k in n for k in ("conv_temp", "attn_temp", "attn_audio")) for n in trainable)
    frozen = {n for n, p in video.named_parameters() if not p.requires_grad}
    assert {f"unet.{k}" for k in unet2d.state_dict()} == frozen  # every SD weight, under its SD name
    # one optimizer step moves the new layers and nothing else
    before = {n: p.detach().clone() for n, p in video.named_parameters()}
    optimizer = torch.optim.AdamW([p for p in video.parameters() if p.requires_grad], lr=1e-2, weight_decay=1e-2)
    x, t, text = _inputs()
    video(x, t, text, torch.randn(B, 229, AUDIO_DIM), frame_token_mask(F)[None]).sample.square().mean().backward()
    optimizer.step()
    moved = {n for n, p in video.named_parameters() if not torch.equal(p, before[n])}
    assert moved and moved <= trainable
    assert all(torch.equal(p, before[n]) for n, p in video.named_parameters() if n in frozen)


def test_ablation_switches_change_the_architecture(unet2d):
    full = AVSyncUNet.from_unet2d(unet2d, audio_dim=AUDIO_DIM)
    i2vd = AVSyncUNet.from_unet2d(unet2d, audio_attention=False)
    no_conv = AVSyncUNet.from_unet2d(unet2d, temporal_conv="none", audio_dim=AUDIO_DIM)
    names = lambda m: {n for n, _ in m.named_parameters()}  # noqa: E731
    assert any("attn_audio" in n for n in names(full)) and not any("attn_audio" in n for n in names(i2vd))
    assert not any("conv_temp" in n for n in names(no_conv))
    with pytest.raises(ValueError):
        AVSyncUNet.from_unet2d(unet2d, temporal_conv="sideways")


def test_gradient_checkpointing_gives_the_same_gradients(unet2d):
    x, t, text = _inputs()
    tokens, mask = torch.randn(B, 229, AUDIO_DIM), frame_token_mask(F)[None]
    grads = []
    for checkpointing in (False, True):
        video = AVSyncUNet.from_unet2d(unet2d, audio_dim=AUDIO_DIM)
        _randomise_new_layers(video)
        video.freeze_pretrained()
        if checkpointing:
            video.enable_gradient_checkpointing()
        video.train()
        video(x, t, text, tokens, mask).sample.square().mean().backward()
        grads.append(torch.cat([p.grad.flatten() for p in video.parameters() if p.requires_grad]))
    assert torch.allclose(grads[0], grads[1], atol=1e-6)


def test_save_and_load_round_trip(unet2d, tmp_path):
    video = AVSyncUNet.from_unet2d(unet2d, audio_dim=AUDIO_DIM, first_frame_attention=False).eval()
    _randomise_new_layers(video)
    video.save_pretrained(tmp_path / "unet")
    loaded = AVSyncUNet.from_pretrained(tmp_path / "unet").eval()
    assert loaded.config.first_frame_attention is False
    x, t, text = _inputs()
    tokens, mask = torch.randn(B, 229, AUDIO_DIM), frame_token_mask(F)[None]
    with torch.no_grad():
        assert torch.equal(video(x, t, text, tokens, mask).sample, loaded(x, t, text, tokens, mask).sample)
    with pytest.raises(ValueError, match="do not fit"):
        AVSyncUNet.from_unet2d(micro_unet2d(cross_attention_dim=16), audio_dim=AUDIO_DIM).load_2d_state_dict(
            {"conv_in.weight": torch.zeros(1)})


def test_sd15_sized_model_matches_the_papers_parameter_counts():
    with torch.device("meta"):
        video = AVSyncUNet(unet2d_config=SD15_UNET_CONFIG, audio_dim=768)
    total = sum(p.numel() for p in video.parameters())
    trainable = sum(p.numel() for n, p in video.named_parameters() if is_new_parameter(n))
    assert round(total / 1e6, 2) == 1169.36 and round(trainable / 1e6, 2) == 309.84  # SPEC / implementation notes A9
    convs = [m for m in video.modules() if hasattr(m, "conv_temp")]
    assert len(convs) == 66
    assert sum(1 for m in video.modules() if type(m).__name__ == "VideoTransformerBlock") == 16
