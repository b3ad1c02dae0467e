"""Shared fixtures: paths to the real media shipped in tests/fixtures (origins in its README)."""

import os
from pathlib import Path

import pytest

# Never let a test reach for a model hub or Prefect Cloud.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    return FIXTURES


@pytest.fixture(scope="session")
def media_dir() -> Path:
    return FIXTURES / "media"
