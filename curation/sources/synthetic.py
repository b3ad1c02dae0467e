"""Synthetic audio-visual clips with known ground truth, in memory or as real H.264 + AAC mp4.

A source of labelled videos the project generates itself, for three users:

- curation tests and the demo: hard scene cuts at known frame times, and scenes the filters must
  drop: `static` (a frozen picture over a soundtrack: "too static"), `silent` (events seen but
  not heard: "too quiet") and `chaos` (a full-frame pattern racing across: "too much motion");
- the sync classifier, which learns audio-visual synchronization from it on CPU: objects bounce,
  blink or get struck at irregular (Poisson-like, minimum gap) times and every visual event
  sounds at that instant (click, tone burst at the object's pitch, or noise burst), so a
  time-shifted soundtrack is detectably out of sync. Silent distractors move smoothly;
- the demo set and the bad-input checks (`curation.sources.demo_set`).

A clip is a list of `SceneSpec`s played back to back; each boundary is a hard cut on a frame.
Rendering is vectorised numpy (soft-edged shapes drawn inside their bounding boxes); the project's
one mp4 writer (`curation.media.write_mp4`, PyAV) encodes, so no ffmpeg binary is needed.

Times are seconds from the clip start, sizes are (width, height) in pixels, frames are (N, H, W, 3)
uint8 RGB and audio is (S,) float32 mono on [-1, 1].
"""

from __future__ import annotations

import colorsys
import os
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import cv2
import numpy as np

from curation import media  # media.write_mp4: the one mp4 writer (not re-exported from here)

SceneKind = Literal["events", "static", "silent", "chaos"]
EventStyle = Literal["bounce", "blink", "strike"]
SoundStyle = Literal["click", "tone", "noise"]
Shape = Literal["disc", "square"]
Texture = Literal["flat", "gradient", "checker"]
Color = tuple[int, int, int]  # RGB, 0..255

EVENT_STYLES: tuple[EventStyle, ...] = ("bounce", "blink", "strike")
SOUND_STYLES: tuple[SoundStyle, ...] = ("click", "tone", "noise")

# Demo classes: folder label → (how an event looks, how it sounds, object shape).
DEMO_CLASSES: dict[str, tuple[EventStyle, SoundStyle, Shape]] = {
    "ball_bouncing": ("bounce", "click", "disc"),
    "drum_hitting": ("strike", "noise", "disc"),
    "hammering": ("strike", "click", "square"),
    "light_blinking": ("blink", "tone", "square"),
}

# The chaos pattern's phase speed, periods per second: consecutive 25 fps frames differ by
# ~1/6 period (below PySceneDetect's default cut threshold, so the shot is not split into
# sub-window scenes), frames 1/8 s apart (the analysis rate) by ~half a period (far above the
# "too much motion" bound).
_CHAOS_SPEED_HZ = 4.0


@dataclass(frozen=True)
class ObjectSpec:
    """One sounding object. Positions and sizes are fractions of the frame, so a spec renders
    at any size; `event_times_s` are relative to the scene start."""

    style: EventStyle
    sound: SoundStyle
    color: Color
    x: float  # centre, fraction of the width
    y: float  # centre at rest (on the floor for `bounce`), fraction of the height
    radius: float  # half-extent, fraction of the short side
    shape: Shape = "disc"
    pitch_hz: float = 440.0  # tone pitch; also sets the noise burst's brightness
    loudness: float = 0.5  # peak amplitude of its sound, 0..1
    event_times_s: tuple[float, ...] = ()


@dataclass(frozen=True)
class DistractorSpec:
    """A silent object gliding on an ellipse: motion that must not be tied to sound."""

    color: Color
    radius: float  # fraction of the short side
    center: tuple[float, float]  # orbit centre, fractions of (width, height)
    axes: tuple[float, float]  # orbit half-axes, fractions of (width, height)
    period_s: float
    phase: float = 0.0  # radians
    shape: Shape = "square"


@dataclass(frozen=True)
class SceneSpec:
    """One shot.

    kind: `events` (objects seen and heard), `static` (the first frame held, sounds still play),
    `silent` (events seen, only faint room noise heard), `chaos` (like `events`, over a
    full-frame pattern racing across the frame and a loud noise bed).
    """

    kind: SceneKind
    duration_s: float
    background: Color
    texture: Texture = "flat"
    objects: tuple[ObjectSpec, ...] = ()
    distractors: tuple[DistractorSpec, ...] = ()
    pixel_noise: float = 2.0  # std of per-frame luma noise, 0..255 scale (0 = clean)
    room_noise: float = 0.002  # std of the audio noise floor, [-1, 1] scale


@dataclass
class SceneTruth:
    kind: SceneKind
    start_s: float
    end_s: float
    start_frame: int  # first frame of the scene
    end_frame: int  # one past its last frame
    styles: list[str]  # per sounding object
    sounds: list[str]
    n_distractors: int


@dataclass
class ClipTruth:
    """Ground truth of a rendered clip. Times in seconds from the clip start, sorted.

    A cut at time c means frame round(c * fps) is the first frame of the new scene (and audio
    sample round(c * sample_rate) its first sample). An event at time t is a sound onset at
    sample round(t * sample_rate) and/or a visual event (bounce impact, strike impact, flash
    onset) at exactly t, shown by the nearest frame.
    """

    duration_s: float  # n_frames / fps
    fps: float
    sample_rate: int
    width: int
    height: int
    n_frames: int
    n_samples: int
    cut_times_s: list[float] = field(default_factory=list)
    event_times_s: list[float] = field(default_factory=list)  # seen AND heard: the sync events
    sound_times_s: list[float] = field(default_factory=list)  # every sound onset (also unseen, in static scenes)
    visual_event_times_s: list[float] = field(default_factory=list)  # every visual event (also mute, in silent scenes)
    scenes: list[SceneTruth] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod  # kept: the public reader of the `_truth.json` that `make_demo_set` publishes
    def from_dict(cls, data: dict[str, Any]) -> ClipTruth:
        return cls(**{**data, "scenes": [SceneTruth(**s) for s in data.get("scenes", [])]})


# --- random specs ------------------------------------------------------------------------------


def event_schedule(rng: np.random.Generator, duration_s: float, rate_hz: float = 1.5, min_gap_s: float = 0.25,
                   margin_s: float = 0.2) -> tuple[float, ...]:
    """Irregular event times in [margin, duration - margin): gaps of `min_gap_s` plus an
    exponential of mean 1/rate_hz. Irregular so a shifted soundtrack cannot line up again;
    the minimum gap keeps events resolvable at the sync classifier's 6 fps."""
    times: list[float] = []
    t = margin_s + rng.exponential(1.0 / rate_hz)
    while t < duration_s - margin_s:
        times.append(round(float(t), 4))
        t += min_gap_s + rng.exponential(1.0 / rate_hz)
    return tuple(times)


def _hsv(h: float, s: float, v: float) -> Color:
    r, g, b = colorsys.hsv_to_rgb(h % 1.0, s, v)
    return round(r * 255), round(g * 255), round(b * 255)


def _distance(a: Color, b: Color) -> int:
    return int(np.abs(np.subtract(a, b)).sum())


def random_background(rng: np.random.Generator, avoid: Color | None = None) -> Color:
    """A muted colour, far (L1 > 200) from `avoid` (the previous shot's), so a cut is hard."""
    while True:
        color = _hsv(rng.random(), rng.uniform(0.1, 0.8), rng.uniform(0.15, 0.8))
        if avoid is None or _distance(color, avoid) > 200:
            return color


def random_object_color(rng: np.random.Generator, background: Color | None = None) -> Color:
    """A saturated, bright colour that stands out from `background` (L1 > 160)."""
    while True:
        color = _hsv(rng.random(), rng.uniform(0.5, 1.0), rng.uniform(0.8, 1.0))
        if background is None or _distance(color, background) > 160:
            return color


def random_object(rng: np.random.Generator, duration_s: float, style: EventStyle | None = None,
                  sound: SoundStyle | None = None, shape: Shape | None = None, background: Color | None = None,
                  rate_hz: float = 1.5, x: float | None = None) -> ObjectSpec:
    """A sounding object with its own random event schedule over `duration_s` seconds."""
    style = style or EVENT_STYLES[rng.integers(3)]
    # A bouncing ball needs headroom, a struck object room for the striker above it.
    y = rng.uniform(0.65, 0.85) if style == "bounce" else rng.uniform(0.5, 0.8)
    return ObjectSpec(
        style=style,
        sound=sound or SOUND_STYLES[rng.integers(3)],
        color=random_object_color(rng, background),
        x=float(rng.uniform(0.2, 0.8) if x is None else x),
        y=float(y),
        radius=float(rng.uniform(0.09, 0.16) if style == "blink" else rng.uniform(0.07, 0.15)),  # lights only flash
        shape=shape or ("disc", "square")[rng.integers(2)],
        pitch_hz=float(220 * 2 ** (rng.integers(0, 30) / 12)),  # semitones over 2.5 octaves
        loudness=float(rng.uniform(0.3, 0.8)),
        event_times_s=event_schedule(rng, duration_s, rate_hz),
    )


def random_distractor(rng: np.random.Generator, background: Color | None = None) -> DistractorSpec:
    return DistractorSpec(
        color=random_object_color(rng, background),
        radius=float(rng.uniform(0.04, 0.08)),
        center=(float(rng.uniform(0.35, 0.65)), float(rng.uniform(0.2, 0.35))),
        axes=(float(rng.uniform(0.1, 0.3)), float(rng.uniform(0.02, 0.1))),
        period_s=float(rng.uniform(2.5, 6.0)),
        phase=float(rng.uniform(0, 2 * np.pi)),
        shape=("disc", "square")[rng.integers(2)],
    )


def random_scene(rng: np.random.Generator, kind: SceneKind = "events", duration_s: float = 4.0, *,
                 style: EventStyle | None = None, sound: SoundStyle | None = None, shape: Shape | None = None,
                 n_objects: int | None = None, distractor_probability: float = 0.3, rate_hz: float | None = None,
                 after: SceneSpec | None = None) -> SceneSpec:
    """A random scene of `kind`. Objects (1–2; none for chaos) sit in separate horizontal
    slots; `after` is the previous shot, whose background this one avoids (a hard cut)."""
    background = random_background(rng, after.background if after is not None else None)
    count = (0 if kind == "chaos" else int(rng.integers(1, 3))) if n_objects is None else n_objects
    rate = float(rng.uniform(0.8, 2.2)) if rate_hz is None else rate_hz
    objects = tuple(
        random_object(rng, duration_s, style, sound, shape, background, rate, x=(i + rng.uniform(0.3, 0.7)) / count)
        for i in range(count)
    )
    distractors = (random_distractor(rng, background),) if rng.random() < distractor_probability else ()
    return SceneSpec(kind, duration_s, background, ("flat", "gradient", "checker")[rng.integers(3)], objects,
                     distractors, pixel_noise=float(rng.uniform(0.5, 3.0)), room_noise=float(rng.uniform(5e-4, 2.5e-3)))


def random_scenes(rng: np.random.Generator, duration_s: float = 4.0, n_scenes: int = 1,
                  **scene_options: Any) -> list[SceneSpec]:
    """Random `events` scenes filling `duration_s` (hard cuts between them, each ≥ 1 s): the
    sync-learning examples. `scene_options` go to `random_scene`."""
    if duration_s < n_scenes * 1.0:
        raise ValueError(f"{n_scenes} scenes of at least 1 s do not fit in {duration_s} s")
    if n_scenes > 1:
        cuts = np.sort(rng.uniform(0, duration_s - n_scenes * 1.0, n_scenes - 1)) + np.arange(1, n_scenes)
        lengths = np.diff(np.concatenate([[0.0], cuts, [duration_s]]))
    else:
        lengths = np.array([duration_s])
    scenes: list[SceneSpec] = []
    for length in lengths:
        scenes.append(random_scene(rng, "events", float(length), after=scenes[-1] if scenes else None, **scene_options))
    return scenes


# --- visual rendering --------------------------------------------------------------------------


def _last_next(events: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(F,) time of the latest event ≤ t (-inf if none) and of the next one > t (+inf if none)."""
    bounded = np.concatenate([[-np.inf], events, [np.inf]])
    index = np.searchsorted(events, t, side="right")
    return bounded[index], bounded[index + 1]


@dataclass
class _Track:
    """Per-frame geometry of one drawn object, pixels: (F,) arrays."""

    cx: np.ndarray
    cy: np.ndarray
    rx: np.ndarray
    ry: np.ndarray
    gain: np.ndarray  # colour multiplier
    glow: np.ndarray | None = None  # opacity of a halo around a lit light, 0..1
    striker_gap: np.ndarray | None = None  # striker height above the object's top (0 = impact)


def _object_track(obj: ObjectSpec, t: np.ndarray, width: int, height: int, duration_s: float) -> _Track:
    """Where and how an object is drawn at scene times t (F,), seconds."""
    radius = obj.radius * min(width, height)
    events = np.asarray(obj.event_times_s, dtype=np.float64)
    ones = np.ones_like(t)
    cx, rest_y = ones * obj.x * width, obj.y * height
    track = _Track(cx, ones * rest_y, ones * radius, ones * radius, ones.copy())
    if len(events) == 0:
        return track
    last, nxt = _last_next(events, t)
    since = t - last  # +inf before the first event
    if obj.style == "bounce":
        # Parabolic hops landing exactly on each event. Virtual impacts mirrored before the start
        # and after the end make the ball enter falling and leave rising: no silent impacts.
        prev = np.where(np.isfinite(last), last, -events[0])
        following = np.where(np.isfinite(nxt), nxt, 2 * duration_s - events[-1])
        gap = following - prev
        phase = (t - prev) / gap
        max_hop = max(rest_y - radius - 0.05 * height, 0.0)
        lift = max_hop * np.clip(gap / 0.9, 0.3, 1.0) * 4 * phase * (1 - phase)
        squash = 0.25 * np.exp(-np.minimum(since, nxt - t) / 0.03)  # deformed on contact
        track.ry = radius * (1 - squash)
        track.rx = radius * (1 + 0.5 * squash)
        track.cy = rest_y + radius - track.ry - lift  # the bottom touches the floor at impact
    elif obj.style == "blink":
        flash = np.exp(-since / 0.15)
        track.gain = 0.2 + 0.8 * flash
        track.rx = track.ry = radius * (1 + 0.15 * flash)
        track.glow = 0.6 * flash
    else:  # strike: a striker drops onto the object, hits at the event, springs back up
        gap = nxt - last  # inf at either end
        rise, fall = np.minimum(0.12, 0.4 * gap), np.minimum(0.22, 0.5 * gap)
        drop = 0.3 * height
        striker = np.full_like(t, drop)
        to_hit = nxt - t
        striker = np.where(to_hit < fall, drop * (to_hit / fall) ** 2, striker)  # accelerating fall
        striker = np.where(since < rise, drop * (1 - (1 - since / rise) ** 2), striker)  # decelerating rise
        squash = 0.25 * np.exp(-since / 0.05)
        track.ry = radius * (1 - squash)
        track.rx = radius * (1 + 0.4 * squash)
        track.cy = rest_y + radius - track.ry
        track.gain = 1 + 0.35 * np.exp(-since / 0.08)
        track.striker_gap = striker
    return track


def _distractor_track(spec: DistractorSpec, t: np.ndarray, width: int, height: int) -> _Track:
    angle = 2 * np.pi * t / spec.period_s + spec.phase
    radius = np.full_like(t, spec.radius * min(width, height))
    return _Track((spec.center[0] + spec.axes[0] * np.cos(angle)) * width,
                  (spec.center[1] + spec.axes[1] * np.sin(angle)) * height, radius, radius, np.ones_like(t))


def _paint(image: np.ndarray, cx: float, cy: float, rx: float, ry: float, shape: Shape, color: np.ndarray,
           opacity: float = 1.0) -> None:
    """Draw an anti-aliased ellipse or rectangle of half-extents (rx, ry) centred at (cx, cy)
    pixels into image (H, W, 3) uint8, in place. Only its bounding box is computed."""
    height, width = image.shape[:2]
    x0, x1 = max(int(cx - rx) - 1, 0), min(int(cx + rx) + 2, width)
    y0, y1 = max(int(cy - ry) - 1, 0), min(int(cy + ry) + 2, height)
    if x0 >= x1 or y0 >= y1 or rx <= 0 or ry <= 0:
        return
    dx = np.arange(x0, x1, dtype=np.float32) + 0.5 - cx  # pixel centres
    dy = np.arange(y0, y1, dtype=np.float32) + 0.5 - cy
    if shape == "disc":
        inside = 1 - np.sqrt((dx[None, :] / rx) ** 2 + (dy[:, None] / ry) ** 2)
        alpha = np.clip(inside * min(rx, ry) + 0.5, 0, 1)  # ~1 px soft edge
    else:
        alpha = np.clip(np.minimum(rx - np.abs(dx)[None, :], ry - np.abs(dy)[:, None]) + 0.5, 0, 1)
    region = image[y0:y1, x0:x1]
    alpha = alpha[..., None] * opacity
    region[:] = (region * (1 - alpha) + color * alpha + 0.5).astype(np.uint8)


def _background(scene: SceneSpec, width: int, height: int) -> np.ndarray:
    """(H, W, 3) uint8 backdrop of a scene."""
    base = np.asarray(scene.background, dtype=np.float32)
    if scene.texture == "gradient":  # lighter at the top, like a wall over a floor
        shade = np.linspace(1.2, 0.8, height, dtype=np.float32)[:, None, None]
        image = np.broadcast_to(base * shade, (height, width, 3))
    elif scene.texture == "checker":
        cell = max(min(width, height) // 5, 1)
        yy, xx = np.mgrid[0:height, 0:width]
        sign = np.where(((yy // cell) + (xx // cell)) % 2 == 0, 1.0, -1.0).astype(np.float32)
        image = base + 14.0 * sign[..., None]
    else:
        image = np.broadcast_to(base, (height, width, 3))
    return np.clip(image + 0.5, 0, 255).astype(np.uint8)


def _chaos_background(scene: SceneSpec, t: float, width: int, height: int) -> np.ndarray:
    """(H, W, 3) uint8: a plaid of the background colour racing diagonally across the frame.
    Modulating brightness only (hue and saturation fixed) keeps frame-to-frame change moderate
    for the scene detector while frames 1/8 s apart differ hugely."""
    period = max(min(width, height) / 4, 4.0)
    phase = 2 * np.pi * _CHAOS_SPEED_HZ * t
    sx = np.sin(2 * np.pi * np.arange(width, dtype=np.float32) / period - phase)
    sy = np.sin(2 * np.pi * np.arange(height, dtype=np.float32) / period - 0.7 * phase)
    level = 0.5 + 0.24 * (sx[None, :] + sy[:, None])  # (H, W) in [0.02, 0.98]
    color = np.maximum(np.asarray(scene.background, dtype=np.float32), 60.0) * (255.0 / max(max(scene.background), 60))
    return (level[..., None] * color + 0.5).astype(np.uint8)


def _noise_bank(rng: np.random.Generator, std: float, width: int, height: int,
                count: int = 6) -> list[tuple[np.ndarray, np.ndarray]]:
    """Luma noise fields split into positive and negative uint8 parts, for saturating adds."""
    bank = []
    for _ in range(count):
        noise = np.rint(rng.normal(0.0, std, (height, width, 1))).clip(-255, 255)
        noise = np.repeat(noise, 3, axis=2)
        bank.append((np.maximum(noise, 0).astype(np.uint8), np.maximum(-noise, 0).astype(np.uint8)))
    return bank


def render_scene_frames(scene: SceneSpec, out: np.ndarray, fps: float, rng: np.random.Generator) -> None:
    """Render one scene into out (F, H, W, 3) uint8, in place; frame k shows scene time k / fps."""
    n_frames, height, width = out.shape[:3]
    if n_frames == 0:
        return
    frozen = scene.kind == "static"
    t = np.arange(1 if frozen else n_frames) / fps
    tracks = [_distractor_track(d, t, width, height) for d in scene.distractors]
    shapes = [d.shape for d in scene.distractors]
    colors = [np.asarray(d.color, dtype=np.float32) for d in scene.distractors]
    for obj in scene.objects:
        tracks.append(_object_track(obj, t, width, height, scene.duration_s))
        shapes.append(obj.shape)
        colors.append(np.asarray(obj.color, dtype=np.float32))
    luminance = float(np.dot(scene.background, (0.299, 0.587, 0.114)))
    striker_color = np.full(3, 30.0 if luminance > 128 else 230.0, dtype=np.float32)
    backdrop = _background(scene, width, height)
    bank = _noise_bank(rng, scene.pixel_noise, width, height) if scene.pixel_noise > 0 else []
    for f in range(len(t)):
        image = out[f]
        image[:] = _chaos_background(scene, t[f], width, height) if scene.kind == "chaos" else backdrop
        for track, shape, color in zip(tracks, shapes, colors):
            cx, cy, rx, ry = track.cx[f], track.cy[f], track.rx[f], track.ry[f]
            if track.glow is not None and track.glow[f] > 0.02:
                _paint(image, cx, cy, 1.7 * rx, 1.7 * ry, "disc", color, opacity=track.glow[f])
            _paint(image, cx, cy, rx, ry, shape, np.minimum(color * track.gain[f], 255.0))
            if track.striker_gap is not None:
                bar_half_h = 0.3 * rx + 2
                bar_y = cy - ry - track.striker_gap[f] - bar_half_h
                _paint(image, cx, bar_y, 0.8 * rx + 2, bar_half_h, "square", striker_color)
        if bank:  # sensor noise; saturating uint8 adds are ~10x cheaper than an int16 round trip
            plus, minus = bank[rng.integers(len(bank))]
            cv2.add(image, plus, dst=image)
            cv2.subtract(image, minus, dst=image)
    if frozen:
        out[1:] = out[0]


# --- audio rendering ---------------------------------------------------------------------------


def event_sound(obj: ObjectSpec, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """(S,) float32: the sound of one event of `obj`, onset at sample 0, peak = its loudness
    (times 0.8–1 per event). Every style starts within ~2 ms, so the onset marks the event time."""
    if obj.sound == "click":
        n = int(0.025 * sample_rate)
        wave = rng.normal(0, 1, n) * np.exp(-np.arange(n) / (0.003 * sample_rate))
    elif obj.sound == "tone":
        n = int(0.18 * sample_rate)
        tt = np.arange(n) / sample_rate
        wave = np.sin(2 * np.pi * obj.pitch_hz * tt) + 0.3 * np.sin(4 * np.pi * obj.pitch_hz * tt)
        wave *= np.minimum(tt / 0.002, 1.0) * np.exp(-tt / 0.05)
    else:  # noise burst, low-passed around a few times the pitch (a bigger drum sounds darker)
        n = int(0.12 * sample_rate)
        spectrum = np.fft.rfft(rng.normal(0, 1, n))
        freqs = np.fft.rfftfreq(n, 1 / sample_rate)
        wave = np.fft.irfft(spectrum / (1 + (freqs / (4 * obj.pitch_hz)) ** 2), n)
        tt = np.arange(n) / sample_rate
        wave *= np.minimum(tt / 0.001, 1.0) * np.exp(-tt / 0.03)
    peak = obj.loudness * rng.uniform(0.8, 1.0)
    return (peak * wave / (np.abs(wave).max() + 1e-12)).astype(np.float32)


def render_scene_audio(scene: SceneSpec, out: np.ndarray, sample_rate: int, rng: np.random.Generator) -> None:
    """Render one scene's soundtrack into out (S,) float32, in place (sample 0 = scene start).
    Sounds are cut at the scene end, as a film cut cuts the sound."""
    n = len(out)
    out[:] = rng.normal(0, scene.room_noise, n)
    if scene.kind == "chaos":
        # Wind / crowd roar under the chaos, faded in and out over 0.1 s: AAC smears an abrupt
        # onset ~60 ms across the cut, which would make a neighbouring silent shot not silent.
        roar = rng.normal(0, 0.06, n)
        ramp = np.minimum(1.0, np.minimum(np.arange(n), np.arange(n)[::-1]) / (0.1 * sample_rate))
        out += (roar * ramp).astype(np.float32)
    if scene.kind == "silent":
        return
    for obj in scene.objects:
        for event in obj.event_times_s:
            sound = event_sound(obj, sample_rate, rng)
            start = round(event * sample_rate)
            stop = min(n, start + len(sound))
            if 0 <= start < n:
                out[start:stop] += sound[: stop - start]
    np.clip(out, -1.0, 1.0, out=out)


# --- clips -------------------------------------------------------------------------------------


def render_clip(scenes: list[SceneSpec], fps: float = 25.0, size: tuple[int, int] = (256, 256),
                sample_rate: int = 16000, seed: int | np.random.Generator = 0,
                ) -> tuple[np.ndarray, np.ndarray, ClipTruth]:
    """Render scenes back to back, with a hard cut at each boundary (rounded to a frame).

    size: (width, height) pixels. seed: an int, or a Generator (e.g. a training stream's own,
    which is advanced). Noise and per-event sound variation come from it; event times, colours
    and positions are in the specs.
    Returns frames (N, H, W, 3) uint8 RGB at `fps` (frame k shows time k / fps), audio (S,)
    float32 mono at `sample_rate` with S = round(N / fps * sample_rate), and the ground truth.
    """
    if not scenes:
        raise ValueError("render_clip needs at least one scene")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    width, height = size
    bounds = [0] + [round(s * fps) for s in np.cumsum([scene.duration_s for scene in scenes])]
    if any(b <= a for a, b in zip(bounds[:-1], bounds[1:])):
        raise ValueError(f"every scene must last at least one frame (1 / {fps} s)")
    n_frames = bounds[-1]
    n_samples = round(n_frames / fps * sample_rate)
    frames = np.empty((n_frames, height, width, 3), dtype=np.uint8)
    audio = np.empty(n_samples, dtype=np.float32)
    truth = ClipTruth(round(n_frames / fps, 6), fps, sample_rate, width, height, n_frames, n_samples)
    for index, (scene, first, stop) in enumerate(zip(scenes, bounds[:-1], bounds[1:])):
        start_s, end_s = first / fps, stop / fps
        render_scene_frames(scene, frames[first:stop], fps, rng)
        render_scene_audio(scene, audio[round(start_s * sample_rate) : round(end_s * sample_rate)], sample_rate, rng)
        if index > 0:
            truth.cut_times_s.append(round(start_s, 6))
        times = [round(start_s + e, 6) for o in scene.objects for e in o.event_times_s if e < end_s - start_s]
        if scene.kind in ("events", "chaos"):
            truth.event_times_s += times
        if scene.kind != "silent":
            truth.sound_times_s += times
        if scene.kind != "static":
            truth.visual_event_times_s += times
        truth.scenes.append(SceneTruth(scene.kind, round(start_s, 6), round(end_s, 6), first, stop,
                                       [o.style for o in scene.objects], [o.sound for o in scene.objects],
                                       len(scene.distractors)))
    for times in (truth.event_times_s, truth.sound_times_s, truth.visual_event_times_s):
        times.sort()
    return frames, audio, truth


# --- encoding ---------------------------------------------------------------------------------


def write_synthetic_video(path: str | os.PathLike, scenes: list[SceneSpec], fps: float = 25.0,
                          size: tuple[int, int] = (256, 256), sample_rate: int = 16000,
                          seed: int | np.random.Generator = 0) -> ClipTruth:
    """`render_clip`, then `write_mp4` to `path`; returns the ground truth."""
    frames, audio, truth = render_clip(scenes, fps, size, sample_rate, seed)
    media.write_mp4(path, frames, fps, audio, sample_rate)
    return truth


__all__ = [
    "DEMO_CLASSES", "EVENT_STYLES", "SOUND_STYLES", "ClipTruth", "DistractorSpec", "ObjectSpec", "SceneSpec",
    "SceneTruth", "event_schedule", "event_sound", "random_background", "random_distractor",
    "random_object", "random_object_color", "random_scene", "random_scenes", "render_clip", "render_scene_audio",
    "render_scene_frames", "write_synthetic_video",
]
