"""Expressions over a recorded video: one row per (analysed frame, face), stable face IDs.

Frames are streamed with PyAV (``av.open``), one at a time: a video is never held in memory.
Every ``every``-th frame is analysed (by default about :data:`ANALYSED_PER_SECOND` frames per
second of video, from the stream's average frame rate); a :class:`~fer.tracking.FaceTracker`
gives each face an ID that stays the same from frame to frame and, unless ``smoothing`` is 0,
averages its probabilities over time so labels do not flicker. An annotated copy (boxes, IDs
and labels drawn on *every* frame, from the latest analysed one) can be written as MP4.

Faults are handled so that work is never lost: a file that cannot be read at all raises
:class:`~fer.errors.VideoError` with one sentence a person can act on; a fault part-way through
(a truncated or corrupt file) stops the analysis, keeps the rows analysed so far, sets
``VideoResult.error`` and closes the annotated output properly so what was written plays.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from .emotions import COLORS_RGB, DISPLAY_NAMES, EMOTIONS
from .errors import FerError, VideoError
from .results import summarize_faces, video_row

ANALYSED_PER_SECOND = 5.0
"""Default analysis rate: about this many frames per second of video are analysed."""

VIDEO_EXTENSIONS = (".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v")
"""Upload types the app offers (any format FFmpeg reads works from the CLI)."""

DEFAULT_FPS = 25.0  # when a stream declares no frame rate at all

ProgressFn = Callable[[int, "int | None", float], None]


@dataclass
class VideoResult:
    """What :func:`analyze_video` found. ``rows`` hold one dict per (analysed frame, face) with
    the columns of :data:`fer.results.VIDEO_COLUMNS`; ``frames_total`` is the container's count
    or an estimate from its duration (None when unknown)."""

    rows: list[dict] = field(default_factory=list)
    fps: float = 0.0
    frames_total: int | None = None
    frames_read: int = 0
    frames_analyzed: int = 0
    duration: float | None = None
    every: int = 1
    smoothing: float = 0.0
    width: int = 0
    height: int = 0
    cancelled: bool = False
    error: str | None = None
    elapsed_s: float = 0.0
    name: str = "video"
    model: str = ""
    out_path: str | None = None
    annotated: bytes | None = field(default=None, repr=False)

    @property
    def faces(self) -> list[dict]:
        """One summary per face ID (see :func:`summarize_faces`)."""
        return summarize_faces(self.rows)

    @property
    def seconds_read(self) -> float:
        """How much of the video was gone through (seconds)."""
        return self.frames_read / self.fps if self.fps else 0.0

    @property
    def analysed_fps(self) -> float:
        return self.frames_analyzed / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def message(self) -> str | None:
        """A sentence for people about anything unusual (error, cancellation, no face)."""
        parts = []
        if self.error:
            parts.append(
                f"Stopped after {self.seconds_read:.1f} s: {self.error}. "
                f"The {self.frames_analyzed} frames analysed before are kept."
            )
        elif self.cancelled:
            parts.append(
                f"Cancelled after {self.seconds_read:.1f} s of video; the "
                f"{self.frames_analyzed} frames analysed so far are kept."
            )
        if not self.rows:
            parts.append(
                f"No face was found in the {self.frames_analyzed} analysed frames "
                f"({self.seconds_read:.1f} s of video)."
            )
        return " ".join(parts) or None

    @property
    def summary(self) -> dict:
        return {"faces": self.faces, "message": self.message}

    def to_dict(self, rows: bool = True) -> dict:
        """Everything as JSON-ready data (the annotated video's bytes left out)."""
        meta = {
            "video": self.name,
            "model": self.model,
            "fps": round(self.fps, 3),
            "frames_total": self.frames_total,
            "frames_read": self.frames_read,
            "frames_analyzed": self.frames_analyzed,
            "every": self.every,
            "duration": None if self.duration is None else round(self.duration, 3),
            "smoothing": self.smoothing,
            "width": self.width,
            "height": self.height,
            "cancelled": self.cancelled,
            "error": self.error,
            "message": self.message,
            "faces": self.faces,
        }
        if rows:
            meta["rows"] = self.rows
        return meta

    def summary_lines(self) -> list[str]:
        """The result in a few lines of text (the CLI's output)."""
        head = (
            f"{self.name}: {self.seconds_read:.1f} s, {self.frames_read} frames at "
            f"{self.fps:.2f} fps, {self.frames_analyzed} analysed (every "
            f"{_ordinal(self.every)} frame)"
        )
        lines = [head]
        for face in self.faces:
            shares = ", ".join(
                f"{e} {100 * face[e]:.0f}%"
                for e in sorted(EMOTIONS, key=lambda e: -face[e])
                if face[e] > 0
            )
            lines.append(
                f"face {face['face_id']}: seen {face['first_seen']:.1f}-"
                f"{face['last_seen']:.1f} s in {face['frames']} analysed frames, "
                f"mostly {face['dominant']} ({100 * face['dominant_share']:.0f}%): {shares}"
            )
        if not self.rows:
            lines.append(f"no face found in the {self.frames_analyzed} analysed frames")
        return lines


def _ordinal(n: int) -> str:
    if n == 1:
        return ""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


# --------------------------------------------------------------------------------------------
# JSON (the rows as a table: fer.results.Results.from_video)


def result_to_json(result: VideoResult, indent: int | None = 1) -> str:
    """The result (meta data, face summaries and rows) as JSON text."""
    return json.dumps(result.to_dict(), indent=indent)


# --------------------------------------------------------------------------------------------
# Reading


def _video_name(source: Any, name: str | None) -> str:
    if name:
        return name
    if isinstance(source, (str, os.PathLike)):
        return Path(source).name or str(source)
    own = getattr(source, "name", None)
    return os.path.basename(own) if isinstance(own, str) and own else "video"


def _ffmpeg_message(exc: BaseException) -> str:
    """FFmpeg's reason without the file path PyAV appends (``[Errno 1094995529] Invalid data
    found when processing input: '/tmp/x.mp4'`` -> ``Invalid data found when processing input``)."""
    import av

    if isinstance(exc, av.FFmpegError) and getattr(exc, "strerror", None):
        return str(exc.strerror).rstrip(".")
    text = str(exc).strip() or type(exc).__name__
    return text.rstrip(".")


def _is_cover_picture(stream) -> bool:
    """An album cover stored as a one-frame 'video' stream (in audio files)."""
    try:
        from av.stream import Disposition

        return stream.type == "video" and bool(stream.disposition & Disposition.attached_pic)
    except (ImportError, AttributeError, TypeError):
        return False


def _open_input(source: Any, video_name: str):
    """Open the container and pick its video stream, or raise a VideoError saying why not."""
    import av

    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.exists():
            raise VideoError(f"{video_name} does not exist")
        if path.is_dir():
            raise VideoError(f"{video_name} is a folder, not a video file")
        if path.stat().st_size == 0:
            raise VideoError(f"{video_name} is empty (0 bytes)")
        source = str(path)
    try:
        container = av.open(source, mode="r")
    except av.FFmpegError as exc:
        raise VideoError(
            f"{video_name} is not a video file that can be read ({_ffmpeg_message(exc)})"
        ) from None
    except OSError as exc:
        raise VideoError(f"{video_name} cannot be read ({exc.strerror or exc})") from None
    try:
        streams = list(container.streams)
        pictures = [s for s in streams if _is_cover_picture(s)]
        video = next((s for s in streams if s.type == "video" and s not in pictures), None)
        if video is None:
            kinds = sorted({s.type for s in streams if s not in pictures})
            kinds += ["a cover picture"] if pictures else []
            has = f"only {' and '.join(kinds)}" if kinds else "no streams at all"
            raise VideoError(f"{video_name} has no video stream ({has})")
        if video.codec_context is None:
            codec = getattr(video.codec, "name", None) or "unknown"
            raise VideoError(
                f"{video_name} uses a video codec ({codec}) that cannot be decoded here"
            )
        try:
            video.thread_type = "AUTO"  # decode on all cores
        except Exception:  # pragma: no cover - an option, never a failure
            pass
    except BaseException:
        container.close()
        raise
    return container, video


def _stream_facts(container, stream) -> tuple[float, bool, float | None, int | None, bool]:
    """(fps, fps_known, duration_s, frames_total, frames_total_exact)."""
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    fps_known = bool(rate) and 0 < float(rate) < 1000
    fps = float(rate) if fps_known else DEFAULT_FPS
    duration = None
    if stream.duration and stream.time_base:
        duration = float(stream.duration * stream.time_base)
    elif container.duration:
        duration = container.duration / 1_000_000  # AV_TIME_BASE
    exact = bool(stream.frames and stream.frames > 0)
    total = int(stream.frames) if exact else (round(duration * fps) if duration else None)
    return fps, fps_known, duration, total, exact


@dataclass(frozen=True)
class VideoInfo:
    """What a video's headers say (no frame decoded)."""

    name: str
    fps: float
    fps_known: bool
    duration: float | None
    frames_total: int | None
    width: int
    height: int
    codec: str

    def every(self, every: int | None = None) -> int:
        """The analysis step :func:`analyze_video` will use for ``every``."""
        return analysis_step(every, self.fps)

    def describe(self) -> str:
        """``clip.mp4: 2.0 s, 320×240, 10.00 frames/s, h264`` (what is known of it)."""
        duration = f"{self.duration:.1f} s, " if self.duration else ""
        codec = f", {self.codec}" if self.codec else ""
        return f"{self.name}: {duration}{self.width}×{self.height}, {self.fps:.2f} frames/s{codec}"


def probe_video(source: Any, name: str | None = None) -> VideoInfo:
    """Frame rate, duration, frame count (or estimate), size and codec from the headers;
    raises :class:`VideoError` like :func:`analyze_video` for files that cannot be read."""
    video_name = _video_name(source, name)
    container, stream = _open_input(source, video_name)
    try:
        fps, fps_known, duration, total, _ = _stream_facts(container, stream)
        return VideoInfo(
            video_name,
            fps,
            fps_known,
            duration,
            total,
            int(stream.width or 0),
            int(stream.height or 0),
            getattr(stream.codec_context, "name", "") or "",
        )
    finally:
        container.close()


def analysis_step(every: int | None, fps: float) -> int:
    """``every`` when given, else :func:`default_every` for this frame rate."""
    return int(every) if every else default_every(fps)


def default_every(fps: float, per_second: float | None = ANALYSED_PER_SECOND) -> int:
    """Analyse every N-th frame so that about ``per_second`` frames per second are analysed
    (None: every frame)."""
    return 1 if per_second is None else max(1, round(fps / per_second))


def _upright(rgb: np.ndarray, rotation: int) -> np.ndarray:
    """Apply the display rotation phones record (counter-clockwise degrees)."""
    k = round(rotation / 90) % 4 if rotation else 0
    return np.ascontiguousarray(np.rot90(rgb, k)) if k else rgb


# --------------------------------------------------------------------------------------------
# Writing


def video_encoder() -> str:
    """libx264 (H.264, plays in every browser) when this PyAV has it, else MPEG-4 Part 2."""
    import av

    for name in ("libx264", "mpeg4"):
        try:
            av.codec.Codec(name, "w")
            return name
        except Exception:
            continue
    raise VideoError("no H.264 or MPEG-4 encoder is available to write the annotated video")


class _AnnotatedWriter:
    """MP4 writer opened at the first frame (its size fixes the output's, trimmed to even)."""

    def __init__(self, path: str | os.PathLike, fps: float):
        self.path = str(path)
        self.rate = Fraction(fps).limit_denominator(1001) if fps > 0 else Fraction(25)
        self.container = None
        self.stream = None
        self.size: tuple[int, int] | None = None
        self.frames = 0

    def _open(self, width: int, height: int) -> None:
        import av

        codec = video_encoder()
        width, height = max(2, width - width % 2), max(2, height - height % 2)
        # index first: a browser can start playing before the whole file has arrived
        self.container = av.open(
            self.path, mode="w", format="mp4", container_options={"movflags": "+faststart"}
        )
        options = {"preset": "veryfast", "crf": "23"} if codec == "libx264" else {}
        stream = self.container.add_stream(codec, rate=self.rate, options=options)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        if codec == "mpeg4":
            stream.bit_rate = max(1_000_000, width * height * 4)
        self.stream, self.size = stream, (width, height)

    def write(self, rgb: np.ndarray) -> None:
        import av

        if self.container is None:
            self._open(rgb.shape[1], rgb.shape[0])
        width, height = self.size
        if rgb.shape[1] < width or rgb.shape[0] < height:  # the stream changed size part-way
            import cv2

            rgb = cv2.resize(rgb, (width, height), interpolation=cv2.INTER_AREA)
        frame = av.VideoFrame.from_ndarray(
            np.ascontiguousarray(rgb[:height, :width]), format="rgb24"
        )
        for packet in self.stream.encode(frame):
            self.container.mux(packet)
        self.frames += 1

    def close(self) -> None:
        """Flush the encoder and finish the file (safe to call twice, and after a fault)."""
        if self.container is None:
            return
        try:
            for packet in self.stream.encode(None):
                self.container.mux(packet)
        finally:
            self.container.close()
            self.container = None


def _draw_tracks(rgb: np.ndarray, tracks: list) -> np.ndarray:
    from .drawing import draw_label_box

    out = rgb.copy()
    for track in tracks:
        text = f"#{track.track_id} {DISPLAY_NAMES[track.label]} {100 * track.confidence:.0f}%"
        draw_label_box(out, track.box, text, COLORS_RGB[track.label])
    return out


# --------------------------------------------------------------------------------------------
# The analysis


def _truncation(
    result: VideoResult, frames_total: int | None, exact: bool, last_t: float
) -> str | None:
    """A message when the stream ended well before the container said it would."""
    if exact and frames_total and result.frames_read < frames_total - max(2, frames_total // 50):
        return (
            f"the video ended after {result.frames_read} of its {frames_total} frames "
            "(the file looks truncated)"
        )
    duration = result.duration
    if duration and duration - last_t > max(1.0, 0.1 * duration):
        return (
            f"the video ended at {last_t:.1f} s of its {duration:.1f} s (the file looks truncated)"
        )
    return None


def analyze_video(
    source: Any,
    analyzer,
    every: int | None = None,
    smoothing: float = 0.6,
    out_path: str | os.PathLike | None = None,
    progress: ProgressFn | None = None,
    should_cancel: Callable[[], bool] | None = None,
    name: str | None = None,
    result: VideoResult | None = None,
) -> VideoResult:
    """Analyse a video file (a path, or a seekable binary file object) with ``analyzer``
    (:class:`fer.analyzer.Analyzer`).

    ``every``: analyse every N-th frame (default: about 5 per second of video). ``smoothing``:
    the tracker's weight of the past, 0 for raw per-frame probabilities. ``out_path``: write an
    annotated MP4 there. ``progress(frames_done, frames_total_or_None, elapsed_s)`` is called
    after each analysed frame and at the end; ``should_cancel()`` is polled before each frame
    and stops the analysis, keeping the rows so far (``result.cancelled``). ``name`` is the
    video's name in messages (default: the file name). ``result``: a fresh
    :class:`VideoResult` to fill in place of a new one, so that a caller still holds the rows
    analysed so far when the call is interrupted by an exception it does not catch (Streamlit
    stops a script run by raising one at its next ``st`` call).

    Raises :class:`VideoError` when not a single frame can be read; later faults end the
    analysis with ``result.error`` set and the partial rows kept.
    """
    from .tracking import FaceTracker

    if every is not None and int(every) < 1:
        raise FerError(f"every must be a positive number of frames, not {every}")
    video_name = _video_name(source, name)
    started = time.perf_counter()
    container, stream = _open_input(source, video_name)
    result = result if result is not None else VideoResult()
    total_exact = _start_result(
        result, container, stream, every, smoothing, video_name, analyzer, out_path
    )
    writer = _open_writer(out_path, result.fps, container)
    report = _Reporter(result, progress, started)
    try:
        frames = _decoded_frames(container.decode(stream), result, should_cancel, video_name)
        last_t = _analyse_frames(
            frames, analyzer, FaceTracker(smoothing=result.smoothing), result, writer, report
        )
        _check_ending(result, total_exact, last_t, video_name)
    except VideoError:
        raise
    except Exception as exc:  # a fault part-way: keep what was analysed
        _keep_after_fault(result, exc, video_name)
    finally:
        _close_video(container, writer, result)
    report()
    return result


def _start_result(
    result: VideoResult,
    container,
    stream,
    every: int | None,
    smoothing: float,
    video_name: str,
    analyzer,
    out_path,
) -> bool:
    """Fill in what is known before the first frame (rate, length, step, names); returns
    whether the container's frame count is exact."""
    fps, _, duration, frames_total, total_exact = _stream_facts(container, stream)
    result.fps, result.frames_total, result.duration = fps, frames_total, duration
    result.every = analysis_step(every, fps)
    result.smoothing, result.name = float(smoothing or 0.0), video_name
    result.model = getattr(analyzer, "model_name", "")
    result.out_path = str(out_path) if out_path else None
    return total_exact


def _open_writer(out_path, fps: float, container) -> _AnnotatedWriter | None:
    """The annotated video's writer (None without ``out_path``); when its folder cannot be
    made, the input is closed and a VideoError says why."""
    if not out_path:
        return None
    try:
        Path(out_path).parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        container.close()
        raise VideoError(f"cannot write {out_path} ({exc.strerror or exc})") from None
    return _AnnotatedWriter(out_path, fps)


class _Reporter:
    """Calls ``progress(frames_read, frames_total, elapsed_s)`` and keeps ``elapsed_s``."""

    def __init__(self, result: VideoResult, progress: ProgressFn | None, started: float):
        self.result, self.progress, self.started = result, progress, started
        self.last = 0.0

    def due(self) -> bool:
        """A quarter of a second since the last report (between analysed frames)."""
        return time.perf_counter() - self.started - self.last > 0.25

    def __call__(self) -> None:
        result = self.result
        result.elapsed_s = time.perf_counter() - self.started
        if self.progress is not None:
            self.progress(result.frames_read, result.frames_total, result.elapsed_s)
            self.last = result.elapsed_s


def _decoded_frames(
    frames, result: VideoResult, should_cancel: Callable[[], bool] | None, video_name: str
):
    """The frames until the end, a cancel (``result.cancelled``) or a decoding fault
    (``result.error``; a VideoError when no frame was read yet)."""
    import av

    while True:
        if should_cancel is not None and should_cancel():
            result.cancelled = True
            return
        try:
            frame = next(frames)
        except StopIteration:
            return
        except av.FFmpegError as exc:
            if result.frames_read == 0:
                raise VideoError(
                    f"{video_name} cannot be decoded; the file is damaged, truncated "
                    f"or in an unsupported format ({_ffmpeg_message(exc)})"
                ) from None
            result.error = f"the video could not be decoded further ({_ffmpeg_message(exc)})"
            return
        yield frame


def _analyse_frames(
    frames,
    analyzer,
    tracker,
    result: VideoResult,
    writer: _AnnotatedWriter | None,
    report: _Reporter,
) -> float:
    """Analyse every ``result.every``-th frame and write each frame, with the latest tracks
    drawn on it, to ``writer``; returns the last frame's time (s)."""
    tracks: list = []
    start_time: float | None = None
    last_t = 0.0
    for frame in frames:
        index = result.frames_read
        result.frames_read += 1
        if frame.time is not None and start_time is None:
            start_time = frame.time
        t = (
            (frame.time - start_time)
            if frame.time is not None and start_time is not None
            else index / result.fps
        )
        last_t = t
        analyse = index % result.every == 0
        rgb = None
        if analyse or writer is not None:
            rgb = frame_rgb(frame)
            if index == 0:
                result.height, result.width = rgb.shape[:2]
        if analyse:
            faces = analyzer.analyze(rgb)
            tracks = track_faces(tracker, faces)
            result.frames_analyzed += 1
            result.rows.extend(video_row(t, index, f, tr) for f, tr in zip(faces, tracks))
        if writer is not None:
            writer.write(_draw_tracks(rgb, tracks) if tracks else rgb)
        if analyse or report.due():
            report()
    return last_t


def frame_rgb(frame) -> np.ndarray:
    """A decoded frame as an upright RGB array."""
    return _upright(frame.to_ndarray(format="rgb24"), getattr(frame, "rotation", 0))


def track_faces(tracker, faces: list) -> list:
    """The tracker's tracks for one frame's faces (one per face, in the same order)."""
    probs = np.array([f.probabilities for f in faces], np.float32).reshape(-1, len(EMOTIONS))
    return tracker.update([f.box for f in faces], probs)


def _check_ending(result: VideoResult, total_exact: bool, last_t: float, video_name: str) -> None:
    """``result.error`` when the stream ended early; a VideoError when no frame was read."""
    if result.error is None and not result.cancelled and result.frames_read:
        result.error = _truncation(result, result.frames_total, total_exact, last_t)
    if result.frames_read == 0 and not result.cancelled:
        raise VideoError(
            f"{video_name} holds no video frame that can be decoded (the file is "
            "damaged, truncated or in an unsupported format)"
        )


def _keep_after_fault(result: VideoResult, exc: Exception, video_name: str) -> None:
    """A fault part-way keeps the rows and sets ``result.error``; before the first frame it
    is a VideoError."""
    import av

    if result.frames_read == 0:
        raise VideoError(f"{video_name} cannot be read ({_ffmpeg_message(exc)})") from None
    result.error = (
        f"{type(exc).__name__}: {_ffmpeg_message(exc)}"
        if not isinstance(exc, (av.FFmpegError, FerError, OSError))
        else _ffmpeg_message(exc)
    )


def _close_video(container, writer: _AnnotatedWriter | None, result: VideoResult) -> None:
    """Close the input, then finish the annotated video (removed when nothing was written)."""
    try:
        container.close()
    finally:
        if writer is not None:
            try:
                writer.close()
            except Exception as exc:
                result.error = result.error or f"the annotated video could not be finished ({exc})"
            if writer.frames == 0:  # nothing read: leave no empty file behind
                Path(writer.path).unlink(missing_ok=True)


def analyze_video_bytes(
    data: bytes, analyzer, name: str = "video.mp4", annotate: bool = True, **kwargs
) -> VideoResult:
    """:func:`analyze_video` on an upload held in memory. The upload and the annotated video
    go through temporary files that are always removed; the annotated MP4 comes back as
    ``result.annotated`` (bytes; also in ``result`` when the call was interrupted).
    ``kwargs`` go to :func:`analyze_video`."""
    if not data:
        raise VideoError(f"{name} is empty (0 bytes)")
    suffix = Path(name).suffix.lower() if Path(name).suffix else ".mp4"
    tmp_in = tmp_out = None
    holder = kwargs.pop("result", None)
    result = holder if holder is not None else VideoResult()
    kwargs["result"] = result
    try:
        with tempfile.NamedTemporaryFile(prefix="fer-video-", suffix=suffix, delete=False) as fh:
            tmp_in = fh.name
            fh.write(data)
        if annotate:
            fd, tmp_out = tempfile.mkstemp(prefix="fer-annotated-", suffix=".mp4")
            os.close(fd)
        analyze_video(tmp_in, analyzer, out_path=tmp_out, name=name, **kwargs)
        return result
    finally:
        # also when interrupted: the writer was closed, what it wrote is a playable file
        result.out_path = None
        if (
            result.annotated is None
            and tmp_out
            and os.path.exists(tmp_out)
            and os.path.getsize(tmp_out) > 0
        ):
            result.annotated = Path(tmp_out).read_bytes()
        for path in (tmp_in, tmp_out):
            if path:
                Path(path).unlink(missing_ok=True)
