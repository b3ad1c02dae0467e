"""The command lines on real files: train → evaluate → RelSync/AlignSync."""

import json
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

from curation.media import write_mp4
from curation.sources.synthetic import random_scenes, render_clip
from sync_classifier import evaluate, sync_metrics

REPO = Path(__file__).resolve().parents[2]


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], cwd=REPO, capture_output=True, text=True, timeout=300)


def _write_wav(path: Path, audio: np.ndarray, rate: int) -> Path:
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(rate)
        handle.writeframes((np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes())
    return path


@pytest.fixture(scope="module")
def generated_clip(tmp_path_factory):
    """A 2 s, 12-frame '6 fps generated video' and its audio as a 44.1 kHz wav."""
    folder = tmp_path_factory.mktemp("gen")
    frames, audio, _ = render_clip(random_scenes(np.random.default_rng(2), duration_s=2.0), fps=6.0,
                                   size=(128, 96), sample_rate=44100, seed=2)
    return write_mp4(folder / "generated.mp4", frames, 6.0, audio, 44100), _write_wav(folder / "audio.wav", audio, 44100)


def test_train_then_evaluate_from_the_command_line(tmp_path):
    out = tmp_path / "run"
    result = _run("sync_classifier.train", "--preset", "tiny", "--synthetic", "--max-steps", "2", "--batch-size", "1",
                  "--threads", "1", "--out", str(out), "--set", "data.num_clips=5", "--set", "train.eval_videos=2",
                  "--set", "model.image_size=32")
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout[result.stdout.index("{"):])
    assert summary["steps"] == 2 and Path(summary["final_model"]).is_dir()
    assert (out / "config.yaml").is_file()
    assert evaluate.main(["--checkpoint", summary["final_model"], "--synthetic", "2", "--json", str(tmp_path / "e.json")]) == 0
    accuracy = json.loads((tmp_path / "e.json").read_text())
    assert accuracy["videos"] == 2 and 0 <= accuracy["a2v"] <= 1 and 0 <= accuracy["v2a"] <= 1


def test_relsync_cli_on_real_files(micro_checkpoint, media_dir, generated_clip):
    video, audio = generated_clip
    reference = media_dir / "hitting_metal.mp4"
    result = _run("sync_classifier.sync_metrics", "--checkpoint", str(micro_checkpoint), "--video", str(video),
                  "--reference", str(reference), "--audio", str(audio))
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout)
    assert 0 < report["relsync"] < 1 and report["alignsync"] is None
    e_gen, e_ref = np.exp(report["score_generated"]), np.exp(report["score_reference"])
    assert report["relsync"] == pytest.approx(e_gen / (e_gen + e_ref), rel=1e-5)
    # The reference against itself, with its own audio track: exactly "as synchronized as the ground truth".
    same = _run("sync_classifier.sync_metrics", "--checkpoint", str(micro_checkpoint), "--video", str(reference),
                "--reference", str(reference))
    assert json.loads(same.stdout)["relsync"] == pytest.approx(0.5)


class BrightnessScorer:
    def image_audio_scores(self, images, audio, sample_rate):
        return images.reshape(len(images), -1).mean(1) / 255.0 - 0.5


def test_alignsync_cli_with_a_stand_in_scorer(micro_checkpoint, media_dir, generated_clip, capsys):
    video, audio = generated_clip
    code = sync_metrics.main(["--checkpoint", str(micro_checkpoint), "--video", str(video),
                              "--reference", str(media_dir / "hitting_metal.mp4"), "--audio", str(audio)],
                             scorer=BrightnessScorer())
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert 0 < report["align_probability"] < 1
    assert report["alignsync"] == pytest.approx(report["relsync"] * report["align_probability"])


def test_cli_reports_unreadable_inputs(micro_checkpoint, tmp_path, generated_clip):
    bad = tmp_path / "bad.mp4"
    bad.write_text("not a video")
    result = _run("sync_classifier.sync_metrics", "--checkpoint", str(micro_checkpoint), "--video", str(bad),
                  "--reference", str(generated_clip[0]))
    assert result.returncode == 2 and "not_a_video" in result.stderr
