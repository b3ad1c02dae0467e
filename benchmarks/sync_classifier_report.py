"""Writes the "## Sync classifier (issue 3)" section of BENCHMARKS.md from the sync classifier
benchmarks' result files (benchmarks/results/sync_classifier_*.md). Touches only that section.

    python -m benchmarks.sync_classifier_report
"""

from __future__ import annotations

import re

from benchmarks.common import REPO, RESULTS

SECTION = "## Sync classifier (issue 3)"
PARTS = ["sync_classifier_accuracy", "sync_classifier_psync", "sync_classifier_eval_speed"]
INTRO = (
    "Benchmarks of `sync_classifier/` (scripts `benchmarks/sync_classifier_*.py`; each writes its part to "
    "`benchmarks/results/<script>.md`, and `python -m benchmarks.sync_classifier_report` rebuilds this section). "
    "Machine: 2 CPU cores (AMD EPYC), no GPU, shared with other engineers' jobs. The accuracy run below had the "
    "machine to itself (load average 1.4: a few short test runs beside it) and used 2 threads with "
    "`OMP_WAIT_POLICY=PASSIVE`. Under heavy load (average 5-7) two torch threads per process stall each other "
    "(OpenMP barriers with a preempted thread): a step of the tiny preset then took 7-13 s with 2 threads and "
    "0.8-4.4 s with 1 thread, against 0.55 s idle; an earlier accuracy run under that load, 1 thread, needed "
    "40 min wall (19.8 min CPU) for 1393 steps and reached 97.0 % / 96.5 %. The PSync and speed runs used 1 thread."
)


def update_section(path=REPO / "BENCHMARKS.md") -> str:
    parts = [(RESULTS / f"{name}.md").read_text().strip() for name in PARTS if (RESULTS / f"{name}.md").is_file()]
    body = "\n\n".join([SECTION, INTRO, *parts]) + "\n"
    text = path.read_text() if path.is_file() else "# Benchmarks\n\n"
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: body + "\n", text, count=1).rstrip("\n") + "\n"
    else:
        text = text.rstrip("\n") + "\n\n" + body
    path.write_text(text)
    return body


if __name__ == "__main__":
    print(update_section())
