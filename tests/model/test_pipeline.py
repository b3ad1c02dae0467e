"""The pipeline (save/load, CFG, I2VD, Static) and the animate CLI writing an mp4 with sound."""

import json

import numpy as np
import torch
import pytest

from curation.config import MediaConfig
from curation.media import decode, probe
from model.animate import main as animate_main
from curation.media import read_audio
from model.pipeline import AVSyncDPipeline, StaticAnimator, prepare_image
from model.unet import AVSyncUNet

IMAGE = "asva/lion_and_gun.png"
SOUND = "asva/lions_roaring.wav"


@pytest.fixture(scope="module")
def pipeline(trained_run):
    return AVSyncDPipeline.from_pretrained(trained_run.final_pipeline)


def test_pipeline_folder_round_trip_and_determinism(pipeline, trained_run, fixtures_dir, tmp_path):
    index = json.loads((trained_run.final_pipeline / "model_index.json").read_text())
    assert index["unet"] == ["model.unet", "AVSyncUNet"] and index["resolution"] == [32, 32]
    audio = read_audio(fixtures_dir / SOUND)
    first = pipeline(fixtures_dir / IMAGE, audio, "lions roaring", guidance_scale=4.0, num_inference_steps=3, seed=5)
    assert first.frames.shape == (12, 32, 32, 3) and first.frames.dtype == np.uint8
    assert first.audio.shape == (32000,)
    again = AVSyncDPipeline.from_pretrained(pipeline.save_pretrained(tmp_path / "copy"))
    second = again(fixtures_dir / IMAGE, audio, "lions roaring", guidance_scale=4.0, num_inference_steps=3, seed=5)
    assert np.array_equal(first.frames, second.frames)
    other_seed = pipeline(fixtures_dir / IMAGE, audio, "lions roaring", guidance_scale=4.0, num_inference_steps=3, seed=6)
    assert not np.array_equal(first.frames[1:], other_seed.frames[1:])


def test_guidance_uses_the_audio(pipeline, fixtures_dir):
    audio = read_audio(fixtures_dir / SOUND)
    image = fixtures_dir / IMAGE
    runs = {eta: pipeline(image, audio, "lions roaring", guidance_scale=eta, num_inference_steps=3, seed=0).frames
            for eta in (0.0, 1.0, 4.0)}
    assert not np.array_equal(runs[0.0], runs[1.0]) and not np.array_equal(runs[1.0], runs[4.0])
    # the first frame is the conditioning image's latent decoded, whatever the audio
    assert np.array_equal(runs[0.0][0], runs[4.0][0])


def test_i2vd_and_static_behind_the_same_call(pipeline, fixtures_dir):
    unet = pipeline.unet
    i2vd_unet = AVSyncUNet(unet2d_config=dict(unet.unet.config), audio_attention=False).eval()
    i2vd_unet.unet.load_state_dict(unet.unet.state_dict(), strict=False)
    i2vd = AVSyncDPipeline(pipeline.vae, pipeline.text_encoder, pipeline.tokenizer, i2vd_unet, pipeline.scheduler,
                           None, resolution=(32, 32))
    video = i2vd(fixtures_dir / IMAGE, None, "lions roaring", num_inference_steps=2)
    assert video.frames.shape == (12, 32, 32, 3) and not video.audio.any()
    static = StaticAnimator(resolution=(32, 32))(fixtures_dir / IMAGE, np.ones(40000, np.float32))
    assert (static.frames == static.frames[:1]).all() and static.audio.shape == (32000,)
    assert np.array_equal(static.frames[0], prepare_image(fixtures_dir / IMAGE, 32, 32))
    with pytest.raises(ValueError, match="audio encoder"):
        AVSyncDPipeline(pipeline.vae, pipeline.text_encoder, pipeline.tokenizer, unet, pipeline.scheduler, None)


def test_animate_cli_writes_a_playable_mp4_with_the_audio(trained_run, fixtures_dir, tmp_path, capsys):
    out = tmp_path / "lion.mp4"
    assert animate_main(["--model", str(trained_run.final_pipeline), "--image", str(fixtures_dir / IMAGE),
                         "--audio", str(fixtures_dir / SOUND), "--prompt", "lions roaring", "--out", str(out),
                         "--steps", "2"]) == 0
    assert json.loads(capsys.readouterr().out)["mp4"] == str(out)
    info = probe(out)
    assert info.has_audio and info.audio_sample_rate == 16000 and (info.width, info.height) == (32, 32)
    media = decode(out, MediaConfig(fps=6, short_side=32, sample_rate=16000))
    assert media.frames.shape == (12, 32, 32, 3)
    assert abs(len(media.audio) / 16000 - 2.0) < 0.05 and info.duration_s == pytest.approx(2.0, abs=0.05)
    source = read_audio(fixtures_dir / SOUND)
    centre = source[(len(source) - 32000) // 2:][:32000]
    # the muxed sound is the centre 2 s of the input (AAC-coded): strongly correlated
    assert np.corrcoef(media.audio[2000:30000], centre[2000:30000])[0, 1] > 0.9


def test_animate_static_and_clear_errors(fixtures_dir, tmp_path):
    out = tmp_path / "static.mp4"
    assert animate_main(["--static", "--image", str(fixtures_dir / IMAGE), "--audio", str(fixtures_dir / SOUND),
                         "--out", str(out)]) == 0
    media = decode(out, MediaConfig(fps=6, short_side=256, sample_rate=16000))
    assert media.frames.shape == (12, 256, 256, 3)
    with pytest.raises(ValueError, match="--model is required"):
        animate_main(["--image", str(fixtures_dir / IMAGE), "--audio", str(fixtures_dir / SOUND), "--out", str(out)])
    with pytest.raises(FileNotFoundError, match="no AVSyncD pipeline"):
        animate_main(["--model", str(tmp_path / "none"), "--image", str(fixtures_dir / IMAGE), "--audio",
                      str(fixtures_dir / SOUND), "--out", str(out)])


class _OracleUNet(torch.nn.Module):
    """Predicts the exact noise that separates the current latents from a known target video, so
    a correct sampling loop must end on the target (frames 2..F) whatever the step count, up to
    the last step's own noise level (SD's schedule stops at ᾱ_0 < 1: set_alpha_to_one=False)."""

    def __init__(self, target: torch.Tensor, alphas_cumprod: torch.Tensor):
        super().__init__()
        self.target, self.alphas = target, alphas_cumprod
        self.config = type("Config", (), {"audio_attention": True})()
        self.anchor = torch.nn.Parameter(torch.zeros(1))  # gives the module a device

    @property
    def device(self) -> torch.device:
        return self.anchor.device

    def forward(self, sample, timestep, text, tokens, mask):
        a = self.alphas[int(timestep)]
        eps = (sample - a.sqrt() * self.target) / (1 - a).sqrt()
        return type("Out", (), {"sample": eps})()


def test_sampling_loop_recovers_the_video_an_exact_denoiser_points_to(pipeline, fixtures_dir):
    from model.pipeline import AVSyncDPipeline as Pipe

    target = torch.randn(1, 4, 12, 4, 4, generator=torch.Generator().manual_seed(3))
    oracle = _OracleUNet(target, pipeline.scheduler.alphas_cumprod)
    exact = Pipe(pipeline.vae, pipeline.text_encoder, pipeline.tokenizer, oracle, pipeline.scheduler,
                 pipeline.audio_encoder, resolution=(32, 32))
    audio = read_audio(fixtures_dir / SOUND)
    for eta in (1.0, 4.0):  # identical conditional / unconditional predictions: guidance changes nothing
        video = exact(fixtures_dir / IMAGE, audio, "lions roaring", guidance_scale=eta, num_inference_steps=20)
        error = (video.latents[:, :, 1:] - target[:, :, 1:]).abs()
        last_noise = (1 - pipeline.scheduler.alphas_cumprod[0]).sqrt()  # ≈ 0.03
        assert error.mean() < 1.5 * last_noise and error.max() < 6 * last_noise
        assert not torch.allclose(video.latents[:, :, :1], target[:, :, :1], atol=1e-1)  # frame 1 = the image
