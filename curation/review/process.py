"""Run the review page in a child process (`python -m curation.review`) and learn its URL — for
callers that must keep working while a reviewer decides: an orchestrator waiting on the review,
tests, benchmarks."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

_URL_LINE = re.compile(r"Review page: (http://127\.0\.0\.1:\d+/)")


class ReviewProcess:
    """`python -m curation.review --run RUN --port 0 ...` as a child; `url` is set once it listens."""

    def __init__(self, run: str | Path, *args: str, cwd: str | Path | None = None):
        self.args = [sys.executable, "-m", "curation.review", "--run", str(run), "--port", "0", *args]
        self.cwd = cwd
        self.process: subprocess.Popen | None = None
        self.url = ""

    def start(self, timeout_s: float = 60.0) -> "ReviewProcess":
        """Start the server and wait for its "Review page: URL" line; RuntimeError with its output
        if it exits or stays silent for `timeout_s`."""
        self.process = subprocess.Popen(self.args, cwd=self.cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        text=True)
        deadline = time.monotonic() + timeout_s
        lines = []
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                break
            lines.append(line)
            match = _URL_LINE.search(line)
            if match:
                self.url = match.group(1)
                return self
        self.stop()
        raise RuntimeError("the review server did not start:\n" + "".join(lines))

    def stop(self) -> None:
        """Terminate the server (SIGTERM: uvicorn shuts down cleanly), killing it after 15 s."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process is not None and self.process.stdout is not None:
            self.process.stdout.close()
        self.process = None

    def __enter__(self) -> "ReviewProcess":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


__all__ = ["ReviewProcess"]
