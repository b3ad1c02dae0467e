"""`python -m flows.avsync15` end to end: the release route on generated clips and the YouTube route
through real yt-dlp against the loopback mirror (a 404, a hostile id, a rerun that fetches nothing);
both manifests load with plain pandas and train `model.train` (tiny preset) with no --set."""

import json

import numpy as np
import pandas as pd
import pytest

from curation.media import write_mp4
from flows.avsync15 import main

pytestmark = pytest.mark.slow


def _clip(path, seconds=2.5, seed=0):
    rng = np.random.default_rng(seed)
    frames = rng.integers(0, 255, (int(seconds * 12), 64, 64, 3), dtype=np.uint8)
    audio = (0.1 * np.sin(np.linspace(0, 3000 * seconds, int(16000 * seconds)))).astype(np.float32)
    return write_mp4(path, frames, 12.0, audio)


@pytest.fixture(scope="module")
def tiny_base(tmp_path_factory):
    from model.stable_diffusion import build_tiny_stable_diffusion

    return build_tiny_stable_diffusion(tmp_path_factory.mktemp("tiny-sd") / "sd", seed=0)


def _train(manifest, base, out):
    from model.train import main as train_main

    assert train_main(["--preset", "tiny", "--manifest", str(manifest), "--pretrained", str(base),
                       "--max-steps", "2", "--threads", "1", "--out", str(out)]) == 0


def test_release_route_then_training(tmp_path, prefect_api, tiny_base, capsys):
    release = tmp_path / "AVSync15"
    for i, name in enumerate(["hammering/a", "hammering/b", "playing_violin__fiddle/c", "dog_barking/d"]):
        _clip(release / "videos" / f"{name}.mp4", seed=i)
    (release / "videos" / "dog_barking" / "broken.mp4").write_bytes(b"not a video at all" * 100)
    (release / "train.txt").write_text("hammering/a.mp4\nplaying_violin_fiddle/c.mp4\ndog_barking/broken.mp4\n")
    (release / "test.txt").write_text("hammering/b.mp4\ndog_barking/d.mp4\ndog_barking/gone.mp4\n")
    out = tmp_path / "data" / "avsync15.parquet"
    assert main(["--release", str(release), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "6 rows: 2 test, 2 train ok, 2 failed" in printed and "failed missing_file: 1" in printed
    table = pd.read_parquet(out)  # plain pandas
    assert table.groupby(["split", "status"]).size().to_dict() == {("test", "failed"): 1, ("test", "ok"): 2,
                                                                    ("train", "failed"): 1, ("train", "ok"): 2}
    assert set(table["source"]) == {"release"} and table["label"].isin(["hammering", "playing_violin_fiddle",
                                                                         "dog_barking"]).all()
    assert "failed not_a_video: 1" in (tmp_path / "data" / "avsync15.parquet.report.txt").read_text()
    _train(out, tiny_base, tmp_path / "run")
    assert (tmp_path / "run").is_dir() and any((tmp_path / "run").rglob("*.safetensors"))
    assert main(["--release", str(tmp_path / "nowhere"), "--out", str(out)]) == 2


def test_youtube_route_through_yt_dlp_against_a_loopback_mirror(tmp_path, prefect_api, mirror, tiny_base, capsys):
    base, requests = mirror  # serves hitting_metal.mp4 (6.04 s) as /clipA_1-x.mp4, /-dashStart.mp4, /clipB.mp4
    listing = tmp_path / "asva.csv"
    listing.write_text("vid,label,split,new_split,frames_count\n"
                       "clipA_1-x_000000_000010_0.0_3.0,hammering,train,train,26\n"
                       "clipA_1-x_000000_000010_3.0_6.0,hammering,test,test,26\n"
                       "-dashStart_000000_000010_0.5_3.5,dog_barking,train,train,26\n"
                       "clipB_000000_000010_1.0_4.0,playing_violin__fiddle,train,train,26\n"
                       "clipB_000000_000010_2.0_9.0,playing_violin__fiddle,test,test,58\n"
                       "gone404_000000_000010_0.0_3.0,hammering,train,train,26\n"
                       "--exec=touch pwned_000000_000010_0.0_3.0,hammering,test,test,26\n")
    out = tmp_path / "data" / "avsync15.parquet"
    args = ["--youtube", "--list", str(listing), "--url-template", base + "/{ytid}.mp4", "--out", str(out)]
    assert main(args) == 0
    table = pd.read_parquet(out).set_index("list_vid")
    assert table.loc["clipA_1-x_000000_000010_3.0_6.0", ["status", "split", "start_s", "end_s"]].tolist() == [
        "ok", "test", 3.0, 6.0]
    assert bool(table.loc["clipA_1-x_000000_000010_0.0_3.0", "shared_segment"])
    assert table.loc["clipB_000000_000010_1.0_4.0", "label"] == "playing_violin_fiddle"
    assert table.loc["clipB_000000_000010_2.0_9.0", "reason"] == "window_past_end"
    dead = table.loc["gone404_000000_000010_0.0_3.0"]
    assert dead.reason == "download_failed" and "404" in dead.detail
    assert table.loc["--exec=touch pwned_000000_000010_0.0_3.0", "reason"] == "unsafe_id"
    assert not (tmp_path / "pwned").exists() and not any("pwned" in r or "exec" in r for r in requests)
    assert not table.loc[table.status == "ok", "path"].str.startswith("/").any()  # media under data/: relative
    fetched = len(requests)
    assert fetched > 0

    assert main(args) == 0  # rerun: downloaded files and the dead link are not fetched again
    assert len(requests) == fetched
    again = pd.read_parquet(out).set_index("list_vid")
    assert again["status"].to_dict() == table["status"].to_dict()
    capsys.readouterr()
    _train(out, tiny_base, tmp_path / "run")
    assert any((tmp_path / "run").rglob("*.safetensors"))
