"""`make demo` (flows/demo.py + model/demo.py): the toy chain at smoke size, and its pieces."""

import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from curation.config import MediaConfig
from curation.media import decode, probe
from model import demo
from model.demo import QUICK, authors_model_folder, side_by_side_frames, write_toy_sync_clips


def test_toy_sync_clips_have_train_and_test_splits_and_late_sound_copies(tmp_path):
    sizes = replace(QUICK, sync_train_clips=1, sync_test_clips=1)
    manifest = write_toy_sync_clips(tmp_path, sizes, seed=3)
    rows = pd.read_parquet(manifest)
    assert list(rows.split) == ["train", "test"] and list(rows.end_s) == [sizes.sync_train_s, sizes.sync_test_s]
    test = rows.iloc[1]
    media = MediaConfig(fps=25, short_side=32)
    original = decode(tmp_path / test.path, media)
    late = decode(tmp_path / "out_of_sync" / test.label / f"{test.video_id}.mp4", media)
    np.testing.assert_array_equal(original.frames.shape, late.frames.shape)

    def first_onset(audio):
        return int(np.argmax(np.abs(audio) > 0.5 * np.abs(audio).max()))

    delay = (first_onset(late.audio) - first_onset(original.audio)) / original.sample_rate
    assert delay == pytest.approx(demo.OUT_OF_SYNC_S, abs=0.03)


def test_side_by_side_lights_the_sound_bar_on_onset_frames():
    rng = np.random.default_rng(0)
    clips = [rng.integers(0, 255, (12, 32, 32, 3), dtype=np.uint8) for _ in range(3)]
    frames = side_by_side_frames(*clips, sound_frames=[2, 7], scale=4, gap=4)
    assert frames.shape == (12, 16 + 128 + 8, 3 * 128 + 2 * 4, 3) and frames.dtype == np.uint8
    bar = frames[:, -8:].reshape(12, -1).mean(axis=1)
    assert set(np.flatnonzero(bar > 100)) == {2, 7}
    np.testing.assert_array_equal(frames[5, 16:16 + 128, 128 + 4:2 * 128 + 4], clips[1][5].repeat(4, 0).repeat(4, 1))


def test_a_named_authors_model_that_is_missing_fails_at_once(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match="Use the authors' models"):
        authors_model_folder(tmp_path / "nowhere")
    monkeypatch.setenv(demo.AUTHORS_MODEL_ENV, str(tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError, match="nowhere"):
        authors_model_folder()
    monkeypatch.delenv(demo.AUTHORS_MODEL_ENV)
    monkeypatch.setattr(demo, "AUTHORS_MODEL_DEFAULT", tmp_path / "not-converted")
    assert authors_model_folder() is None
    skipped = demo.authors_lion_example(tmp_path)
    assert skipped["lion_mp4"] is None and "Use the authors' models" in skipped["lion_skipped"]


@pytest.mark.slow
def test_quick_demo_writes_the_summary_and_the_side_by_side_video(tmp_path, monkeypatch):
    """The whole chain at smoke size (plain library calls; the Prefect path is the same steps)."""
    from flows.demo import main

    monkeypatch.setattr(demo, "AUTHORS_MODEL_DEFAULT", tmp_path / "not-converted")
    monkeypatch.delenv(demo.AUTHORS_MODEL_ENV, raising=False)
    out = tmp_path / "demo"
    assert main(["--out", str(out), "--quick", "--without-prefect"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    for key in ("sync_accuracy_a2v", "sync_accuracy_v2a", "event_f1_with_audio", "event_f1_without_audio"):
        assert 0.0 <= summary[key] <= 1.0, key
    assert summary["sync_held_out_videos"] == QUICK.sync_test_clips
    assert set(summary["seconds"]) == set(summary["cpu_seconds"]) == {"demo data", "sync classifier", "curation", "AVSyncD on the toy base",
                                       "animation and event F1", "authors' lion example"}
    assert all(s >= 0 for s in summary["seconds"].values())
    # AVSyncD trains in a second process alongside the sync classifier and curation; the rest run one after another
    sequential = sum(v for k, v in summary["seconds"].items() if k != "AVSyncD on the toy base")
    assert summary["total_seconds"] >= sequential - 1 and 0 < summary["seconds"]["AVSyncD on the toy base"] < summary["total_seconds"]
    assert summary["cpu_seconds"]["AVSyncD on the toy base"] > 0  # measured in its own process
    assert summary["sync_reached_target"] is False and "below target" in summary["sync_warning"]  # 3 steps cannot
    assert summary["lion_mp4"] is None and summary["lion_skipped"]
    toy = summary["curation_toy_psync"]
    assert toy["psync_min"] > 0 and toy["videos"] == 2 * QUICK.sync_test_clips
    for name in ("toy_lamp_in_sync", "toy_lamp_out_of_sync"):
        passed, windows = toy[f"windows_passed_{name}"]
        assert 0 <= passed <= windows
    mp4 = out / "side_by_side.mp4"
    assert summary["side_by_side_mp4"] == str(mp4.resolve()) and probe(mp4).has_audio
    video = decode(mp4, MediaConfig(fps=6, short_side=152, require_audio=True))
    frames = QUICK.side_by_side_clips * 12
    assert video.frames.shape[0] == frames and abs(video.duration_s - frames / 6) < 0.2
    assert abs(video.audio).max() > 0.05  # the held-out sounds are muxed in


def test_demo_assets_live_in_data_examples_with_their_origins():
    """The demo works from any copy of the project: its assets are under data/examples, not tests/."""
    import flows.demo

    for path in (demo.DEMO_IMAGE, demo.DEMO_SOUND, *(flows.demo.REAL_CLIPS / name for name, _ in flows.demo.DEMO_REAL)):
        assert path.is_file() and "tests" not in path.relative_to(demo.REPO).parts
        assert path.name in (demo.EXAMPLES / "README.md").read_text()
    assert probe(demo.DEMO_SOUND.parent / "hitting_metal.mp4").has_audio


def test_the_second_process_returns_its_value_raises_its_error_and_can_be_stopped():
    import math
    import time

    from flows.demo import SecondProcess

    assert SecondProcess(math.sqrt, 16.0).result() == 4.0
    with pytest.raises(RuntimeError, match="math domain error"):  # the child's traceback
        SecondProcess(math.sqrt, -1.0).result()
    sleeper = SecondProcess(time.sleep, 120)
    started = time.perf_counter()
    sleeper.stop()
    assert not sleeper.process.is_alive() and sleeper.process.exitcode is not None
    assert time.perf_counter() - started < 30
    with pytest.raises(RuntimeError, match="ended without a result"):
        sleeper.result()


def test_a_failing_stage_ends_the_avsyncd_process_at_once(tmp_path, monkeypatch):
    """The sync classifier fails while AVSyncD trains in the second process: the demo raises the
    error and the second process is gone, instead of training on for minutes."""
    import time

    import flows.demo
    from flows.demo import SecondProcess

    started: list[SecondProcess] = []

    def long_training(*args):
        started.append(SecondProcess(time.sleep, 300))  # stands in for minutes of AVSyncD training
        return started[-1]

    def failing_sync_classifier(*args):
        raise RuntimeError("sync classifier failed")

    monkeypatch.setattr(flows.demo, "start_avsyncd_training", long_training)
    monkeypatch.setattr(flows.demo, "train_sync_model", failing_sync_classifier)
    monkeypatch.setattr(demo, "AUTHORS_MODEL_DEFAULT", tmp_path / "not-converted")
    monkeypatch.delenv(demo.AUTHORS_MODEL_ENV, raising=False)
    with pytest.raises(RuntimeError, match="sync classifier failed"):
        flows.demo.main(["--out", str(tmp_path / "demo"), "--quick", "--without-prefect"])
    assert len(started) == 1 and not started[0].process.is_alive()
