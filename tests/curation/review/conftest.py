"""A real curation run over generated clips (H.264 + AAC mp4s with sound), shared by the review tests,
and a review server started as a subprocess, as a user starts it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from curation.config import CurationConfig
from curation.pipeline import run_curation
from curation.review.process import ReviewProcess
from curation.sources.local import scan_video_folder
from curation.sources.demo_set import make_demo_set

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


@pytest.fixture
def review_server():
    servers: list[ReviewProcess] = []

    def start(run: Path, classes: Path, *extra: str) -> ReviewProcess:
        servers.append(ReviewProcess(run, "--classes", str(classes), "--reviewer", "tester", *extra, cwd=REPO).start())
        return servers[-1]

    yield start
    for server in servers:
        server.stop()
