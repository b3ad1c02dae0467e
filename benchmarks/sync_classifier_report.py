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
    "Machine: 2 CPU cores (AMD EPYC), no GPU, shared with other engineers' jobs during these runs (load average "
    "5-7), so wall times carry their load. Under such load two torch threads per process stall each other "
    "(OpenMP barriers with a preempted thread): a training step of the tiny preset took 7-13 s with 2 threads "
    "and 0.8-4.4 s (median 1.3 s) with 1 thread, against 0.5 s with 2 threads on the idle machine. The runs below use 1 thread. "
    "A first accuracy run with 2 threads under that load got through only 483 steps in its 20-minute wall "
    "budget and reached 60.5 % (A→V) / 64.5 % (V→A)."
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
