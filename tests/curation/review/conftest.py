"""A real curation run over generated clips (H.264 + AAC mp4s with sound), shared by the review tests,
and a review server started as a subprocess, as a user starts it."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from curation.config import CurationConfig
from curation.pipeline import run_curation
from curation.sources.local import scan_video_folder
from curation.sources.synthetic import make_demo_set

REPO = Path(__file__).resolve().parents[3]

# Folder labels in VGGSound wording: two map onto AVSync15's `hammering`, one class is not listed.
RUN_CLASSES = {
    "hammering nails": ("strike", "click", "square"),
    "forging swords": ("strike", "noise", "disc"),
    "dog barking": ("bounce", "noise", "disc"),
    "ball_bouncing": ("bounce", "click", "disc"),
}
CLASS_LIST = "hammering nails\thammering\nforging swords\thammering\ndog barking\tdog_barking\nplaying cello\n"


@pytest.fixture(scope="session")
def curated_run(tmp_path_factory) -> Path:
    """A finished curation run (default filters, every class kept by AVSync-AC balancing) + its class list."""
    root = tmp_path_factory.mktemp("review-run")
    make_demo_set(root / "videos", seed=3, videos_per_class=3, size=(160, 120), classes=RUN_CLASSES)
    config = CurationConfig(min_clips_per_class=1)
    run_curation(scan_video_folder(root / "videos"), root / "run", config)
    (root / "classes.txt").write_text(CLASS_LIST)
    return root


@pytest.fixture
def run_copy(curated_run, tmp_path) -> tuple[Path, Path]:
    """(run folder, class list) — a fresh copy, so each test starts with no decision."""
    run = tmp_path / "run"
    shutil.copytree(curated_run / "run", run)
    return run, curated_run / "classes.txt"


class ReviewServer:
    """`python -m curation.review` in a subprocess on a free port of 127.0.0.1."""

    def __init__(self, run: Path, classes: Path, *extra: str):
        self.args = [sys.executable, "-m", "curation.review", "--run", str(run), "--classes", str(classes),
                     "--port", "0", "--reviewer", "tester", *extra]
        self.process: subprocess.Popen | None = None
        self.url = ""

    def start(self) -> "ReviewServer":
        self.process = subprocess.Popen(self.args, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        text=True)
        deadline = time.monotonic() + 60
        lines = []
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                break
            lines.append(line)
            match = re.search(r"Review page: (http://127\.0\.0\.1:\d+/)", line)
            if match:
                self.url = match.group(1)
                return self
        self.stop()
        raise RuntimeError("review server did not start:\n" + "".join(lines))

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


@pytest.fixture
def review_server():
    servers: list[ReviewServer] = []

    def start(run: Path, classes: Path, *extra: str) -> ReviewServer:
        servers.append(ReviewServer(run, classes, *extra).start())
        return servers[-1]

    yield start
    for server in servers:
        server.stop()
