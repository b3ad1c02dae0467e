"""Regression (issue 14, defect 8): `model.animate` checks its arguments before any model loads:
one line, exit code 2, nothing written."""

import numpy as np
import pytest
from PIL import Image

from model.animate import main


@pytest.fixture
def inputs(tmp_path, fixtures_dir):
    image = tmp_path / "first.png"
    Image.fromarray(np.full((32, 32, 3), 120, np.uint8)).save(image)
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    (tmp_path / "noise.wav").write_bytes(b"RIFF....WAVEfmt garbage")
    (tmp_path / "model").mkdir()
    return {"tmp": tmp_path, "image": image, "audio": fixtures_dir / "audio" / "FwVYUHKoLtQ_000034.wav"}


@pytest.mark.parametrize("change, message", [
    ({"--image": "{tmp}/broken.png"}, "--image {tmp}/broken.png: not a readable image"),
    ({"--image": "{tmp}/missing.png"}, "--image {tmp}/missing.png: not a readable image"),
    ({"--audio": "{tmp}/noise.wav"}, "--audio {tmp}/noise.wav:"),
    ({"--out": "{tmp}"}, "--out {tmp}: not a writable file path"),
    ({"--steps": "0"}, "--steps must be at least 1 (got 0)"),
    ({"--guidance": "nan"}, "--guidance must be a finite number (got nan)"),
])
def test_bad_arguments_exit_2_with_one_line(inputs, capsys, change, message):
    args = {"--image": str(inputs["image"]), "--audio": str(inputs["audio"]), "--out": "{tmp}/out.mp4",
            "--model": "{tmp}/model"} | change
    argv = [part.format(**inputs) for key, value in args.items() for part in (key, value)]
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert message.format(**inputs) in err[-1]
    assert not (inputs["tmp"] / "out.mp4").exists()


def test_static_reads_only_the_models_clip_format(inputs, monkeypatch):
    """`--static --model` takes frames / fps / height × width from model_index.json: a folder without
    any weights is enough, and no pipeline is loaded."""
    import json

    from curation.media import MediaConfig, decode
    from model.pipeline import AVSyncDPipeline

    monkeypatch.setattr(AVSyncDPipeline, "from_pretrained", lambda *a, **k: pytest.fail("a model was loaded"))
    model = inputs["tmp"] / "model"
    (model / "model_index.json").write_text(json.dumps({"_class_name": "AVSyncDPipeline", "num_frames": 6, "fps": 3.0,
                                                        "resolution": [32, 48]}))
    out = inputs["tmp"] / "out.mp4"
    assert main(["--static", "--model", str(model), "--image", str(inputs["image"]), "--audio", str(inputs["audio"]),
                 "--out", str(out)]) == 0
    media = decode(out, MediaConfig(fps=3, short_side=32, sample_rate=16000))
    assert media.frames.shape == (6, 32, 48, 3)
    assert len(media.audio) / 16000 == pytest.approx(2.0, abs=0.05)


@pytest.mark.parametrize("bad", ["image", "audio"])
def test_image_and_audio_are_checked_before_the_model_and_the_audio_read_once(inputs, monkeypatch, capsys, bad):
    import model.animate as animate_module
    from model.pipeline import AVSyncDPipeline

    loaded, reads = [], []
    monkeypatch.setattr(AVSyncDPipeline, "from_pretrained", lambda *a, **k: loaded.append(a) or pytest.fail("loaded"))
    real_read = animate_module.read_audio
    monkeypatch.setattr(animate_module, "read_audio", lambda *a, **k: reads.append(a) or real_read(*a, **k))
    paths = {"image": str(inputs["image"]), "audio": str(inputs["audio"])}
    paths[bad] = str(inputs["tmp"] / ("broken.png" if bad == "image" else "noise.wav"))
    with pytest.raises(SystemExit) as exit_:
        main(["--model", str(inputs["tmp"] / "model"), "--image", paths["image"], "--audio", paths["audio"],
              "--out", str(inputs["tmp"] / "out.mp4")])
    assert exit_.value.code == 2 and f"--{bad} " in capsys.readouterr().err.splitlines()[-1]
    assert loaded == [] and len(reads) == (0 if bad == "image" else 1)
