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
