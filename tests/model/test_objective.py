"""Training objective pieces and classifier-free audio guidance."""

import torch
from diffusers import DDPMScheduler

from model.objective import HeldOut, apply_audio_drop, denoising_loss, held_out_loss, noisy_video, sample_audio_drop
from model.pipeline import guided_noise


def test_guidance_formula_is_eq_6():
    g = torch.Generator().manual_seed(0)
    null, audio = torch.randn(3, 4, generator=g), torch.randn(3, 4, generator=g)
    for eta in (0.0, 1.0, 4.0, 8.0):
        expected = null + eta * (audio - null)
        assert torch.allclose(guided_noise(null, audio, eta), expected)
        assert torch.allclose(guided_noise(null, audio, eta), (1 - eta) * null + eta * audio, atol=1e-5)
    assert torch.allclose(guided_noise(null, audio, 1.0), audio) and torch.equal(guided_noise(null, audio, 0.0), null)


def test_null_audio_dropout_rate_and_replacement():
    drop = sample_audio_drop(20_000, 0.2, torch.Generator().manual_seed(0))
    assert abs(drop.float().mean().item() - 0.2) < 0.01
    assert not sample_audio_drop(100, 0.0).any() and sample_audio_drop(100, 1.0).all()
    tokens, null = torch.randn(4, 5, 3), torch.zeros(1, 5, 3)
    out = apply_audio_drop(tokens, null, torch.tensor([True, False, True, False]))
    assert torch.equal(out[0], null[0]) and torch.equal(out[1], tokens[1]) and torch.equal(out[3], tokens[3])


def test_first_frame_stays_clean_and_is_not_in_the_loss():
    scheduler = DDPMScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012)
    latents, noise = torch.randn(2, 4, 6, 3, 3), torch.randn(2, 4, 6, 3, 3)
    z = noisy_video(scheduler, latents, noise, torch.tensor([999, 500]))
    assert torch.equal(z[:, :, 0], latents[:, :, 0]) and not torch.allclose(z[:, :, 1:], latents[:, :, 1:])
    wrong_first = noise.clone()
    wrong_first[:, :, 0] += 100.0
    assert denoising_loss(wrong_first, noise) == 0
    assert torch.isclose(denoising_loss(torch.zeros_like(noise), noise), noise[:, :, 1:].square().mean())


def test_held_out_loss_is_deterministic_and_sees_the_audio():
    class Echo(torch.nn.Module):  # predicts noise from the tokens' mean: audio-dependent
        def forward(self, z, t, text, tokens, mask):
            return type("Out", (), {"sample": z * 0 + tokens.mean((1, 2))[:, None, None, None, None]})

    scheduler = DDPMScheduler()
    held = HeldOut.build(torch.randn(3, 4, 4, 2, 2), torch.randn(3, 7, 8), torch.randn(3, 5, 6) + 3,
                         torch.zeros(1, 5, 6), None, repeats=2)
    assert len(held.latents) == 6 and held.timesteps.tolist()[:2] == [50, 950]
    real = held_out_loss(Echo(), scheduler, held)
    assert real == held_out_loss(Echo(), scheduler, held)
    assert held_out_loss(Echo(), scheduler, held, audio="null") < real  # zero tokens predict zero noise
