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
    "The machine is shared with other engineers' jobs, so wall times carry their load."
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
