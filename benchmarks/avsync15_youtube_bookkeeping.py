"""Bookkeeping cost of `flows.avsync15 --youtube` on the full 1,500-row AVSync15 list.

A loopback HTTP mirror (127.0.0.1) serves one real 10 s VGGSound clip for every segment id and a
404 for every 50th segment. The media folder is filled beforehand with hard links of that clip
for the segments the mirror serves (standing in for finished downloads: transfer is left out on
purpose), so run 1 starts yt-dlp only for the dead links (real yt-dlp, real 404s); its time inside
the downloader is measured and subtracted. Run 2 is a rerun: everything finished (on disk, or dead
in the previous manifest) must be skipped without a single request to the mirror.

    .venv/bin/python benchmarks/avsync15_youtube_bookkeeping.py [--dead-every 50]
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
import re
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
CLIP = REPO / "tests" / "fixtures" / "media" / "M1pPtg6a_g8_000230.mp4"  # 10.0 s, H.264 + AAC


def serve(clip: bytes, dead: set[str], log: list[str]) -> http.server.ThreadingHTTPServer:
    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_HEAD(self):
            self._serve(False)

        def do_GET(self):
            self._serve(True)

        def _serve(self, body: bool):
            log.append(self.path)
            ytid = self.path.lstrip("/").removesuffix(".mp4")
            if ytid in dead:
                self.send_error(404)
                return
            data, match = clip, re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range", ""))
            if match:
                start, end = int(match[1]), min(int(match[2] or len(clip) - 1), len(clip) - 1)
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{end}/{len(clip)}")
                data = clip[start:end + 1]
            else:
                self.send_response(200)
            self.send_header("Content-Type", "video/mp4")
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if body:
                try:
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dead-every", type=int, default=50, help="every Nth segment answers 404")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="avsync15-bench-"))
    os.environ["PREFECT_HOME"] = str(work / "prefect")  # a throwaway Prefect database
    from prefect.testing.utilities import prefect_test_harness

    import flows.avsync15 as route
    from curation import avsync15
    from curation.sources.download import target_path

    timers = {"download_s": 0.0, "manifest_s": 0.0}
    real_download = route.download_items

    def timed_download(items, dest, config, workers=1):
        start = time.perf_counter()
        try:
            return real_download(items, dest, config, workers=workers)
        finally:
            timers["download_s"] += time.perf_counter() - start

    route.download_items = timed_download
    real_manifest = avsync15.youtube_manifest

    def timed_manifest(*a, **k):  # rows from the list + probing every downloaded file
        start = time.perf_counter()
        try:
            return real_manifest(*a, **k)
        finally:
            timers["manifest_s"] += time.perf_counter() - start

    avsync15.youtube_manifest = timed_manifest
    items = avsync15.youtube_items(avsync15.ASVA_LIST)
    dead = {item.ytid for index, item in enumerate(items) if index % args.dead_every == args.dead_every - 1}
    media, out = work / "data" / "avsync15_media", work / "data" / "avsync15.parquet"
    start = time.perf_counter()
    for item in items:  # finished downloads, standing in for the transfer
        if item.ytid not in dead:
            path = target_path(media, item)
            path.parent.mkdir(parents=True, exist_ok=True)
            os.link(CLIP, path)
    placed_s = time.perf_counter() - start
    requests: list[str] = []
    httpd = serve(CLIP.read_bytes(), dead, requests)
    template = f"http://127.0.0.1:{httpd.server_address[1]}/{{ytid}}.mp4"
    results = {}
    with prefect_test_harness(server_startup_timeout=120):
        for run in (1, 2):
            requests.clear()
            timers["download_s"] = timers["manifest_s"] = 0.0
            start = time.perf_counter()
            report = route.build_avsync15(out=str(out), youtube=True, url_template=template, workers=args.workers)
            wall = time.perf_counter() - start
            results[run] = {"wall_s": round(wall, 2), "in_downloader_s": round(timers["download_s"], 2),
                            "bookkeeping_s": round(wall - timers["download_s"], 2),
                            "of_which_rows_and_probing_s": round(timers["manifest_s"], 2), "requests": len(requests),
                            "ok_rows": sum(report.ok.values()), "failed": report.failed}
    httpd.shutdown()
    httpd.server_close()
    summary = {"segments": len(items), "rows": report.rows, "dead_segments": len(dead),
               "placed_links_s": round(placed_s, 2), "runs": results}
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
