"""Video I/O: probe and decode a video once (analysis frames and mono audio on one timeline),
read an audio file, and write frames + audio as an mp4 (`write_mp4`, the project's one encoder).

Every later step (scenes, windows, metrics, training samples) reads the `DecodedMedia` value this
module returns; nobody reopens the file. Audio and video are demuxed in a single pass so a
file is read from disk once.

Failures are `MediaError`s with a short machine-readable `reason` (`empty_file`, `not_a_video`,
`no_audio`, ...), which the pipeline turns into a failed manifest row.
"""

from __future__ import annotations

import math
import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from curation.config import MediaConfig


class MediaError(Exception):
    """A video that cannot be curated. `reason` is a short code for the manifest."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class ProbeInfo:
    """Container facts read from headers only (no decoding)."""

    size_bytes: int
    duration_s: float
    fps: float
    width: int  # display width (sample aspect ratio and rotation applied)
    height: int
    video_codec: str
    has_audio: bool
    audio_sample_rate: int | None
    audio_channels: int | None
    rotation: int  # degrees, counter-clockwise, from the display matrix


@dataclass
class DecodedMedia:
    """A decoded video on one timeline starting at `start_s` (seconds in the source file).

    frames:      (N, H, W, 3) uint8 RGB, sampled at `fps` (frame k shows time start_s + k / fps)
    audio:       (S,) float32 mono in [-1, 1] at `sample_rate` Hz, sample 0 at start_s
    """

    frames: np.ndarray
    fps: float
    audio: np.ndarray
    sample_rate: int
    start_s: float = 0.0

    @property
    def duration_s(self) -> float:
        return max(len(self.frames) / self.fps, len(self.audio) / self.sample_rate)

    def frame_slice(self, start_s: float, end_s: float) -> slice:
        """Frames whose timestamps fall in [start_s, end_s), times relative to this media."""
        first = math.ceil(start_s * self.fps - 1e-6)
        stop = math.ceil(end_s * self.fps - 1e-6)
        return slice(max(first, 0), min(max(stop, 0), len(self.frames)))

    def audio_slice(self, start_s: float, end_s: float) -> slice:
        first = round(start_s * self.sample_rate)
        stop = round(end_s * self.sample_rate)
        return slice(max(first, 0), min(max(stop, 0), len(self.audio)))


def _open(path: Path) -> av.container.InputContainer:
    try:
        return av.open(str(path), metadata_errors="ignore")
    except (av.error.InvalidDataError, av.error.EOFError) as exc:
        raise MediaError("not_a_video", str(exc)) from exc
    except av.FFmpegError as exc:
        raise MediaError("unreadable", str(exc)) from exc


def _display_size(stream: av.video.stream.VideoStream, rotation: int) -> tuple[int, int]:
    width, height = stream.codec_context.width, stream.codec_context.height
    sar = stream.sample_aspect_ratio
    if sar and sar > 0 and sar != 1:
        width = round(width * sar)
    if rotation % 180:
        width, height = height, width
    return width, height


def _rotation(container: av.container.InputContainer) -> int:
    """Display-matrix rotation from the first decodable frame (PyAV exposes it per frame)."""
    try:
        for frame in container.decode(video=0):
            return int(round(frame.rotation or 0))
    except av.FFmpegError:
        return 0
    return 0


def probe(path: str | os.PathLike, limits: MediaConfig | None = None) -> ProbeInfo:
    """Read a file's stream facts and apply the input limits. Raises `MediaError`."""
    limits = limits or MediaConfig()
    path = Path(path)
    if not path.is_file():
        raise MediaError("missing_file", str(path))
    size = path.stat().st_size
    if size == 0:
        raise MediaError("empty_file")
    if size > limits.max_file_mb * 1e6:
        raise MediaError("too_large", f"{size / 1e6:.0f} MB > {limits.max_file_mb:.0f} MB")
    with _open(path) as container:
        if not container.streams.video:
            raise MediaError("no_video_stream", "audio-only or data file")
        video = container.streams.video[0]
        audio = container.streams.audio[0] if container.streams.audio else None
        duration = _duration_s(container, video)
        if not duration > 0:
            raise MediaError("zero_duration")
        if limits.require_audio and audio is None:
            raise MediaError("no_audio")
        if duration > limits.max_duration_s:
            raise MediaError("too_long", f"{duration:.1f} s > {limits.max_duration_s:.0f} s")
        rotation = _rotation(container)
        width, height = _display_size(video, rotation)
        if width * height <= 0:
            raise MediaError("not_a_video", "frame size is zero")
        if width * height > limits.max_pixels:
            raise MediaError("too_large", f"{width}x{height} frames")
        rate = video.average_rate or video.guessed_rate or video.base_rate
        return ProbeInfo(
            size_bytes=size,
            duration_s=duration,
            fps=float(rate) if rate else 0.0,
            width=width,
            height=height,
            video_codec=video.codec_context.name,
            has_audio=audio is not None,
            audio_sample_rate=audio.codec_context.sample_rate if audio else None,
            audio_channels=audio.codec_context.channels if audio else None,
            rotation=rotation,
        )


def _duration_s(container: av.container.InputContainer, video: av.video.stream.VideoStream) -> float:
    if video.duration is not None and video.time_base is not None:
        return float(video.duration * video.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    return 0.0


def analysis_size(width: int, height: int, short_side: int) -> tuple[int, int]:
    """(width, height) with the short side scaled to `short_side`, both even (codec friendly)."""
    scale = short_side / min(width, height)
    return max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2)


# Called with (time_s, frame) for every decoded frame at the source rate: frame is a small
# (H, sink_width, 3) uint8 BGR image. Lets scene detection see every frame without a second decode.
FrameSink = Callable[[float, np.ndarray], None]


def decode(
    path: str | os.PathLike,
    config: MediaConfig | None = None,
    start_s: float = 0.0,
    end_s: float | None = None,
    info: ProbeInfo | None = None,
    frame_sink: FrameSink | None = None,
    sink_width: int = 256,
) -> DecodedMedia:
    """Decode [start_s, end_s) of a file once: frames at `config.fps` / `config.short_side`,
    mono float32 audio at `config.sample_rate`, both starting at `start_s`.

    For each target time T = start_s + k / fps the source frame nearest to T is kept (the first
    frame whose timestamp is past T - half a source frame), or with `config.frame_pick =
    "at_or_after"` the first frame whose timestamp is at or after T (the authors' evaluation).
    `frame_sink`, when given, also receives every source frame in [start_s, end_s), downscaled
    to `sink_width` pixels wide (display aspect kept), in BGR order.
    """
    config = config or MediaConfig()
    info = info or probe(path, config)
    whole_file = end_s is None
    end_s = info.duration_s if end_s is None else min(end_s, info.duration_s)
    if end_s <= start_s:
        raise MediaError("zero_duration", f"empty range [{start_s}, {end_s})")
    out_w, out_h = analysis_size(info.width, info.height, config.short_side)
    # Resizing happens before rotation, so ask swscale for the pre-rotation shape.
    scale_w, scale_h = (out_h, out_w) if info.rotation % 180 else (out_w, out_h)
    n_targets = math.ceil((end_s - start_s) * config.fps - 1e-6)
    half_frame = 0.5 / info.fps if info.fps > 0 else 0.0
    # A frame at time t serves every target T < t + pick_offset: half a frame for the nearest frame,
    # ~0 for the first frame at or after T (1 µs absorbs timestamps that equal T up to rounding).
    pick_offset = half_frame if config.frame_pick == "nearest" else 1e-6
    # Like the scenedetect CLI: coded frame scaled to ~256 px wide (height a multiple of 4 for 4:2:0).
    coded_w, coded_h = (info.height, info.width) if info.rotation % 180 else (info.width, info.height)
    sink_size = (sink_width, max(4, round(coded_h * sink_width / coded_w / 4) * 4))
    _check_decoded_size(info, config, out_w, out_h, n_targets, sink_size if frame_sink is not None else None)
    # Streams running on past this are not the file the header describes (see below).
    overrun_s = end_s + max(1.0, 0.05 * (end_s - start_s))
    deadline = time.monotonic() + config.max_decode_s

    frames: list[np.ndarray] = []
    audio_chunks: list[np.ndarray] = []
    audio_start: float | None = None
    resampler = av.AudioResampler(format="flt", layout="mono", rate=config.sample_rate)

    def to_sink_image(frame: av.VideoFrame) -> np.ndarray:
        small = _to_array(frame, sink_size[0], sink_size[1], "bgr", cv2.INTER_LINEAR)
        return np.ascontiguousarray(np.rot90(small, k=info.rotation // 90)) if info.rotation % 360 else small

    sink = _SinkThread(frame_sink, to_sink_image) if frame_sink is not None else None
    last_video_t = last_audio_t = -math.inf
    try:
        with _open(Path(path)) as container:
            origin = (container.start_time or 0) / av.time_base
            video = container.streams.video[0]
            video.thread_type = "AUTO"
            streams = [video]
            audio = container.streams.audio[0] if container.streams.audio else None
            if audio is not None:
                streams.append(audio)
            if start_s > 0:
                container.seek(int((origin + start_s) * av.time_base), backward=True)
            for packet in container.demux(*streams):
                if time.monotonic() > deadline:
                    raise MediaError("decode_timeout", f"decoding took over {config.max_decode_s:g} s (media.max_decode_s)")
                if last_video_t > overrun_s and (audio is None or last_audio_t > overrun_s):
                    if whole_file:  # a lying header must not let an arbitrarily long file through
                        raise MediaError("duration_mismatch", f"streams run past the {info.duration_s:.1f} s "
                                         "the header gives")
                    break  # the requested range is complete
                for frame in packet.decode():
                    if frame.time is None:
                        continue
                    t = frame.time - origin
                    if isinstance(frame, av.VideoFrame):
                        last_video_t = max(last_video_t, t)
                    if isinstance(frame, av.AudioFrame):
                        last_audio_t = max(last_audio_t, t)
                        if whole_file and t > config.max_duration_s:
                            raise MediaError("too_long", f"audio runs past {config.max_duration_s:g} s "
                                             f"(the header says {info.duration_s:.1f} s)")
                        for chunk in resampler.resample(frame):
                            if audio_start is None:
                                audio_start = chunk.time - origin if chunk.time is not None else t
                            audio_chunks.append(chunk.to_ndarray()[0])
                        continue
                    if sink is not None and start_s - half_frame <= t < end_s - half_frame:
                        sink.put(t - start_s, frame)
                    if len(frames) >= n_targets:
                        continue
                    target = start_s + len(frames) / config.fps
                    if target >= t + pick_offset:
                        continue  # this frame is not the one picked for the next target time
                    image = None
                    while len(frames) < n_targets and start_s + len(frames) / config.fps < t + pick_offset:
                        if image is None:
                            image = _to_array(frame, scale_w, scale_h, "rgb", cv2.INTER_AREA)
                            if info.rotation % 360:
                                image = np.ascontiguousarray(np.rot90(image, k=info.rotation // 90))
                        frames.append(image)
            for chunk in resampler.resample(None):
                audio_chunks.append(chunk.to_ndarray()[0])
    except av.FFmpegError as exc:
        raise MediaError("decode_error", str(exc)) from exc
    finally:
        if sink is not None:
            sink.close()
    if not frames:
        raise MediaError("no_frames", "no decodable video frame in range")
    # A file cut between packets still has its full-length header: compare with what decoded.
    covered = last_video_t + (1.0 / info.fps if info.fps > 0 else 0.0)
    if covered < end_s - max(0.5, 0.05 * (end_s - start_s)):
        raise MediaError("truncated", f"video ends at {covered:.2f} s, header says {end_s:.2f} s")
    waveform = _place_audio(audio_chunks, audio_start, start_s, end_s, config.sample_rate)
    if config.require_audio and not np.isfinite(waveform).all():
        raise MediaError("decode_error", "non-finite audio samples")
    return DecodedMedia(
        frames=np.stack(frames), fps=config.fps, audio=waveform, sample_rate=config.sample_rate, start_s=start_s
    )


def _check_decoded_size(info: ProbeInfo, config: MediaConfig, out_w: int, out_h: int, n_frames: int,
                        sink_size: tuple[int, int] | None) -> None:
    """Refuse, before decoding, a video whose decoded frames would not fit the limits: memory is
    (analysis pixels x frames x 3 bytes), and an extreme aspect ratio (2x2000) scales a tiny
    source to huge analysis and scene-detection frames."""
    sizes = {"analysis": (out_w, out_h)} | ({"scene-detection": sink_size} if sink_size else {})
    for what, (w, h) in sizes.items():
        if w * h > config.max_pixels:
            raise MediaError("too_large", f"{info.width}x{info.height} source gives {w}x{h} {what} frames "
                             f"(> media.max_pixels {config.max_pixels})")
    decoded_mb = out_w * out_h * 3 * n_frames / 1e6
    if decoded_mb > config.max_decoded_mb:
        raise MediaError("too_large", f"{n_frames} analysis frames of {out_w}x{out_h} need {decoded_mb:.0f} MB "
                         f"(> media.max_decoded_mb {config.max_decoded_mb:g})")


_YUV420 = ("yuv420p", "yuvj420p")


class _SinkThread:
    """Feeds the frame sink from a second thread while the main thread keeps decoding.

    The sink's work (downscaling, PySceneDetect's OpenCV calls) mostly releases the GIL, so on
    two or more cores it overlaps with decoding instead of adding to it. Frames are handed over
    in decode order through a bounded queue; an error in the sink is re-raised by `close`.
    """

    def __init__(self, sink: FrameSink, convert: Callable[[av.VideoFrame], np.ndarray], depth: int = 32):
        self._sink, self._convert = sink, convert
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="frame-sink", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            if self._error is None:
                try:
                    self._sink(item[0], self._convert(item[1]))
                except BaseException as exc:  # handed to the decoding thread in close()
                    self._error = exc

    def put(self, time_s: float, frame: av.VideoFrame) -> None:
        if self._error is None:
            self._queue.put((time_s, frame))

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()
        if self._error is not None:
            raise self._error


def _to_array(frame: av.VideoFrame, width: int, height: int, order: str, interpolation: int) -> np.ndarray:
    """Downscale a decoded frame to (height, width, 3) uint8 in "rgb" or "bgr" order.

    For 4:2:0 sources (nearly all H.264/VP9/AV1 video) the planes are resized with OpenCV and
    converted to RGB at the small size: about 6x cheaper than swscale's scale+convert, and
    swscale's one-step path dithers dark frames into hue noise that fires false scene cuts
    on fades. Other pixel formats go through swscale in YUV space, then convert.
    """
    if frame.format.name in _YUV420 and frame.width % 2 == 0 and frame.height % 2 == 0 and height % 4 == 0:
        # (H * 3/2, W): the Y plane, then U and V. Slice the flat buffer, not rows: when H is 2 more
        # than a multiple of 4 (480x270, 160x90) a chroma plane ends in the middle of a row.
        flat = frame.to_ndarray().reshape(-1)
        rows, cols = frame.height, frame.width
        luma, chroma = rows * cols, (rows // 2) * (cols // 2)
        y = flat[:luma].reshape(rows, cols)
        u = flat[luma : luma + chroma].reshape(rows // 2, cols // 2)
        v = flat[luma + chroma : luma + 2 * chroma].reshape(rows // 2, cols // 2)
        small = np.concatenate([
            cv2.resize(y, (width, height), interpolation=interpolation),
            cv2.resize(u, (width // 2, height // 2), interpolation=interpolation).reshape(-1, width),
            cv2.resize(v, (width // 2, height // 2), interpolation=interpolation).reshape(-1, width),
        ])
        code = cv2.COLOR_YUV2RGB_I420 if order == "rgb" else cv2.COLOR_YUV2BGR_I420
        return cv2.cvtColor(small, code)
    return frame.reformat(width=width, height=height).to_ndarray(format=f"{order}24")


def _place_audio(
    chunks: list[np.ndarray], chunk_start: float | None, start_s: float, end_s: float, sample_rate: int
) -> np.ndarray:
    """Put decoded samples on the [start_s, end_s) timeline: pad a late start, trim the rest."""
    n_out = round((end_s - start_s) * sample_rate)
    out = np.zeros(n_out, dtype=np.float32)
    if not chunks or chunk_start is None:
        return out
    # AAC decodes can overshoot full scale slightly; the manifest's amplitude is on [-1, 1].
    samples = np.clip(np.concatenate(chunks), -1.0, 1.0, dtype=np.float32)
    offset = round((chunk_start - start_s) * sample_rate)
    if offset < 0:
        samples, offset = samples[-offset:], 0
    n = max(0, min(len(samples), n_out - offset))
    out[offset : offset + n] = samples[:n]
    return out


def read_audio(path: str | os.PathLike, sample_rate: int = 16000) -> np.ndarray:
    """The whole audio track of any file PyAV opens (wav, mp3, m4a, flac, or a video with sound)
    → (S,) float32 mono at `sample_rate`, from the file's first sample."""
    path = Path(path)
    if not path.is_file():
        raise MediaError("missing", f"audio file not found: {path}")
    resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
    chunks: list[np.ndarray] = []
    try:
        with _open(path) as container:
            if not container.streams.audio:
                raise MediaError("no_audio", f"{path} has no audio stream")
            for frame in container.decode(audio=0):
                chunks += [chunk.to_ndarray()[0] for chunk in resampler.resample(frame)]
            chunks += [chunk.to_ndarray()[0] for chunk in resampler.resample(None)]
    except av.FFmpegError as exc:
        raise MediaError("decode_error", str(exc)) from exc
    if not chunks:
        raise MediaError("no_audio", f"{path}: the audio stream decodes to no samples")
    return np.clip(np.concatenate(chunks), -1.0, 1.0, dtype=np.float32)


def write_mp4(path: str | os.PathLike, frames: np.ndarray | None, fps: float, audio: np.ndarray | None = None,
              sample_rate: int = 16000, *, crf: int = 18, preset: str = "ultrafast",
              movflags: str | None = None) -> Path:
    """Encode frames (N, H, W, 3) uint8 RGB as H.264 yuv420p at `fps` and audio (S,) float32
    mono as AAC at `sample_rate`, with PyAV. H and W must be even (4:2:0 chroma). Either
    stream may be None (bad inputs). `movflags` passes through to the mp4 muxer (e.g.
    "faststart"). Returns `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if frames is not None and (frames.ndim != 4 or frames.shape[3] != 3 or frames.dtype != np.uint8):
        raise ValueError(f"frames must be (N, H, W, 3) uint8, got {frames.shape} {frames.dtype}")
    if frames is not None and (frames.shape[1] % 2 or frames.shape[2] % 2):
        raise ValueError(f"H.264 4:2:0 needs an even frame size, got {frames.shape[2]}x{frames.shape[1]}")
    options = {"movflags": movflags} if movflags else {}
    with av.open(str(path), "w", format="mp4", options=options) as container:
        video = sound = None
        if frames is not None:
            video = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
            video.width, video.height = frames.shape[2], frames.shape[1]
            video.pix_fmt = "yuv420p"
            video.options = {"crf": str(crf), "preset": preset}
        if audio is not None:
            sound = container.add_stream("aac", rate=sample_rate, layout="mono")
            # The fast coder is ~3x quicker (AAC dominates small clips); no noise substitution,
            # so noise bursts stay the samples we rendered.
            sound.options = {"aac_coder": "fast", "aac_pns": "0"}
        if video is not None:
            for image in frames:
                # OpenCV's RGB→I420 is BT.601 limited range like swscale's, and ~7x faster.
                yuv = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2YUV_I420)
                container.mux(video.encode(av.VideoFrame.from_ndarray(yuv, format="yuv420p")))
            container.mux(video.encode())
        if sound is not None:
            samples = np.ascontiguousarray(np.clip(audio, -1, 1), dtype=np.float32)
            for offset in range(0, len(samples), 1024):  # AAC's frame size
                frame = av.AudioFrame.from_ndarray(samples[None, offset : offset + 1024], format="flt", layout="mono")
                frame.sample_rate, frame.pts = sample_rate, offset
                container.mux(sound.encode(frame))
            container.mux(sound.encode())
    return path


def read_video_at(
    path: str | os.PathLike, config: MediaConfig, start_s: float, duration_s: float
) -> DecodedMedia:
    """Decode a short excerpt (e.g. a 2 s training sample) with the same code path."""
    return decode(path, config, start_s=start_s, end_s=start_s + duration_s)


__all__ = ["DecodedMedia", "MediaError", "ProbeInfo", "analysis_size", "decode", "probe", "read_audio", "read_video_at", "write_mp4"]
