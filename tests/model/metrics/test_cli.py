"""`python -m model.metrics fid|fvd` on folders of lossless video files: the numbers equal the
library's on the same clips (decoded by curation.media), JSON says the protocol, errors are clear."""

import json
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest
from safetensors.torch import load_file

from model.metrics.__main__ import main
from model.metrics.clips import read_clips
from model.metrics.fid import fid_from_clip_features

REPO = Path(__file__).resolve().parents[3]


def write_lossless_mp4(path: Path, frames: np.ndarray, fps: int = 6) -> None:
    """(T, H, W, 3) uint8 → an RGB H.264 file with qp 0 (decodes back bit-exactly)."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264rgb", rate=fps, options={"qp": "0", "preset": "ultrafast"})
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "rgb24"
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())


@pytest.fixture(scope="module")
def clip_folders(tmp_path_factory, reference_videos):
    root = tmp_path_factory.mktemp("clips")
    for name, clips in zip(("real", "generated"), reference_videos):
        (root / name).mkdir()
        for i, clip in enumerate(clips):
            write_lossless_mp4(root / name / f"clip{i}.mp4", clip)
    return root / "real", root / "generated"


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "model.metrics", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=300)


def test_folders_decode_to_the_stored_clips(clip_folders, reference_videos):
    np.testing.assert_array_equal(read_clips(clip_folders[0], 12), reference_videos[0])


def test_asva_release_fvd_from_the_command_line(clip_folders, i3d_path, reference_results):
    result = run_cli("fvd", "--real", str(clip_folders[0]), "--generated", str(clip_folders[1]),
                     "--weights", str(i3d_path))
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["fvd"] == pytest.approx(reference_results["FVD_standin_i3d"], rel=1e-3)
    assert out["protocol"] == "asva" and out["frames_per_clip"] == 12 and out["num_real_clips"] == 8


def test_asva_release_fid_from_the_command_line_equals_the_reference_features(tmp_path, reference_videos,
                                                                            reference_eval_dir, inception_path, capsys):
    real, generated = (clips[:2] for clips in reference_videos)  # 2 + 2 clips keep Inception's work small
    for name, clips in (("real", real), ("generated", generated)):
        (tmp_path / name).mkdir()
        for i, clip in enumerate(clips):
            write_lossless_mp4(tmp_path / name / f"{i}.mp4", clip)
    assert main(["fid", "--real", str(tmp_path / "real"), "--generated", str(tmp_path / "generated"),
                 "--weights", str(inception_path)]) == 0
    out = json.loads(capsys.readouterr().out)
    ref = load_file(reference_eval_dir / "fid_features_evalmode.safetensors")
    expected = fid_from_clip_features(ref["real"][:2].numpy(), ref["generated"][:2].numpy())
    assert out["fid"] == pytest.approx(expected, rel=1e-3)
    assert (out["protocol"], out["bn_mode"], out["frames_used"]) == ("asva", "eval", "2..12")


def test_missing_weights_fail_before_decoding_and_name_the_file(tmp_path):
    result = run_cli("fid", "--real", str(tmp_path / "nothing"), "--generated", str(tmp_path / "nothing"),
                     "--weights", str(tmp_path / "pt_inception-2015-12-05-6726825d.pth"))
    assert result.returncode == 1 and result.stdout == ""
    assert "pt_inception-2015-12-05-6726825d.pth" in result.stderr and "pytorch-fid/releases" in result.stderr


def test_standard_fvd_on_12_frame_clips_is_refused(clip_folders, i3d_path, capsys):
    assert main(["fvd", "--real", str(clip_folders[0]), "--generated", str(clip_folders[1]), "--weights",
                 str(i3d_path), "--protocol", "standard"]) == 1
    assert "at least 16 frames" in capsys.readouterr().err


def test_authors_train_mode_is_for_the_asva_fid_only(clip_folders, i3d_path, capsys):
    assert main(["fvd", "--real", str(clip_folders[0]), "--generated", str(clip_folders[1]), "--weights",
                 str(i3d_path), "--bn-mode", "authors-train"]) == 2
    assert "asva FID only" in capsys.readouterr().err


def test_an_empty_folder_is_a_clear_error(tmp_path, i3d_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["fvd", "--real", str(tmp_path / "empty"), "--generated", str(tmp_path / "empty"),
                 "--weights", str(i3d_path)]) == 1
    assert "no video files" in capsys.readouterr().err
