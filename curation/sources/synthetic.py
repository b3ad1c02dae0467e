"""Synthetic audio-visual clips with known ground truth, written as real H.264 + AAC mp4 files.

A source of labelled videos the project generates itself, for three users:
- curation tests and the demo: hard scene cuts at known times, and scenes that the filters must
  drop (static, silent, chaotic);
- the sync classifier and AVSyncD, which must learn audio-visual synchronization on CPU:
  objects bounce, blink or get struck at irregular (Poisson-like) times, and each visual event
  makes a sound at that instant, so a time-shifted audio track is detectably out of sync;
- negative checks: distractor objects move without making any sound.

Rendering is vectorised numpy (masks on a coordinate grid); `write_mp4` encodes with PyAV, so
no ffmpeg binary is needed.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Literal

import av
import numpy as np

SceneKind = Literal["events", "static", "silent", "chaos"]
EventStyle = Literal["bounce", "blink", "strike"]
SoundStyle = Literal["click", "tone", "noise"]

# Demo classes: label → (visual event style, sound style).
DEMO_CLASSES: dict[str, tuple[EventStyle, SoundStyle]] = {
    "ball_bouncing": ("bounce", "click"),
    "drum_hitting": ("strike", "noise"),
    "light_blinking": ("blink", "tone"),
}


@dataclass(frozen=True)
class ObjectSpec:
    """One sounding object: where it is, how it looks, how its events look and sound."""

    style: EventStyle
    sound: SoundStyle
    color: tuple[int, int, int]
    x: float  # centre, fraction of frame width
    y: float  # rest position, fraction of frame height
    radius: float  # fraction of the frame's short side
    pitch_hz: float
    loudness: float  # peak amplitude of its sound, 0..1
    event_times_s: tuple[float, ...]  # relative to the scene start


@dataclass(frozen=True)
class SceneSpec:
    """A shot. `events`: sounding objects; `static`: nothing moves (sound plays); `silent`:
    events without sound; `chaos`: the whole frame changes every frame."""

    kind: SceneKind
    duration_s: float
    background: tuple[int, int, int]
    objects: tuple[ObjectSpec, ...] = ()
    distractor: bool = False
    seed: int = 0


@dataclass
class ClipTruth:
    """Ground truth of a rendered clip; times in seconds from the clip start."""

    duration_s: float
    fps: float
    sample_rate: int
    cut_times_s: list[float] = field(default_factory=list)
    event_times_s: list[float] = field(default_factory=list)  # audible visual events, sorted
    scenes: list[dict] = field(default_factory=list)  # {"kind", "start_s", "end_s"}


def event_schedule(rng: np.random.Generator, duration_s: float, rate_hz: float = 1.5,
                   min_gap_s: float = 0.25, margin_s: float = 0.15) -> tuple[float, ...]:
    """Irregular event times in [margin, duration - margin): exponential gaps of mean 1/rate,
    never closer than `min_gap_s` (so each event is resolvable at 6 fps)."""
    times, t = [], margin_s + rng.uniform(0, 1.0 / rate_hz)
    while t < duration_s - margin_s:
        times.append(round(t, 4))
        t += min_gap_s + rng.exponential(1.0 / rate_hz)
    return tuple(times)


def _distinct_color(rng: np.random.Generator, avoid: tuple[int, int, int] | None = None) -> tuple[int, int, int]:
    while True:
        color = tuple(int(c) for c in rng.integers(30, 226, size=3))
        if avoid is None or np.abs(np.subtract(color, avoid)).sum() > 180:
            return color


def random_object(rng: np.random.Generator, duration_s: float, style: EventStyle | None = None,
                  sound: SoundStyle | None = None, background: tuple[int, int, int] | None = None,
                  rate_hz: float = 1.5) -> ObjectSpec:
    return ObjectSpec(
        style=style or rng.choice(["bounce", "blink", "strike"]),
        sound=sound or rng.choice(["click", "tone", "noise"]),
        color=_distinct_color(rng, background),
        x=float(rng.uniform(0.2, 0.8)),
        y=float(rng.uniform(0.55, 0.8)),
        radius=float(rng.uniform(0.1, 0.18)),
        pitch_hz=float(rng.uniform(220, 1200)),
        loudness=float(rng.uniform(0.35, 0.8)),
        event_times_s=event_schedule(rng, duration_s, rate_hz),
    )


def random_scenes(rng: np.random.Generator, duration_s: float = 4.0, n_objects: int | None = None,
                  distractor_probability: float = 0.3, rate_hz: float = 1.5) -> list[SceneSpec]:
    """One random `events` scene: the sync-learning example (1–2 sounding objects)."""
    background = _distinct_color(rng)
    count = n_objects or int(rng.integers(1, 3))
    objects = tuple(random_object(rng, duration_s, background=background, rate_hz=rate_hz) for _ in range(count))
    return [SceneSpec("events", duration_s, background, objects, bool(rng.random() < distractor_probability),
                      int(rng.integers(1 << 31)))]


# --- rendering --------------------------------------------------------------------------------


def _object_layers(obj: ObjectSpec, t: np.ndarray, width: int, height: int) -> tuple[np.ndarray, ...]:
    """Per-frame centre x, centre y (pixels), brightness gain and striker offset of one object.
    t: (F,) frame times relative to the scene start."""
    events = np.asarray(obj.event_times_s)
    cx = np.full_like(t, obj.x * width)
    rest_y = obj.y * height
    cy = np.full_like(t, rest_y)
    gain = np.ones_like(t)
    striker = np.full_like(t, np.nan)
    if len(events) == 0:
        return cx, cy, gain, striker
    # Phase within the current inter-event interval: 0 at an event, 1 at the next one.
    bounds = np.concatenate([[events[0] - 0.8], events, [events[-1] + 0.8]])
    k = np.clip(np.searchsorted(bounds, t, side="right") - 1, 0, len(bounds) - 2)
    phase = np.clip((t - bounds[k]) / (bounds[k + 1] - bounds[k]), 0, 1)
    since = t - bounds[k]
    if obj.style == "bounce":
        # Parabolic hop between events: on the floor exactly at each event.
        hop = min(0.45 * height, rest_y - obj.radius * min(width, height))
        cy = rest_y - hop * 4 * phase * (1 - phase)
    elif obj.style == "blink":
        gain = 0.15 + 0.85 * np.exp(-np.maximum(since, 0) / 0.15) * (k > 0)
    else:  # strike: a bar falls onto the object and lands at the event time
        striker = phase ** 3  # 0 = raised, 1 = touching the object
    return cx, cy, gain, striker


def render_frames(scene: SceneSpec, t: np.ndarray, width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """(F, H, W, 3) uint8 frames of one scene at times t (seconds from the scene start)."""
    frames = np.empty((len(t), height, width, 3), dtype=np.uint8)
    if scene.kind == "chaos":
        # Full-frame coarse random colour blocks, new every frame: far beyond any sane motion.
        blocks = rng.integers(0, 256, size=(len(t), height // 16 + 1, width // 16 + 1, 3), dtype=np.uint8)
        frames[:] = np.repeat(np.repeat(blocks, 16, axis=1), 16, axis=2)[:, :height, :width]
        return frames
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    short = min(width, height)
    layers = [_object_layers(o, t, width, height) for o in scene.objects]
    frozen = scene.kind == "static"
    for f in range(len(t)):
        g = 0 if frozen else f
        image = np.empty((height, width, 3), dtype=np.float32)
        image[:] = scene.background
        if scene.distractor:
            # A silent square gliding across: motion that must not be tied to sound.
            side = 0.12 * short
            x0 = (0.1 + 0.8 * ((t[g] * 0.15) % 1.0)) * width
            mask = (np.abs(xx - x0) < side / 2) & (np.abs(yy - 0.25 * height) < side / 2)
            image[mask] = (255 - np.asarray(scene.background)) * 0.8
        for obj, (cx, cy, gain, striker) in zip(scene.objects, layers):
            radius = obj.radius * short
            mask = (xx - cx[g]) ** 2 + (yy - cy[g]) ** 2 <= radius**2
            image[mask] = np.asarray(obj.color, dtype=np.float32) * gain[g]
            if not np.isnan(striker[g]):
                top = cy[g] - radius - (1 - striker[g]) * 0.35 * height
                bar = (np.abs(xx - cx[g]) < radius * 0.5) & (yy > top - 0.06 * height) & (yy < top)
                image[bar] = 235.0
        if not frozen:
            image += rng.normal(0, 2.0, size=(height, width, 1))  # sensor noise, not on static shots
        frames[f] = np.clip(image, 0, 255).astype(np.uint8)
    return frames


def _sound(obj: ObjectSpec, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """The sound one event of this object makes, starting at its onset."""
    if obj.sound == "click":
        n = int(0.03 * sample_rate)
        wave = rng.normal(0, 1, n) * np.exp(-np.arange(n) / (0.004 * sample_rate))
    elif obj.sound == "tone":
        n = int(0.12 * sample_rate)
        tt = np.arange(n) / sample_rate
        wave = np.sin(2 * np.pi * obj.pitch_hz * tt) * np.exp(-tt / 0.03)
    else:
        n = int(0.08 * sample_rate)
        wave = rng.normal(0, 1, n) * np.exp(-np.arange(n) / (0.015 * sample_rate))
    return (obj.loudness * wave / (np.abs(wave).max() + 1e-9)).astype(np.float32)


def render_audio(scene: SceneSpec, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """(S,) float32 mono soundtrack of one scene: one sound at every event of every object."""
    n = round(scene.duration_s * sample_rate)
    audio = rng.normal(0, 0.003, n).astype(np.float32)  # room noise
    if scene.kind == "silent":
        return audio * 0.3
    if scene.kind == "chaos":
        return audio + rng.normal(0, 0.1, n).astype(np.float32)
    for obj in scene.objects:
        for event in obj.event_times_s:
            sound = _sound(obj, sample_rate, rng)
            start = round(event * sample_rate)
            stop = min(n, start + len(sound))
            if start < n:
                audio[start:stop] += sound[: stop - start]
    return np.clip(audio, -1, 1)


def render_clip(scenes: list[SceneSpec], fps: float = 25.0, size: tuple[int, int] = (256, 256),
                sample_rate: int = 16000, seed: int = 0) -> tuple[np.ndarray, np.ndarray, ClipTruth]:
    """Render scenes back to back (a hard cut between consecutive scenes).

    Returns frames (F, H, W, 3) uint8 RGB at `fps`, audio (S,) float32 mono at `sample_rate`,
    and the ground truth. size = (width, height).
    """
    rng = np.random.default_rng(seed)
    width, height = size
    frames, audio, truth = [], [], ClipTruth(0.0, fps, sample_rate)
    start = 0.0
    for index, scene in enumerate(scenes):
        first = round(start * fps)
        last = round((start + scene.duration_s) * fps)
        t = np.arange(first, last) / fps - start
        frames.append(render_frames(scene, t, width, height, rng))
        audio.append(render_audio(scene, sample_rate, rng))
        if index > 0:
            truth.cut_times_s.append(round(first / fps, 6))
        if scene.kind in ("events", "static"):
            truth.event_times_s += [round(start + e, 6) for o in scene.objects for e in o.event_times_s]
        truth.scenes.append({"kind": scene.kind, "start_s": round(first / fps, 6), "end_s": round(last / fps, 6)})
        start += scene.duration_s
    truth.event_times_s.sort()
    all_frames = np.concatenate(frames)
    truth.duration_s = len(all_frames) / fps
    waveform = np.concatenate(audio)[: round(truth.duration_s * sample_rate)]
    return all_frames, waveform, truth


# --- encoding ---------------------------------------------------------------------------------


def write_mp4(path: str | os.PathLike, frames: np.ndarray | None, fps: float, audio: np.ndarray | None = None,
              sample_rate: int = 16000, crf: int = 20) -> Path:
    """Encode (F, H, W, 3) uint8 RGB frames as H.264 (yuv420p) and mono audio as AAC, with PyAV.
    Frame width and height must be even (4:2:0). Either stream may be None (to make bad inputs)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        video = sound = None
        if frames is not None:
            video = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
            video.width, video.height = frames.shape[2], frames.shape[1]
            video.pix_fmt = "yuv420p"
            video.options = {"crf": str(crf), "preset": "veryfast"}
        if audio is not None:
            sound = container.add_stream("aac", rate=sample_rate, layout="mono")
        if video is not None:
            for image in frames:
                for packet in video.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")):
                    container.mux(packet)
            for packet in video.encode():
                container.mux(packet)
        if sound is not None:
            samples = np.ascontiguousarray(audio, dtype=np.float32)
            chunk = 1024
            for offset in range(0, len(samples), chunk):
                frame = av.AudioFrame.from_ndarray(samples[None, offset : offset + chunk], format="flt", layout="mono")
                frame.sample_rate = sample_rate
                frame.pts = offset
                for packet in sound.encode(frame):
                    container.mux(packet)
            for packet in sound.encode():
                container.mux(packet)
    return path


def write_synthetic_video(path: str | os.PathLike, scenes: list[SceneSpec], fps: float = 25.0,
                          size: tuple[int, int] = (256, 256), sample_rate: int = 16000, seed: int = 0) -> ClipTruth:
    frames, audio, truth = render_clip(scenes, fps, size, sample_rate, seed)
    write_mp4(path, frames, fps, audio, sample_rate)
    return truth


# --- demo set and bad inputs ------------------------------------------------------------------


def _events_scene(rng: np.random.Generator, duration_s: float, style: EventStyle, sound: SoundStyle,
                  kind: SceneKind = "events", after: SceneSpec | None = None) -> SceneSpec:
    # A background far from the previous shot's, so the cut is a hard one.
    background = _distinct_color(rng, after.background if after is not None else None)
    count = int(rng.integers(1, 3))
    objects = tuple(random_object(rng, duration_s, style, sound, background) for _ in range(count))
    return SceneSpec(kind, duration_s, background, objects, bool(rng.random() < 0.3), int(rng.integers(1 << 31)))


def make_demo_set(root: str | os.PathLike, seed: int = 0, videos_per_class: int = 4,
                  size: tuple[int, int] = (320, 240), fps: float = 25.0) -> dict[str, dict]:
    """Write `root/<label>/<label>_<i>.mp4` for each demo class, 6–12 s each.

    Video 0 of each class is one clean shot; the others have 2–3 shots separated by hard cuts,
    one of which may be static, silent or chaotic (so the filters have something to drop).
    Ground truth per file is returned and written to `root/_truth.json`.
    """
    root = Path(root)
    rng = np.random.default_rng(seed)
    truths: dict[str, dict] = {}
    for label, (style, sound) in DEMO_CLASSES.items():
        for i in range(videos_per_class):
            if i == 0:
                scenes = [_events_scene(rng, float(rng.uniform(6, 10)), style, sound)]
            else:
                n_scenes = int(rng.integers(2, 4))
                odd_at, odd = int(rng.integers(n_scenes)), str(rng.choice(["static", "silent", "chaos", "events"]))
                scenes: list[SceneSpec] = []
                for j in range(n_scenes):
                    kind = odd if j == odd_at else "events"
                    scenes.append(_events_scene(rng, float(rng.uniform(3.5, 5)), style, sound, kind,
                                                scenes[-1] if scenes else None))
            relative = f"{label}/{label}_{i}.mp4"
            truth = write_synthetic_video(root / relative, scenes, fps, size, seed=int(rng.integers(1 << 31)))
            truths[relative] = asdict(truth)
    (root / "_truth.json").write_text(json.dumps(truths, indent=1))
    return truths


def write_bad_inputs(root: str | os.PathLike, seed: int = 0) -> dict[Path, str]:
    """Broken and unsuitable files, each mapped to the reason `curation.media` gives it."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    scene = [_events_scene(np.random.default_rng(seed), 3.0, "bounce", "click")]
    frames, audio, _ = render_clip(scene, 25.0, (128, 96), 16000, seed)
    good = write_mp4(root / "_good.mp4", frames, 25.0, audio)
    data = good.read_bytes()
    good.unlink()
    expected: dict[Path, str] = {}
    (root / "empty.mp4").write_bytes(b"")
    expected[root / "empty.mp4"] = "empty_file"
    (root / "text.mp4").write_text("This is a text file with a video's name.\n" * 40)
    expected[root / "text.mp4"] = "not_a_video"
    # Cut mid-file: the index (moov) atom sits at the end, so the container cannot be parsed.
    (root / "truncated.mp4").write_bytes(data[: len(data) * 3 // 10])
    expected[root / "truncated.mp4"] = "not_a_video"
    write_mp4(root / "no_audio.mp4", frames, 25.0, None)
    expected[root / "no_audio.mp4"] = "no_audio"
    write_mp4(root / "audio_only.mp4", None, 25.0, audio)
    expected[root / "audio_only.mp4"] = "no_video_stream"
    # One frame in a NUT container (named .mp4): the stream lasts 0 s.
    with av.open(str(root / "zero_duration.mp4"), "w", format="nut") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        for packet in [*stream.encode(av.VideoFrame.from_ndarray(frames[0, :64, :64].copy(), format="rgb24")),
                       *stream.encode()]:
            container.mux(packet)
    expected[root / "zero_duration.mp4"] = "zero_duration"
    return expected

