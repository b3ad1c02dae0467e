"""Shared machinery of the neural metrics: shared frames, cross-video batches, prefetching, the
device guard; and the whole curation pipeline with the neural config on real files."""

import contextlib
import shutil
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from curation import pipeline
from curation.config import load_config
from curation.filters import apply_filters
from curation.metrics.neural_scoring import (device_guard, frame_batches, holding_device, plan_frames, prefetch,
                                             resolve_device, resolve_dtype)
from curation.sources import SourceItem


def test_overlapping_windows_share_their_frames(metal):
    plan = plan_frames(metal)  # 7 windows of 24 frames, 0.5 s (4 frames) apart, 48 frames in all
    assert plan.frames.tolist() == list(range(48))
    assert [len(p) for p in plan.windows] == [24] * 7 and plan.frames[plan.windows[2]].tolist() == list(range(8, 32))
    thinned = plan_frames(metal, sample_fps=2)  # every 4th frame of the video's own grid
    assert thinned.frames.tolist() == list(range(0, 48, 4))
    assert [thinned.frames[p].tolist() for p in thinned.windows][1] == [4, 8, 12, 16, 20, 24]


def test_batches_span_videos_in_order(metal, rotated):
    videos = [metal, rotated]
    plans = [plan_frames(v) for v in videos]
    batches = list(frame_batches(videos, plans, batch_size=20, size=224))
    sizes = [len(crops) for _, crops in batches]
    assert sum(sizes) == 48 + len(plans[1].frames) and all(s == 20 for s in sizes[:-1])
    parts, crops = batches[2]  # frames 40..47 of the first video, then 0..11 of the second
    assert [(v, p.tolist()) for v, p in parts] == [(0, list(range(40, 48))), (1, list(range(12)))]
    assert crops.shape == (20, 224, 224, 3)
    np.testing.assert_array_equal(crops[0].numpy(), metal.media.frames[40, :, 87:311])  # centre crop of 398
    np.testing.assert_array_equal(crops[8].numpy(), rotated.media.frames[0, 152:376, :])  # of 528


def test_prefetch_keeps_order_and_raises_producer_errors():
    assert list(prefetch(iter(range(10)), depth=2)) == list(range(10))

    def failing():
        yield 1
        raise KeyError("boom")

    got = []
    with pytest.raises(KeyError, match="boom"):
        for item in prefetch(failing()):
            got.append(item)
    assert got == [1]
    consumer = prefetch(iter(range(1000)), depth=1)
    assert next(consumer) == 0
    consumer.close()  # an abandoned consumer does not leave the producer blocked
    assert not any(t.name == "neural-prefetch" and t.is_alive() for t in threading.enumerate())


def test_device_guard_is_scoped_to_its_context():
    entered = []

    @contextlib.contextmanager
    def slot():
        entered.append(threading.current_thread().name)
        yield

    seen_elsewhere = []
    with device_guard(slot):
        with holding_device():
            pass
        other = threading.Thread(target=lambda: seen_elsewhere.append(type(holding_device()).__name__))
        other.start()
        other.join()
    with holding_device():
        pass
    assert entered == [threading.current_thread().name]
    assert seen_elsewhere == ["nullcontext"]  # another task thread holds its own guard, or none


def test_device_and_dtype_choice():
    import torch

    assert resolve_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_dtype("auto", "cpu") == torch.float32 and resolve_dtype("auto", "cuda") == torch.float16
    with pytest.raises(ValueError):
        resolve_dtype("int8", "cpu")


@pytest.mark.slow
def test_curation_with_the_neural_config_writes_scored_and_filtered_windows(tmp_path, media_dir,
                                                                            imagebind_options, clip_options):
    """decode → scenes → windows → CPU + neural metrics → ledger → filters → manifests."""
    config = load_config(Path(__file__).resolve().parents[3] / "configs" / "curation_neural.yaml")
    options = dict(config.metric_options)
    options["imagebind_alignment"] = {**options["imagebind_alignment"], **imagebind_options}
    options["clip_semantics"] = {**options["clip_semantics"], **clip_options}
    config = config.model_copy(update={"metric_options": options, "min_clips_per_class": 1})
    videos = tmp_path / "videos"
    for label, name in (("hitting", "hitting_metal.mp4"), ("movie", "issue-134-rotate.mp4")):
        (videos / label).mkdir(parents=True)
        shutil.copy(media_dir / name, videos / label / name)
    items = [SourceItem(video_id=p.stem, label=p.parent.name, path=str(p)) for p in sorted(videos.rglob("*.mp4"))]
    summary = pipeline.run_curation(items, tmp_path / "out", config)
    windows = pd.read_parquet(tmp_path / "out" / "windows.parquet")
    assert summary["videos_ok"] == 2 and len(windows) == summary["windows"] > 0
    neural = ["clip_diff_mean", "clip_diff_max", "clip_diff_span", "imagebind_ia", "imagebind_it"]
    assert windows[neural].notna().all().all()
    # quantile filters record their reasons; re-applying them to the manifest gives the same verdicts
    refiltered, bounds = apply_filters(windows.drop(columns=["passed", "reasons"]), config.filters)
    assert refiltered["passed"].tolist() == windows["passed"].tolist()
    assert {b.reason for b in bounds} >= {"no_semantic_change", "audio_not_matching_image", "label_not_matching_image"}
    reasons = ";".join(windows["reasons"])
    assert "audio_not_matching_image" in reasons and "label_not_matching_image" in reasons
