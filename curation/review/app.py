"""The review page's HTTP API (FastAPI) over a `ReviewSession`.

    GET  /                      the page (static HTML + JS, no build step)
    GET  /api/state             candidates with their current decisions, progress per class
    GET  /api/changes?after=N   decision records after sequence number N (other tabs' work)
    POST /api/decisions         {clip, decision, base_version, reviewer} → the record;
                                409 {current} when the clip changed since base_version
    GET  /clips/{key}.mp4       the clip's cut (window only), with HTTP Range support
    GET  /clips/{key}.jpg       its first frame (the grid's poster)
    POST /api/finish            mark the review finished (finished.json + hook)
"""

from __future__ import annotations

import socket
from pathlib import Path

from fastapi import FastAPI, HTTPException
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field

from curation.media import MediaError
from curation.review.decisions import DECISIONS, DecisionConflict
from curation.review.session import ReviewSession

STATIC = Path(__file__).with_name("static")
HOST = "127.0.0.1"  # never another interface: the page has no authentication


class DecisionIn(BaseModel):
    clip: str
    decision: str = Field(description=" / ".join(DECISIONS))
    base_version: int | None = Field(None, description="the clip's version the client saw; null overwrites")
    reviewer: str | None = None


class FinishIn(BaseModel):
    reviewer: str | None = None


def create_app(session: ReviewSession) -> FastAPI:
    app = FastAPI(title="asva review", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.session = session

    @app.get("/")
    def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> Response:
        return Response(status_code=204)

    @app.get("/api/state")
    def state() -> dict:
        return session.state()

    @app.get("/api/changes")
    def changes(after: int = 0) -> dict:
        latest = session.decisions.latest()
        records = [r.to_dict() for r in session.decisions.records_after(after)]
        return {"seq": after + len(records), "records": records, "progress": session.progress(latest)}

    @app.post("/api/decisions")
    def decide(body: DecisionIn):
        try:
            record = session.decide(body.clip, body.decision, body.reviewer, body.base_version)
        except KeyError:
            raise HTTPException(404, f"no candidate clip {body.clip!r} in this review") from None
        except DecisionConflict as conflict:
            return JSONResponse(status_code=409, content={"detail": str(conflict),
                                                          "current": conflict.current.to_dict()})
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from None
        return {"record": record.to_dict(), "progress": session.progress()}

    def media_file(key: str, make, media_type: str) -> FileResponse:
        """Serve `make(candidate)`'s file: 404 for a key that is not a candidate, 422 if the
        source cannot be decoded."""
        candidate = session.by_key.get(key)
        if candidate is None:
            raise HTTPException(404, f"no candidate clip {key!r} in this review")
        try:
            path = make(candidate)
        except (MediaError, FileNotFoundError) as exc:
            raise HTTPException(422, f"cannot cut {key}: {exc}") from None
        return FileResponse(path, media_type=media_type, headers={"Cache-Control": "private, max-age=3600"})

    @app.get("/clips/{key}.mp4")
    def clip(key: str) -> FileResponse:
        return media_file(key, session.clips.get, "video/mp4")

    @app.get("/clips/{key}.jpg")
    def poster(key: str) -> FileResponse:
        return media_file(key, session.clips.poster, "image/jpeg")

    @app.post("/api/finish")
    def finish(body: FinishIn) -> dict:
        return session.finish(body.reviewer)

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


def serve_session(session: ReviewSession, port: int = 8765, prefetch: bool = True) -> None:
    """Serve the review page on 127.0.0.1:`port` (0: any free port) until interrupted; prints
    "Review page: URL" once it accepts connections. `prefetch` cuts the clips in review order
    in the background."""
    import uvicorn

    if prefetch:
        session.clips.prefetch(session.candidates)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, port))  # bound here so port 0 can print the port it got
    sock.listen(128)  # connections made before uvicorn starts wait in the backlog
    print(f"Reviewing {len(session.candidates)} candidates of {len(session.classes)} classes; "
          f"decisions in {session.decisions.path}", flush=True)
    print(f"Review page: http://{HOST}:{sock.getsockname()[1]}/", flush=True)
    server = uvicorn.Server(uvicorn.Config(create_app(session), log_level="warning"))
    try:
        server.run(sockets=[sock])
    finally:
        session.close()
        sock.close()


__all__ = ["HOST", "create_app", "serve_session"]
