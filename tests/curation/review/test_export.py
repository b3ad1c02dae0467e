"""The review's export: a reproducible stratified split by source video, short classes reported
(not padded), written with the AVSync15 writer and readable with plain pandas."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from curation.manifest import read_clip_rows
from curation.review.candidates import Candidate, load_candidates
from curation.review.decisions import DecisionLog
from curation.review.export import split_class

REPO_ROOT = Path(__file__).resolve().parents[3]


def clips(n_videos: int, per_video: int = 1, review_class: str = "hammering") -> list[Candidate]:
    return [Candidate(key=f"v{v}__{c}", review_class=review_class, label="hammering nails", video_id=f"v{v}",
                      clip_index=c, path=f"/videos/v{v}.mp4", start_s=3.0 * c, end_s=3.0 * c + 3.0, split=None,
                      scene_index=0, n_windows=1) for v in range(n_videos) for c in range(per_video)]


def test_split_is_reproducible_and_exact_at_the_target():
    accepted = clips(130)
    splits, counts = split_class(accepted, "hammering", 90, 10, seed=0)
    assert (counts.train, counts.test, counts.left_out) == (90, 10, 30)
    assert split_class(accepted, "hammering", 90, 10, seed=0)[0] == splits
    assert split_class(list(reversed(accepted)), "hammering", 90, 10, seed=0)[0] == splits  # order-free
    other_seed = split_class(accepted, "hammering", 90, 10, seed=1)[0]
    assert {k for k, s in other_seed.items() if s == "test"} != {k for k, s in splits.items() if s == "test"}
    # The class name seeds its own draw: another class with the same clips splits differently.
    renamed = split_class(accepted, "dog_barking", 90, 10, seed=0)[0]
    assert {k for k, s in renamed.items() if s == "test"} != {k for k, s in splits.items() if s == "test"}


def test_clips_of_one_video_stay_in_one_split():
    splits, counts = split_class(clips(50, per_video=2), "hammering", 90, 10, seed=3)
    assert (counts.train, counts.test) == (90, 10)
    for video in range(50):
        assert splits[f"v{video}__0"] == splits[f"v{video}__1"]


def test_a_short_class_keeps_the_test_share_and_is_not_padded():
    splits, counts = split_class(clips(37), "hammering", 90, 10, seed=0)
    assert (counts.accepted, counts.train, counts.test, counts.left_out) == (37, 33, 4, 0)
    assert split_class(clips(2), "hammering", 90, 10, seed=0)[1].test == 1
    assert split_class(clips(1), "hammering", 90, 10, seed=0)[1].train == 1


@pytest.mark.slow
def test_export_of_a_reviewed_run_reads_with_plain_pandas(run_copy, tmp_path):
    run, classes = run_copy
    candidates = load_candidates(run, classes)
    log = DecisionLog(run / "review" / "decisions.jsonl")
    hammering = [c for c in candidates if c.review_class == "hammering"]
    dog = [c for c in candidates if c.review_class == "dog_barking"]
    for clip in hammering:
        log.record(clip.key, "accept", "ana", None)
    log.record(dog[0].key, "accept", "ana", None)
    log.record(dog[1].key, "reject", "ana", None)
    log.record(dog[0].key, "accept", "ben", None)  # a later decision on the same clip wins
    out = tmp_path / "data" / "avsync15.parquet"
    args = [sys.executable, "-m", "curation.review", "--run", str(run), "--classes", str(classes), "--export", str(out),
            "--train-per-class", "4", "--test-per-class", "1", "--seed", "0"]
    done = subprocess.run(args, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "SHORT" in done.stdout and "playing_cello" in done.stdout and "below the target" in done.stderr

    table = pd.read_parquet(out)
    assert set(table["source"]) == {"review"} and set(table["split"]) <= {"train", "test"}
    assert table.groupby("label").size().to_dict() == {"hammering": 5, "dog_barking": 1}
    assert (table.loc[table.label == "hammering", "split"].value_counts().to_dict() == {"train": 4, "test": 1})
    assert set(table["video_id"]) <= {c.video_id for c in hammering + dog}
    assert (table["end_s"] - table["start_s"] == table["duration_s"]).all()
    assert table.loc[table.label == "dog_barking", "reviewer"].tolist() == ["ben"]
    assert table["prompt"].str.len().gt(0).all()
    # The trainers' reader (model.train, sync_classifier.train) takes it as it is: 2 s windows, labels.
    train_rows = read_clip_rows(out, split="train", min_duration_s=2.0, need_label=True)
    assert len(train_rows) == int((table.split == "train").sum()) and {r.label for r in train_rows} <= {"hammering",
                                                                                                      "dog_barking"}
    # The same decisions and seed give the same file content.
    again = tmp_path / "again.parquet"
    subprocess.run(args[:-7] + [str(again)] + args[-6:], cwd=REPO_ROOT, check=True, capture_output=True, timeout=120)
    pd.testing.assert_frame_equal(pd.read_parquet(again), table)


def test_export_with_nothing_accepted_says_what_to_do(run_copy, tmp_path):
    run, classes = run_copy
    done = subprocess.run([sys.executable, "-m", "curation.review", "--run", str(run), "--classes", str(classes),
                           "--export", str(tmp_path / "out.parquet")], cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 2 and "no accepted clip" in done.stderr and not (tmp_path / "out.parquet").exists()


@pytest.mark.slow
def test_export_trains_model_train_with_no_overrides(run_copy, tmp_path):
    """The review route's manifest is what `python -m model.train --manifest data/avsync15.parquet` reads."""
    from model.stable_diffusion import build_tiny_stable_diffusion
    from model.train import main as train_main

    run, classes = run_copy
    log = DecisionLog(run / "review" / "decisions.jsonl")
    for clip in load_candidates(run, classes):
        log.record(clip.key, "accept", "ana", None)
    out = tmp_path / "avsync15.parquet"
    subprocess.run([sys.executable, "-m", "curation.review", "--run", str(run), "--classes", str(classes), "--export",
                    str(out), "--train-per-class", "4", "--test-per-class", "1"], cwd=REPO_ROOT, check=True,
                   capture_output=True, timeout=120)
    base = build_tiny_stable_diffusion(tmp_path / "sd", seed=0)
    assert train_main(["--preset", "tiny", "--manifest", str(out), "--pretrained", str(base), "--max-steps", "2",
                       "--threads", "1", "--out", str(tmp_path / "run")]) == 0
    assert (tmp_path / "run" / "final").is_dir()
