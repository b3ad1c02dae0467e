"""The review API over a real curation run (FastAPI's test client; the browser tests drive the page)."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from curation.review.app import create_app
from curation.review.session import ReviewSession


@pytest.fixture
def session(run_copy):
    run, classes = run_copy
    calls: list[dict] = []
    review = ReviewSession(run, classes, reviewer="tester", on_finish=calls.append)
    review.hook_calls = calls
    yield review
    review.close()


def test_decisions_conflicts_and_bad_requests(session):
    client = TestClient(create_app(session))
    state = client.get("/api/state").json()
    key = state["clips"][0]["key"]
    assert state["clips"][0]["decision"] == "undecided" and state["clips"][0]["version"] == 0
    saved = client.post("/api/decisions", json={"clip": key, "decision": "accept", "base_version": 0})
    assert saved.status_code == 200 and saved.json()["record"]["reviewer"] == "tester"
    hammering = next(row for row in saved.json()["progress"] if row["class"] == "hammering")
    assert hammering["accept"] == 1 and hammering["missing"] == 99
    stale = client.post("/api/decisions", json={"clip": key, "decision": "reject", "base_version": 0, "reviewer": "ben"})
    assert stale.status_code == 409 and stale.json()["current"]["decision"] == "accept"
    assert client.post("/api/decisions", json={"clip": "nope__0", "decision": "accept"}).status_code == 404
    assert client.post("/api/decisions", json={"clip": key, "decision": "maybe"}).status_code == 422
    changes = client.get("/api/changes", params={"after": 0}).json()
    assert changes["seq"] == 1 and [r["clip"] for r in changes["records"]] == [key]
    assert client.get("/api/changes", params={"after": 1}).json()["records"] == []


def test_clips_are_served_with_byte_ranges(session):
    client = TestClient(create_app(session))
    key = session.candidates[0].key
    whole = client.get(f"/clips/{key}.mp4")
    assert whole.status_code == 200 and whole.headers["content-type"] == "video/mp4"
    part = client.get(f"/clips/{key}.mp4", headers={"Range": "bytes=0-99"})
    assert part.status_code == 206 and part.content == whole.content[:100]
    assert client.get("/clips/..%2F..%2Fetc%2Fpasswd.mp4").status_code == 404


def test_finish_writes_the_marker_and_calls_the_hook(session):
    client = TestClient(create_app(session))
    result = client.post("/api/finish", json={"reviewer": "ana"}).json()
    marker = json.loads((session.run_dir / "review" / "finished.json").read_text())
    assert result["hook"] == "ok" and marker["reviewer"] == "ana"
    assert session.hook_calls == [marker]
    assert {row["class"] for row in marker["progress"]} == {"hammering", "dog_barking", "playing_cello"}
    assert client.get("/api/state").json()["finished"]["reviewer"] == "ana"


def test_a_failing_hook_keeps_the_marker_and_says_so(session):
    def broken(summary: dict) -> None:
        raise ConnectionError("orchestrator unreachable")

    session.on_finish = broken
    result = TestClient(create_app(session)).post("/api/finish", json={}).json()
    assert result["hook"] == "failed" and "orchestrator unreachable" in result["hook_error"]
    assert (session.run_dir / "review" / "finished.json").is_file()
