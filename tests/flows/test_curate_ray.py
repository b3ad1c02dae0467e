"""Issue 15: the curate-vggsound flow on Ray (prefect-ray) gives the thread runner's manifests, and the
bounded submission window never holds more than `max_in_flight` unfinished batch tasks.

One local Ray (2 worker slots, bound to 127.0.0.1) per test that needs it, shut down at the end."""

import os
import shutil
import threading

import pandas as pd
import pytest

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no usage report from a test cluster

MANIFESTS = ("videos.parquet", "windows.parquet", "clips.parquet", "avsync_ac.parquet")


@pytest.fixture
def folder(tmp_path, media_dir):
    """Three videos in two classes: two decode, one is not a video."""
    root = tmp_path / "videos"
    for label, name, source in (("hits", "metal", "hitting_metal.mp4"), ("movie", "rotated", "issue-134-rotate.mp4")):
        (root / label).mkdir(parents=True, exist_ok=True)
        shutil.copy(media_dir / source, root / label / f"{name}.mp4")
    (root / "movie" / "broken.mp4").write_bytes(b"\x00" * 1000)
    return root


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("min_clips_per_class: 1\nbatch_size: 1\n")
    return str(path)


@pytest.fixture
def ray_teardown():
    import ray

    yield
    if ray.is_initialized():
        ray.shutdown()


def _manifests(out):
    return {name: pd.read_parquet(out / name) for name in MANIFESTS}


def _same_manifests(got, want):
    for name in MANIFESTS:
        pd.testing.assert_frame_equal(got[name], want[name], obj=name)


@pytest.mark.slow
def test_ray_runner_gives_the_thread_runners_manifests(prefect_api, folder, config, tmp_path, ray_teardown):
    import ray

    from flows.curate import curate_vggsound, ray_task_runner

    threads = curate_vggsound(videos=str(folder), out=str(tmp_path / "threads"), config=config)
    on_ray = curate_vggsound.with_options(task_runner=ray_task_runner(num_cpus=2))
    summary = on_ray(videos=str(folder), out=str(tmp_path / "ray"), config=config, max_in_flight=2, ray_cpus=1,
                     compact_every=2)  # compacts the ledger during the run too
    assert not ray.is_initialized()  # the run started its own Ray and stopped it
    assert summary == threads and summary["videos"] == 3 and summary["videos_ok"] == 2 and summary["clips"] > 0
    _same_manifests(_manifests(tmp_path / "ray"), _manifests(tmp_path / "threads"))


class _FakeFuture:
    """Finishes when the test says so (a stand-in for a Prefect future in the window's bookkeeping)."""

    def __init__(self, index, log):
        self.index, self.log, self.callbacks = index, log, []

    def add_done_callback(self, fn):
        self.callbacks.append(fn)

    def finish(self):
        self.log.append(("done", self.index))
        for fn in self.callbacks:
            fn(self)


def test_the_submission_window_bounds_unfinished_tasks():
    from flows.curate import completed_in_window

    log, live = [], []

    def submit(index, batch):
        log.append(("submit", index))
        future = _FakeFuture(index, log)
        live.append(future)
        # Finish in a thread, out of order: the oldest unfinished one last.
        if len(live) == 3:
            threading.Timer(0.01, lambda futures=list(live): [f.finish() for f in reversed(futures)]).start()
            live.clear()
        return future

    finished = [f.index for f in completed_in_window(submit, ([i] for i in range(9)), max_in_flight=3)]
    assert sorted(finished) == list(range(9))
    in_flight = peak = 0
    for event, _ in log:
        in_flight += 1 if event == "submit" else -1
        peak = max(peak, in_flight)
    assert peak == 3 and in_flight == 0
