"""`threads_for_this_machine`: as many torch threads as this process's cores that others leave idle
now, measured with real processes that keep cores busy."""

import os
import subprocess
import sys

import pytest

from sync_classifier.train import threads_for_this_machine

SPIN = "import time\nend = time.time() + 30\nwhile time.time() < end: pass\n"


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2, reason="needs 2 cores")
def test_cores_kept_busy_by_other_processes_get_no_thread():
    mine = sorted(os.sched_getaffinity(0))[:2]
    before = os.sched_getaffinity(0)
    spinners = [subprocess.Popen([sys.executable, "-c", SPIN]) for _ in mine]
    try:
        for spinner, core in zip(spinners, mine):
            os.sched_setaffinity(spinner.pid, {core})
        os.sched_setaffinity(0, set(mine))
        threads, why = threads_for_this_machine(sample_s=1.0)
        assert threads == 1, why  # both of its cores are busy: one thread, never zero
        assert "2 cores" in why and "busy" in why
        spinners[1].kill()
        spinners[1].wait()
        os.sched_setaffinity(0, {mine[1]})  # now only the core nobody spins on
        threads, why = threads_for_this_machine(sample_s=1.0)
        assert threads == 1 and why.startswith("1 cores, 0.")  # sampled now: the killed spinner does not count
    finally:
        os.sched_setaffinity(0, before)
        for spinner in spinners:
            spinner.kill()
            spinner.wait()
