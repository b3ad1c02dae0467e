"""The demo set and the bad-input set, written from the synthetic generator.

`make_demo_set` writes a small labelled folder of synthetic videos (clean shots, hard cuts, and
static / silent / chaos shots the filters must drop) with its ground truth; `write_bad_inputs`
writes broken files, each mapped to the `MediaError.reason` curation must give it. Used by the
demo flow, tests and benchmarks.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import av
import numpy as np

from curation.media import write_mp4
from curation.sources.synthetic import (
    DEMO_CLASSES, ClipTruth, EventStyle, SceneKind, SceneSpec, Shape, SoundStyle, random_scene, render_clip,
    write_synthetic_video,
)


def _demo_scenes(rng: np.random.Generator, style: EventStyle, sound: SoundStyle, shape: Shape, variant: int,
                 odd_kind: SceneKind) -> list[SceneSpec]:
    """Variant 0: one clean shot of 6–9 s. Variant 1: 2–3 shots with hard cuts. Otherwise: a shot
    of `odd_kind` (≥ 3.5 s, so a whole 3 s window fits in it) after or between event shots."""
    if variant == 0:
        kinds, lengths = ["events"], [rng.uniform(6, 9)]
    elif variant == 1:
        count = int(rng.integers(2, 4))
        kinds, lengths = ["events"] * count, list(rng.uniform(3.2, 4.5 if count == 2 else 3.8, count))
    else:
        kinds = ["events", odd_kind] + (["events"] if rng.random() < 0.5 else [])
        lengths = list(rng.uniform(3.6, 4.0, len(kinds)))
    scenes: list[SceneSpec] = []
    for kind, length in zip(kinds, lengths):
        scenes.append(random_scene(rng, kind, round(float(length), 2), style=style, sound=sound, shape=shape,
                                   after=scenes[-1] if scenes else None))
    return scenes


def make_demo_set(root: str | os.PathLike, seed: int = 0, videos_per_class: int = 3,
                  size: tuple[int, int] = (256, 192), fps: float = 25.0,
                  classes: dict[str, tuple[EventStyle, SoundStyle, Shape]] | None = None) -> dict[str, ClipTruth]:
    """Write a small labelled set `root/<label>/<label>_<i>.mp4`, 6–12 s each, deterministic in `seed`.

    Per class: video 0 is one clean shot, video 1 has 2–3 shots with hard cuts, videos 2+ hold a
    static, silent or chaos shot (the kinds cycle over the whole set, so each appears once
    there are 3 such videos). The ground truth of every video, keyed by its path relative to
    `root` with "/" (the label is the first part), is returned and written as
    `root/_truth.json` ({relative path: ClipTruth.to_dict()}).
    """
    root = Path(root)
    rng = np.random.default_rng(seed)
    odd_kinds: list[SceneKind] = ["static", "silent", "chaos"]
    truths: dict[str, ClipTruth] = {}
    n_odd = 0
    for label, (style, sound, shape) in (classes or DEMO_CLASSES).items():
        for i in range(videos_per_class):
            odd = odd_kinds[n_odd % len(odd_kinds)]
            n_odd += i >= 2
            scenes = _demo_scenes(rng, style, sound, shape, i, odd)
            relative = f"{label}/{label}_{i}.mp4"
            truths[relative] = write_synthetic_video(root / relative, scenes, fps, size, seed=rng)
    (root / "_truth.json").write_text(json.dumps({k: v.to_dict() for k, v in truths.items()}, indent=1))
    return truths


def write_bad_inputs(root: str | os.PathLike, seed: int = 0) -> dict[Path, str]:
    """Write broken or unusable files into `root`, each mapped to the `MediaError.reason` that
    `curation.media.probe` / `decode` give it (checked in tests/curation/sources/test_synthetic.py)."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    frames, audio, _ = render_clip([random_scene(rng, "events", 2.0)], 25.0, (128, 96), 16000, rng)
    expected: dict[Path, str] = {}

    def bad(name: str, reason: str) -> Path:
        expected[root / name] = reason
        return root / name

    bad("empty.mp4", "empty_file").write_bytes(b"")
    bad("text.mp4", "not_a_video").write_text("Not a video, just text with a video's name.\n" * 20)
    # PyAV's mp4 muxer writes the index (moov) last: the first 30 % has none, nothing to parse.
    data = write_mp4(root / "_whole.mp4", frames, 25.0, audio).read_bytes()
    bad("truncated.mp4", "not_a_video").write_bytes(data[: len(data) * 3 // 10])
    # With the index up front the headers probe fine and the damage shows when decoding. Cut
    # points are chosen by packet: only a cut inside an audio packet makes the (AAC) decoder fail;
    # a cut elsewhere decodes to fewer frames than the header promises, which curation.media
    # does not flag (see test_synthetic.py).
    whole = write_mp4(root / "_whole.mp4", frames, 25.0, audio, movflags="faststart")
    data = whole.read_bytes()
    with av.open(str(whole)) as container:
        packets = [(p.pos, p.size, p.stream.type) for p in container.demux() if p.size and p.pos is not None]
    audio_packets = [(pos, size) for pos, size, kind in packets if kind == "audio" and pos > len(data) * 0.3]
    pos, size = audio_packets[0]
    bad("truncated_in_audio.mp4", "decode_error").write_bytes(data[: pos + size // 2])
    bad("index_only.mp4", "no_frames").write_bytes(data[: min(pos for pos, _, _ in packets)])
    whole.unlink()
    write_mp4(bad("no_audio.mp4", "no_audio"), frames, 25.0, None)
    write_mp4(bad("audio_only.mp4", "no_video_stream"), None, 25.0, audio)
    # Video and audio streams, no frame at all. A plain mp4 drops empty tracks (that would read as
    # "no video stream"); a fragmented one keeps them in its up-front header, with 0 s duration.
    with av.open(str(bad("zero_duration.mp4", "zero_duration")), "w", format="mp4",
                 options={"movflags": "frag_keyframe+empty_moov"}) as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 128, 96, "yuv420p"
        container.add_stream("aac", rate=16000, layout="mono")
        container.start_encoding()
    return expected


__all__ = ["make_demo_set", "write_bad_inputs"]
