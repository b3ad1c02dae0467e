"""Issue 15 part 4: the ledger on an object store (a real S3 API on loopback), and a ledger order
that comes from commit stamps, not file modification times."""

import json
import os
import secrets
import signal
import subprocess
import sys
import textwrap

import pandas as pd
import pyarrow.parquet as pq
import pytest

from curation import manifest, pipeline, store
from curation.config import CurationConfig
from curation.sources.collect import collect_items
from tests.s3_support import BUCKET, loopback_s3, s3_keys

MANIFESTS = ("videos.parquet", "windows.parquet", "clips.parquet", "avsync_ac.parquet")
CONFIG = CurationConfig(batch_size=1)


@pytest.fixture(scope="module")
def s3():
    with loopback_s3() as endpoint:
        yield endpoint


@pytest.fixture
def s3_out(s3):
    return f"s3://{BUCKET}/run-{secrets.token_hex(4)}"


@pytest.fixture
def local_reference(tmp_path, video_folder):
    """The manifests and summary of an uninterrupted run into a local folder."""
    out = tmp_path / "local"
    pipeline.run_curation(collect_items(videos=str(video_folder)), out, CONFIG)
    return {name: pd.read_parquet(out / name) for name in MANIFESTS}, json.loads((out / "summary.json").read_text())


def _assert_same_manifests(url, reference):
    tables, summary = reference
    for name, frame in tables.items():
        pd.testing.assert_frame_equal(pd.read_parquet(store.join(url, name)), frame)
    assert json.loads(store.read_bytes(*store.resolve(store.join(url, "summary.json")))) == summary


def test_curation_on_s3_gives_the_manifests_of_a_local_run(s3_out, video_folder, local_reference):
    items = collect_items(videos=str(video_folder))
    summary = pipeline.run_curation(items, s3_out, CONFIG)
    assert summary["videos"] == 3 and summary["videos_ok"] == 2 and summary["clips"] >= 2
    _assert_same_manifests(s3_out, local_reference)
    keys = s3_keys(s3_out)
    ledger = [key for key in keys if key.startswith("ledger/")]
    assert len(ledger) == 2 and ledger[0].startswith("ledger/compacted-")  # 3 batches compacted by finalize
    assert not [key for key in keys if key.endswith(".tmp")]  # no temporary objects: one PUT per file
    assert pipeline.pending_items(items, s3_out) == []  # the resume state reads back from S3


KILLED_RUN = textwrap.dedent("""
    import os, signal, sys
    from curation import manifest, pipeline
    from curation.config import CurationConfig
    from curation.sources.collect import collect_items

    write, markers = manifest._write_table, []

    def write_or_die(fs, path, table):
        if path.name.endswith(".videos.parquet"):
            markers.append(path)
            if len(markers) == 2:  # batch 2's windows are on S3; its commit marker never will be
                os.kill(os.getpid(), signal.SIGKILL)
        write(fs, path, table)

    manifest._write_table = write_or_die
    pipeline.run_curation(collect_items(videos=sys.argv[1]), sys.argv[2], CurationConfig(batch_size=1))
""")


def test_a_run_killed_between_windows_and_marker_reruns_to_identical_manifests(s3_out, video_folder, local_reference):
    result = subprocess.run([sys.executable, "-c", KILLED_RUN, str(video_folder), s3_out], cwd=os.getcwd(),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == -signal.SIGKILL, result.stderr
    keys = s3_keys(s3_out)
    assert len([k for k in keys if k.endswith(".videos.parquet")]) == 1  # batch 1 committed
    assert len([k for k in keys if k.endswith(".windows.parquet")]) == 2  # batch 2's windows without marker
    assert "videos.parquet" not in keys  # never finalized
    videos, _ = manifest.read_ledger(s3_out)
    assert len(videos) == 1  # the uncommitted windows are not in the ledger
    items = collect_items(videos=str(video_folder))
    assert len(pipeline.pending_items(items, s3_out)) == 2
    pipeline.run_curation(items, s3_out, CONFIG)
    _assert_same_manifests(s3_out, local_reference)
    assert [k for k in s3_keys(s3_out) if k.startswith("ledger/")][0].startswith("ledger/compacted-")


def _row(video_id, status):
    retryable = status != "ok"
    return {"video_id": video_id, "label": "l", "status": status, "retryable": retryable,
            "reason": "download_failed" if retryable else None}


def test_ledger_order_follows_the_commit_stamp_not_file_times(tmp_path):
    manifest.write_batch(tmp_path, "b-first", [_row("a", "failed"), _row("b", "ok")], [])
    manifest.write_batch(tmp_path, "c-middle", [_row("a", "failed"), _row("c", "ok")], [])
    manifest.write_batch(tmp_path, "a-last", [_row("a", "ok")], [])  # also first by name
    ledger = manifest.ledger_dir(tmp_path)
    # File times that lie (the reverse of the commit order), as a copy or a restore can leave them.
    for when, key in enumerate(("a-last", "c-middle", "b-first"), start=1):
        os.utime(ledger / f"{key}.videos.parquet", (when * 1e9, when * 1e9))
    assert [p.name for p in manifest._committed_batches(tmp_path)] == [
        "b-first.videos.parquet", "c-middle.videos.parquet", "a-last.videos.parquet"]
    assert manifest.read_ledger(tmp_path)[0].set_index("video_id").status.to_dict() == {"a": "ok", "b": "ok", "c": "ok"}
    assert manifest.done_video_ids(tmp_path) == {"a", "b", "c"}
    # Compacting the first and the last batch: the compacted one takes the last one's place in the
    # order, so on video a it still wins over the middle batch.
    assert manifest.compact_batches(tmp_path, ["b-first", "a-last"]) == 2
    order = [p.name for p in manifest._committed_batches(tmp_path)]
    assert order[0] == "c-middle.videos.parquet" and order[1].startswith("compacted-") and len(order) == 2
    assert manifest.read_ledger(tmp_path)[0].set_index("video_id").status.to_dict() == {"a": "ok", "b": "ok", "c": "ok"}


def test_a_ledger_written_before_stamps_keeps_its_file_time_order(tmp_path):
    ledger = manifest.ledger_dir(tmp_path)
    ledger.mkdir()
    for key, row, when in (("old", _row("a", "failed"), 1.0e9), ("new", _row("a", "ok"), 1.5e9)):
        pq.write_table(manifest.windows_table([]), ledger / f"{key}.windows.parquet")
        pq.write_table(manifest.videos_table([row]), ledger / f"{key}.videos.parquet")  # no stamp
        os.utime(ledger / f"{key}.videos.parquet", (when, when))
    assert manifest.read_ledger(tmp_path)[0].status.tolist() == ["ok"]
    manifest.write_batch(tmp_path, "stamped", [_row("a", "failed")], [])  # committed now: newest
    assert manifest.read_ledger(tmp_path)[0].status.tolist() == ["failed"]
