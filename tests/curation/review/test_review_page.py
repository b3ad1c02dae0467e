"""The review page driven in headless Chromium against `python -m curation.review` subprocesses:
playback of the clip's window with sound, decisions by click and by key, reload, server restart,
two concurrent clients, finish with its hook."""

from __future__ import annotations

import http.server
import json
import threading

import pandas as pd
import pytest

pytestmark = pytest.mark.slow


def card(page, key: str):
    return page.locator(f'article.card[data-key="{key}"]')


def open_page(browser, url: str):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(url)
    page.wait_for_selector("body[data-ready='1']")
    page.errors = errors
    return page


def shown_decisions(page) -> dict[str, tuple[str, int]]:
    return page.evaluate("""() => Object.fromEntries([...document.querySelectorAll('article.card')]
        .map(c => [c.dataset.key, [c.dataset.decision, Number(c.dataset.version)]]))""")


def wait_saved(page, key: str, decision: str) -> None:
    page.wait_for_selector(f'article.card[data-key="{key}"][data-decision="{decision}"]:not([data-saving])')


def test_review_plays_clips_and_keeps_decisions(run_copy, review_server, chromium_browser):
    run, classes = run_copy
    candidates = pd.read_parquet(run / "avsync_ac.parquet")
    listed = candidates[candidates.label != "ball_bouncing"]
    server = review_server(run, classes)
    page = open_page(chromium_browser, server.url)
    keys = page.evaluate("() => [...document.querySelectorAll('article.card')].map(c => c.dataset.key)")
    assert len(keys) == len(listed)
    assert page.locator("section h2").all_inner_texts()[0].startswith("hammering")
    assert page.locator('#progress [data-class="playing_cello"] .candidates').inner_text() == "0"

    # Play the selected clip with the keyboard: it advances, has sound, and lasts the window only.
    clip = page.evaluate("k => fetch('/api/state').then(r => r.json()).then(s => s.clips.find(c => c.key === k))",
                         keys[0])
    page.keyboard.press(" ")
    page.wait_for_function("""() => { const v = document.querySelector('article.card.current video');
        return v.currentTime > 0.5 && v.readyState >= 2 && v.webkitAudioDecodedByteCount > 0; }""", timeout=30000)
    duration = page.evaluate("() => document.querySelector('article.card.current video').duration")
    assert duration == pytest.approx(clip["duration_s"], abs=0.15)

    # Accept by click, then reject / skip / accept / undo by key.
    card(page, keys[1]).get_by_role("button", name="Accept (A)").click()
    wait_saved(page, keys[1], "accept")
    card(page, keys[2]).locator(".meta").click()
    for key, press, decision in [(keys[2], "r", "reject"), (keys[3], "s", "skip"), (keys[4], "a", "accept")]:
        page.keyboard.press(press)
        wait_saved(page, key, decision)
    page.keyboard.press("k")  # back to keys[4]
    page.keyboard.press("u")
    page.wait_for_selector(f'article.card[data-key="{keys[4]}"][data-version="2"][data-decision="undecided"]')
    expected = {keys[1]: ("accept", 1), keys[2]: ("reject", 1), keys[3]: ("skip", 1), keys[4]: ("undecided", 2)}
    hammering = page.locator('#progress [data-class="hammering"]')
    assert hammering.locator(".accepted").inner_text() == "1 / 100" and hammering.locator(".skip").inner_text() == "1"

    def assert_kept(page) -> None:
        shown = shown_decisions(page)
        for key in keys:
            assert tuple(shown[key]) == expected.get(key, ("undecided", 0)), key

    page.reload()
    page.wait_for_selector("body[data-ready='1']")
    assert_kept(page)
    # Filters: only the accepted ones; the choice survives a reload (it is in the URL).
    page.select_option("#filter-status", "accept")
    assert shown_decisions(page).keys() == {keys[1]}
    page.reload()
    page.wait_for_selector("body[data-ready='1']")
    assert shown_decisions(page).keys() == {keys[1]} and "status=accept" in page.url
    page.select_option("#filter-status", "undecided")
    page.select_option("#filter-class", "dog_barking")
    shown = shown_decisions(page)
    assert shown and all(key.startswith("dog_barking") for key in shown)

    # A restarted server replays the log.
    server.stop()
    restarted = review_server(run, classes)
    page.goto(restarted.url)
    page.wait_for_selector("body[data-ready='1']")
    assert_kept(page)
    records = [json.loads(line) for line in (run / "review" / "decisions.jsonl").read_text().splitlines()]
    assert len(records) == 5 and {r["reviewer"] for r in records} == {"tester"}
    assert not page.errors
    page.context.close()


def test_two_clients_cannot_corrupt_decisions(run_copy, review_server, chromium_browser):
    run, classes = run_copy
    server = review_server(run, classes)
    tab_a, tab_b = open_page(chromium_browser, server.url), open_page(chromium_browser, server.url)
    # Tab B's change feed is held back while A decides, so B surely acts on a stale view (on a loaded
    # machine its 2 s poll could otherwise pick A's decision up first).
    tab_b.route("**/api/changes*", lambda route: route.abort())
    first = tab_a.evaluate("() => document.querySelector('article.card').dataset.key")
    tab_a.keyboard.press("a")
    wait_saved(tab_a, first, "accept")
    # Tab B still shows the clip undecided; its reject is refused and it shows what A decided.
    assert card(tab_b, first).get_attribute("data-version") == "0"
    tab_b.keyboard.press("r")
    tab_b.wait_for_selector(f'article.card[data-key="{first}"] .status.conflict')
    assert card(tab_b, first).get_attribute("data-decision") == "accept"
    tab_b.unroute("**/api/changes*")
    # Deciding again, knowingly, overrides; tab A picks the change up by polling.
    tab_b.keyboard.press("k")
    tab_b.keyboard.press("r")
    wait_saved(tab_b, first, "reject")
    tab_a.wait_for_selector(f'article.card[data-key="{first}"][data-decision="reject"][data-version="2"]',
                            timeout=10000)

    # Both clients fire a decision on every clip at the same moment (last write wins, versioned).
    burst = """decision => { window.burst = Promise.all([...document.querySelectorAll('article.card')].map(c =>
        fetch('/api/decisions', {method: 'POST', headers: {'Content-Type': 'application/json'},
          body: JSON.stringify({clip: c.dataset.key, decision, base_version: null, reviewer: decision})})
        .then(r => r.status))); }"""
    tab_a.evaluate(burst, "accept")
    tab_b.evaluate(burst, "skip")
    statuses = tab_a.evaluate("() => window.burst") + tab_b.evaluate("() => window.burst")
    n_clips = len(shown_decisions(tab_a))
    assert statuses == [200] * (2 * n_clips)
    records = [json.loads(line) for line in (run / "review" / "decisions.jsonl").read_text().splitlines()]
    assert len(records) == 2 + 2 * n_clips
    for clip in {r["clip"] for r in records}:
        versions = [r["version"] for r in records if r["clip"] == clip]
        assert versions == list(range(1, len(versions) + 1))
    tab_a.reload()
    tab_a.wait_for_selector("body[data-ready='1']")
    latest = {r["clip"]: r["decision"] for r in records}
    assert {k: v[0] for k, v in shown_decisions(tab_a).items()} == latest
    tab_a.context.close()
    tab_b.context.close()


@pytest.fixture
def hook_endpoint():
    """A loopback HTTP endpoint that records the JSON bodies POSTed to it."""
    received: list[dict] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/resume", received
    server.shutdown()
    server.server_close()


def test_finish_marks_the_review_and_calls_the_hook(run_copy, review_server, chromium_browser, hook_endpoint):
    run, classes = run_copy
    url, received = hook_endpoint
    server = review_server(run, classes, "--on-finish-url", url)
    page = open_page(chromium_browser, server.url)
    first = page.evaluate("() => document.querySelector('article.card').dataset.key")
    page.keyboard.press("a")
    wait_saved(page, first, "accept")
    page.get_by_role("button", name="Finish review…").click()
    page.get_by_role("button", name="Yes, finished").click()
    page.wait_for_selector("body[data-finished='1']")
    assert "hook called" in page.locator("#message").inner_text()
    marker = json.loads((run / "review" / "finished.json").read_text())
    assert received == [marker]
    assert next(row for row in marker["progress"] if row["class"] == "hammering")["accept"] == 1
    page.context.close()
