"""ImageBind's image-audio scores (IA) for AlignSync: the scorer and the sync-metrics CLI option."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from curation.config import MediaConfig
from curation.media import decode
from model.encoders.image_audio import ImageBindIAScorer
from model.encoders.imagebind import load_imagebind
from model.encoders.imagebind_audio import audio_clips
from model.encoders.images import clip_pixels
from sync_classifier.config import load_config
from sync_classifier.model import SyncClassifier
from sync_classifier.sync_metrics import ImageAudioScorer

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def metal(media_dir):
    media = decode(media_dir / "hitting_metal.mp4", MediaConfig(fps=2, short_side=64))
    return media.frames[:5], media.audio


def test_scores_are_imagebinds_raw_cosines(tiny_checkpoint, metal):
    frames, audio = metal
    scorer = ImageBindIAScorer(tiny_checkpoint, "tiny")
    assert isinstance(scorer, ImageAudioScorer)
    scores = scorer.image_audio_scores(frames, audio, 16000)
    model = load_imagebind(tiny_checkpoint, "tiny")
    with torch.no_grad():
        sound = model.embed("audio", audio_clips(audio).unsqueeze(0))[0]
        pictures = model.embed("vision", clip_pixels(frames, model.config.image_size))
    np.testing.assert_allclose(scores, (pictures @ sound).numpy(), rtol=1e-5, atol=1e-6)
    assert scores.shape == (5,) and np.all(np.abs(scores) <= 1.0) and np.ptp(scores) > 0
    # Another sample rate is resampled to ImageBind's 16 kHz first, not refused.
    at_8k = scorer.image_audio_scores(frames, audio[::2], 8000)
    assert at_8k.shape == (5,) and np.isfinite(at_8k).all()


def test_alignsync_cli_with_imagebind(tmp_path, tiny_checkpoint, media_dir, fixtures_dir):
    torch.manual_seed(0)
    sync = load_config("tiny").model.model_copy(update=dict(audio_widths=(4, 8, 8, 16), video_widths=(4, 8, 8, 16),
                                                             head_width=16, image_size=32))
    checkpoint = SyncClassifier(sync).eval().save_pretrained(tmp_path / "sync")
    reference = media_dir / "hitting_metal.mp4"

    def run(*extra):
        return subprocess.run([sys.executable, "-m", "sync_classifier.sync_metrics", "--checkpoint", str(checkpoint),
                               "--video", str(reference), "--reference", str(reference), *extra],
                              cwd=REPO, capture_output=True, text=True, timeout=300)

    result = run("--imagebind", str(tiny_checkpoint), "--imagebind-preset", "tiny")
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout)
    assert report["relsync"] == pytest.approx(0.5)  # the reference against itself
    assert 0 < report["align_probability"] < 1
    assert report["alignsync"] == pytest.approx(report["relsync"] * report["align_probability"])
    missing = run("--imagebind", str(tmp_path / "imagebind_huge.pth"))
    assert missing.returncode == 2 and "imagebind_huge.pth" in missing.stderr
