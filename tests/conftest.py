"""Shared fixtures: the real media shipped in tests/fixtures (origins in its README) and a
real HTTP file server on 127.0.0.1 (with byte ranges, as mirrors and ffmpeg expect)."""

import http.server
import os
import re
import shutil
import threading
import time
from pathlib import Path

import pytest

# Never let a test reach for a model hub or Prefect Cloud.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
# prefect_test_harness starts a server; on 2 busy shared cores its default 20 s start-up budget is too short.
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    return FIXTURES


@pytest.fixture(scope="session")
def media_dir() -> Path:
    return FIXTURES / "media"


class _RangeHandler(http.server.SimpleHTTPRequestHandler):
    """Static files with `Range: bytes=a-b` support; /status/NNN answers NNN; /stall/ hangs."""

    requests: list[str]

    def log_message(self, *args):  # keep test output clean
        pass

    def do_GET(self):
        self.requests.append(self.path)
        status = re.fullmatch(r"/status/(\d{3})/.*", self.path)
        if status:
            self.send_error(int(status.group(1)))
            return
        if self.path.startswith("/stall/"):
            time.sleep(30)
            self.send_error(504)
            return
        path = Path(self.translate_path(self.path))
        if not path.is_file():
            self.send_error(404)
            return
        data = path.read_bytes()
        match = re.fullmatch(r"bytes=(\d*)-(\d*)", self.headers.get("Range", ""))
        if match and (match.group(1) or match.group(2)):
            start = int(match.group(1) or 0)
            end = min(int(match.group(2)) if match.group(2) else len(data) - 1, len(data) - 1)
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{end}/{len(data)}")
            body = data[start : end + 1]
        else:
            self.send_response(200)
            body = data
        self.send_header("Content-Type", "video/mp4")
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass


@pytest.fixture
def mirror(tmp_path, media_dir):
    """A loopback mirror serving hitting_metal.mp4 as /<ytid>.mp4 for a few ids."""
    root = tmp_path / "mirror"
    root.mkdir()
    for ytid in ("clipA_1-x", "-dashStart", "clipB"):
        shutil.copy(media_dir / "hitting_metal.mp4", root / f"{ytid}.mp4")
    requests: list[str] = []
    handler = type("Handler", (_RangeHandler,), {"requests": requests})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), lambda *a: handler(*a, directory=str(root)))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", requests
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


CHROMIUM = "/usr/bin/chromium"  # Debian's package; Playwright's own browser download does not work here


@pytest.fixture(scope="module")
def chromium_browser():
    """Headless Chromium driven by Playwright (sync API), shared by the browser tests of a module.
    Module scope, not session: while Playwright's sync API is open it keeps an event loop running in
    the main thread, and later tests that call `asyncio.run` (Prefect clients) would fail."""
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"{CHROMIUM} not found: install Debian's chromium package (make test does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--autoplay-policy=no-user-gesture-required"])
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def one_video_folder(tmp_path, media_dir) -> Path:
    """A local source folder `videos/hits/metal.mp4` holding one real clip."""
    root = tmp_path / "videos"
    (root / "hits").mkdir(parents=True)
    shutil.copy(media_dir / "hitting_metal.mp4", root / "hits" / "metal.mp4")
    return root
