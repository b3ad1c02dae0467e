"""The decision log: durable replay, optimistic versions, torn lines, concurrent writers."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

import pytest

from curation.review.decisions import DecisionConflict, DecisionLog


def test_decisions_replay_from_disk_in_order(tmp_path):
    path = tmp_path / "review" / "decisions.jsonl"
    log = DecisionLog(path)
    first = log.record("a__0", "accept", "ana", base_version=0)
    second = log.record("a__0", "reject", "ben", base_version=1)
    log.record("b__1", "skip", "ana", base_version=0)
    assert (first.version, second.version) == (1, 2)
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [(r["clip"], r["decision"], r["reviewer"]) for r in lines] == [
        ("a__0", "accept", "ana"), ("a__0", "reject", "ben"), ("b__1", "skip", "ana")]
    assert all(r["time"].endswith("+00:00") for r in lines)

    reopened = DecisionLog(path)
    latest = reopened.latest()
    assert latest["a__0"].decision == "reject" and latest["a__0"].version == 2 and latest["a__0"].reviewer == "ben"
    assert latest["b__1"].decision == "skip"
    assert [r.seq for r in reopened.records_after(1)] == [2, 3]


def test_a_stale_version_is_refused_and_nothing_is_written(tmp_path):
    path = tmp_path / "decisions.jsonl"
    tab_one, tab_two = DecisionLog(path), DecisionLog(path)  # two writers on one file
    tab_one.record("a__0", "accept", "ana", base_version=0)
    with pytest.raises(DecisionConflict) as conflict:
        tab_two.record("a__0", "reject", "ben", base_version=0)
    assert conflict.value.current.decision == "accept" and conflict.value.current.version == 1
    assert len(path.read_text().splitlines()) == 1
    # Seeing the current version, the second writer may override (last write wins, versioned).
    assert tab_two.record("a__0", "reject", "ben", base_version=1).version == 2
    assert tab_one.latest()["a__0"].decision == "reject"  # the first writer catches up from disk
    assert tab_one.record("a__0", "undecided", "ana", base_version=None).version == 3


def test_bad_decisions_are_refused(tmp_path):
    log = DecisionLog(tmp_path / "decisions.jsonl")
    with pytest.raises(ValueError, match="decision must be one of"):
        log.record("a__0", "maybe", "ana", 0)
    with pytest.raises(ValueError, match="reviewer"):
        log.record("a__0", "accept", "  ", 0)
    assert not (tmp_path / "decisions.jsonl").exists()


def test_a_torn_last_line_is_skipped_and_fenced_off(tmp_path):
    path = tmp_path / "decisions.jsonl"
    log = DecisionLog(path)
    log.record("a__0", "accept", "ana", 0)
    with open(path, "ab") as handle:  # a writer killed in the middle of its line
        handle.write(b'{"clip": "b__0", "decis')
    reopened = DecisionLog(path)
    assert reopened.torn_lines == 1 and set(reopened.latest()) == {"a__0"}
    reopened.record("c__0", "reject", "ana", 0)
    again = DecisionLog(path)
    assert {k: r.decision for k, r in again.latest().items()} == {"a__0": "accept", "c__0": "reject"}
    assert again.torn_lines == 1
    assert path.read_text().splitlines()[-1].startswith('{"clip": "c__0"')


_WRITER = """
import sys, time
from curation.review.decisions import DecisionLog
path, writer, count, start_at = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
log = DecisionLog(path)
time.sleep(max(0.0, start_at - time.time()))  # all writers start together
for i in range(count):
    log.record(f"clip{i % 7}__0", ("accept", "reject", "skip")[i % 3], f"writer{writer}", base_version=None)
"""


def test_concurrent_processes_never_corrupt_the_log(tmp_path):
    path = tmp_path / "decisions.jsonl"
    start_at = str(time.time() + 3)
    workers = [subprocess.Popen([sys.executable, "-c", _WRITER, str(path), str(w), "40", start_at]) for w in range(3)]
    assert [worker.wait(60) for worker in workers] == [0, 0, 0]
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(records) == 120
    # Versions of each clip are exactly 1..n: every writer saw every earlier record.
    for clip in {r["clip"] for r in records}:
        assert [r["version"] for r in records if r["clip"] == clip] == list(range(1, 1 + sum(
            r["clip"] == clip for r in records)))
    assert DecisionLog(path).torn_lines == 0


def test_racing_writers_on_one_version_exactly_one_wins(tmp_path):
    path = tmp_path / "decisions.jsonl"
    logs = [DecisionLog(path) for _ in range(8)]
    start = threading.Barrier(len(logs))
    outcomes: list[str] = []

    def decide(log: DecisionLog, name: str) -> None:
        start.wait()
        try:
            log.record("a__0", "accept", name, base_version=0)
            outcomes.append("won")
        except DecisionConflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=decide, args=(log, f"tab{i}")) for i, log in enumerate(logs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["conflict"] * 7 + ["won"]
    assert len(path.read_text().splitlines()) == 1
