"""Expressions over a recorded video: one row per (analysed frame, face), stable face IDs.

Frames are streamed with PyAV (:mod:`fer.jobs.video_io`), one at a time: a video is never held in
memory. Every ``every``-th frame is analysed (by default about
:data:`~fer.jobs.video_io.ANALYSED_PER_SECOND` frames per second of video); a
:class:`~fer.jobs.tracking.FaceTracker` gives each face an ID that stays the same from frame to
frame and, unless ``smoothing`` is 0, averages its probabilities over time so labels do not
flicker. An annotated copy (boxes, IDs and labels drawn on *every* frame, from the latest
analysed one) can be written as MP4. :func:`analyze_segment` analyses a part of a video as a
run from the start would (the archive jobs split long videos so).

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
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..config import SMOOTHING
from ..emotions import COLORS_RGB, DISPLAY_NAMES, EMOTIONS
from ..errors import FerError, VideoError
from ..output.progress import ProgressFn
from ..output.results import summarize_faces, video_row
from .video_io import (
    AnnotatedWriter,
    analysis_step,
    ffmpeg_message,
    frame_rgb,
    open_input,
    stream_facts,
    video_name_of,
)

WARMUP_ANALYSED = 12
"""Analysed frames a segment runs the tracker over before its start (more than the tracker's
``max_missed`` + 1, and enough for the smoothing's memory to fade: 0.6 ** 12 < 0.3 %)."""


@dataclass(frozen=True)
class Segment:
    """Frames ``start`` to ``end`` (exclusive; None: to the end) of a video. The tracker first
    runs over ``warmup`` analysed frames before ``start`` (from the key frame before them), so
    IDs and smoothing match a run from the start; those frames give no rows, their tracks come
    back as ``VideoResult.overlap`` for joining to the previous segment."""

    start: int = 0
    end: int | None = None
    warmup: int = WARMUP_ANALYSED


@dataclass
class VideoResult:
    """What :func:`analyze_video` found. ``rows`` hold one dict per (analysed frame, face) with the
    columns of :data:`fer.output.results.VIDEO_COLUMNS`; ``frames_total`` is the container's count
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
    name: str = ""
    model: str = ""
    out_path: str | None = None
    annotated: bytes | None = field(default=None, repr=False)
    overlap: list = field(default_factory=list, repr=False)
    """A segment's warm-up tracks, ``[frame, face_id, x, y, w, h]`` (see :class:`Segment`)."""

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
# JSON (the rows as a table: fer.output.results.Results.from_video)


def result_to_json(result: VideoResult, indent: int | None = 1) -> str:
    """The result (meta data, face summaries and rows) as JSON text."""
    return json.dumps(result.to_dict(), indent=indent)


def _draw_tracks(rgb: np.ndarray, tracks: list) -> np.ndarray:
    from ..output.drawing import draw_label_box

    out = rgb.copy()
    for track in tracks:
        text = f"#{track.track_id} {DISPLAY_NAMES[track.label]} {100 * track.confidence:.0f}%"
        draw_label_box(out, track.box, text, COLORS_RGB[track.label])
    return out


# --------------------------------------------------------------------------------------------
# The analysis


def analyze_video(
    source: Any,
    analyzer,
    every: int | None = None,
    smoothing: float = SMOOTHING,
    out_path: str | os.PathLike | None = None,
    progress: ProgressFn | None = None,
    should_cancel: Callable[[], bool] | None = None,
    result: VideoResult | None = None,
) -> VideoResult:
    """Analyse a video file (a path, or a seekable binary file object) with ``analyzer``
    (:class:`fer.serving.analyzer.Analyzer`).

    ``every``: analyse every N-th frame (default: about 5 per second of video). ``smoothing``:
    the tracker's weight of the past, 0 for raw per-frame probabilities. ``out_path``: write an
    annotated MP4 there. ``progress(frames_done, frames_total_or_None, elapsed_s)`` is called
    after each analysed frame and at the end; ``should_cancel()`` is polled before each frame
    and stops the analysis, keeping the rows so far (``result.cancelled``). ``result``: a fresh
    :class:`VideoResult` to fill in place of a new one, so that a caller still holds the rows
    analysed so far when the call is interrupted by an exception it does not catch (Streamlit
    stops a script run by raising one at its next ``st`` call); its ``name``, when set, names
    the video in messages (default: the file name).

    Raises :class:`VideoError` when not a single frame can be read; later faults end the
    analysis with ``result.error`` set and the partial rows kept.
    """
    result = result if result is not None else VideoResult()
    report = _Reporter(result, progress)
    return _analyse(
        source, analyzer, Segment(), (every, smoothing), result, out_path, report, should_cancel
    )


def analyze_segment(
    source: Any,
    analyzer,
    segment: Segment,
    every: int | None = None,
    smoothing: float = SMOOTHING,
) -> VideoResult:
    """One :class:`Segment` of a video, analysed as :func:`analyze_video` analyses it in a run
    from the start; ``result.frames_read`` and the rows count from ``segment.start`` on, the
    warm-up's tracks are in ``result.overlap``."""
    steps = (every, smoothing)
    try:
        return _analyse(source, analyzer, segment, steps, VideoResult(), None, _Reporter(), None)
    except _SeekMissed:  # decode the warm-up from the first frame instead
        whole_warmup = replace(segment, warmup=segment.start)
        return _analyse(
            source, analyzer, whole_warmup, steps, VideoResult(), None, _Reporter(), None
        )


def _analyse(
    source: Any,
    analyzer,
    segment: Segment,
    steps: tuple[int | None, float],
    result: VideoResult,
    out_path,
    report: _Reporter,
    should_cancel: Callable[[], bool] | None,
) -> VideoResult:
    """The one frame loop: open, (seek,) decode, analyse, track, write, check the ending."""
    from .tracking import FaceTracker

    video_name = video_name_of(source, result.name or None)
    container, stream = open_input(source, video_name)
    try:
        exact = _start_result(result, container, stream, steps, video_name, analyzer, out_path)
        writer = _open_writer(out_path, result.fps)
    except BaseException:
        container.close()
        raise
    try:
        frames = _segment_frames(container, stream, segment, result, should_cancel, video_name)
        tracker = FaceTracker(smoothing=result.smoothing)
        last = _analyse_frames(frames, analyzer, tracker, segment, result, writer, report)
        _check_ending(result, segment, exact, last, video_name)
    except (VideoError, _SeekMissed):
        raise
    except Exception as exc:  # a fault part-way: keep what was analysed
        _keep_after_fault(result, exc, video_name)
    finally:
        _close_video(container, writer, result)
    report()
    return result


def _start_result(
    result: VideoResult, container, stream, steps: tuple, video_name: str, analyzer, out_path
) -> bool:
    """Fill in what is known before the first frame (rate, length, step, names); returns
    whether the container's frame count is exact."""
    every, smoothing = steps
    fps, _, duration, frames_total, total_exact = stream_facts(container, stream)
    result.fps, result.frames_total, result.duration = fps, frames_total, duration
    result.every = analysis_step(every, fps)
    result.smoothing, result.name = float(smoothing or 0.0), video_name
    result.model = getattr(analyzer, "model_name", "")
    result.out_path = str(out_path) if out_path else None
    return total_exact


def _open_writer(out_path, fps: float) -> AnnotatedWriter | None:
    """The annotated video's writer (None without ``out_path``); a VideoError says why its
    folder cannot be made."""
    if not out_path:
        return None
    try:
        Path(out_path).parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise VideoError(f"cannot write {out_path} ({exc.strerror or exc})") from None
    return AnnotatedWriter(out_path, fps)


class _Reporter:
    """Calls ``progress(frames_read, frames_total, elapsed_s)`` and keeps ``elapsed_s``."""

    def __init__(self, result: VideoResult | None = None, progress: ProgressFn | None = None):
        self.result, self.progress = result, progress
        self.started, self.last = time.perf_counter(), 0.0

    def due(self) -> bool:
        """A quarter of a second since the last report (between analysed frames)."""
        return time.perf_counter() - self.started - self.last > 0.25

    def __call__(self) -> None:
        if self.result is None:
            return
        result = self.result
        result.elapsed_s = time.perf_counter() - self.started
        if self.progress is not None:
            self.progress(result.frames_read, result.frames_total, result.elapsed_s)
            self.last = result.elapsed_s


class _SeekMissed(Exception):
    """The seek to a segment's warm-up landed after it."""


def _decoded(container, stream, result: VideoResult, should_cancel, video_name: str) -> Iterator:
    """The decoded frames until the end, a cancel (``result.cancelled``) or a decoding fault
    (``result.error``; a VideoError when no frame was decoded yet)."""
    import av

    frames, decoded = container.decode(stream), 0
    while True:
        if should_cancel is not None and should_cancel():
            result.cancelled = True
            return
        try:
            frame = next(frames)
        except StopIteration:
            return
        except av.FFmpegError as exc:
            if decoded == 0:
                raise VideoError(
                    f"{video_name} cannot be decoded; the file is damaged, truncated "
                    f"or in an unsupported format ({ffmpeg_message(exc)})"
                ) from None
            result.error = f"the video could not be decoded further ({ffmpeg_message(exc)})"
            return
        decoded += 1
        yield frame


def _segment_frames(
    container, stream, segment: Segment, result: VideoResult, should_cancel, video_name: str
) -> Iterator[tuple[int, float, Any]]:
    """``(index, time, frame)`` from the segment's warm-up up to its end: counted from the
    first frame when the warm-up starts there, else from the key frame before it, the first
    frame's number after the seek coming from its timestamp."""
    fps = result.fps
    warm_start = max(0, segment.start - segment.warmup * result.every)
    if not warm_start:
        start_time = None
        for index, frame in enumerate(
            _decoded(container, stream, result, should_cancel, video_name)
        ):
            if segment.end is not None and index >= segment.end:
                return
            if frame.time is not None and start_time is None:
                start_time = frame.time
            known = frame.time is not None and start_time is not None
            yield index, (frame.time - start_time) if known else index / fps, frame
        return
    origin = _seek_before(container, stream, warm_start, fps, video_name)
    index = None
    for frame in _decoded(container, stream, result, should_cancel, video_name):
        if index is None:
            if frame.time is None:
                continue
            index = round((frame.time - origin) * fps)
            if index > warm_start:
                raise _SeekMissed
        else:
            index += 1
        if index < warm_start:
            continue
        if segment.end is not None and index >= segment.end:
            return
        yield index, (frame.time - origin) if frame.time is not None else index / fps, frame


def _seek_before(container, stream, warm_start: int, fps: float, video_name: str) -> float:
    """Seek to the key frame before frame ``warm_start``; returns the first frame's time,
    from which frame numbers after the seek are counted."""
    first = next(container.decode(stream), None)
    if first is None or first.time is None:
        raise VideoError(f"{video_name} has no frame timestamps; it cannot be split")
    target = first.time + (warm_start - 0.5) / fps  # half a frame early against rounding
    container.seek(int(target / stream.time_base), stream=stream, backward=True)
    return first.time


def _analyse_frames(
    frames,
    analyzer,
    tracker,
    segment: Segment,
    result: VideoResult,
    writer: AnnotatedWriter | None,
    report: _Reporter,
) -> tuple[int, float]:
    """Analyse every ``result.every``-th frame (the warm-up's tracks into ``result.overlap``,
    the segment's into its rows) and write each frame, with the latest tracks drawn on it, to
    ``writer``; returns the last frame's number and time (s)."""
    tracks: list = []
    last_index, last_t = -1, 0.0
    for index, t, frame in frames:
        last_index, last_t = index, t
        warm = index < segment.start
        result.frames_read += not warm
        analyse = index % result.every == 0
        rgb = None
        if analyse or writer is not None:
            rgb = frame_rgb(frame)
            if index == 0:
                result.height, result.width = rgb.shape[:2]
        if analyse:
            faces = analyzer.analyze(rgb)
            tracks = track_faces(tracker, faces)
            if warm:
                result.overlap.extend(
                    [index, tr.track_id, *(int(v) for v in f.box)] for f, tr in zip(faces, tracks)
                )
            else:
                result.frames_analyzed += 1
                result.rows.extend(video_row(t, index, f, tr) for f, tr in zip(faces, tracks))
        if writer is not None:
            writer.write(_draw_tracks(rgb, tracks) if tracks else rgb)
        if analyse or report.due():
            report()
    return last_index, last_t


def track_faces(tracker, faces: list) -> list:
    """The tracker's tracks for one frame's faces (one per face, in the same order)."""
    probs = np.array([f.probabilities for f in faces], np.float32).reshape(-1, len(EMOTIONS))
    return tracker.update([f.box for f in faces], probs)


def _check_ending(
    result: VideoResult, segment: Segment, exact: bool, last: tuple[int, float], video_name: str
) -> None:
    """``result.error`` when the stream ended before its headers (or, for a middle segment,
    the segment's end) said it would; a VideoError when no frame of a video was read."""
    last_index, last_t = last
    if last_index < 0 and not result.cancelled and segment.start == 0:
        raise VideoError(
            f"{video_name} holds no video frame that can be decoded (the file is "
            "damaged, truncated or in an unsupported format)"
        )
    if result.error is not None or result.cancelled:
        return
    if segment.end is None and last_index >= 0:
        result.frames_read = max(0, last_index + 1 - segment.start)
        result.error = _truncation(result, last_index + 1, exact, last_t)
    elif segment.end is not None and last_index < segment.end - 1:
        result.error = (
            f"the video ended at {last_t:.1f} s, before the {segment.end / result.fps:.1f} s "
            "its headers promise (the file looks truncated)"
        )


def _truncation(result: VideoResult, frames_read: int, exact: bool, last_t: float) -> str | None:
    """A message when the stream ended well before the container said it would."""
    total = result.frames_total
    if exact and total and frames_read < total - max(2, total // 50):
        return (
            f"the video ended after {frames_read} of its {total} frames (the file looks truncated)"
        )
    duration = result.duration
    if duration and duration - last_t > max(1.0, 0.1 * duration):
        return (
            f"the video ended at {last_t:.1f} s of its {duration:.1f} s (the file looks truncated)"
        )
    return None


def _keep_after_fault(result: VideoResult, exc: Exception, video_name: str) -> None:
    """A fault part-way keeps the rows and sets ``result.error``; before the first frame it
    is a VideoError."""
    import av

    if result.frames_read == 0:
        raise VideoError(f"{video_name} cannot be read ({ffmpeg_message(exc)})") from None
    result.error = (
        f"{type(exc).__name__}: {ffmpeg_message(exc)}"
        if not isinstance(exc, (av.FFmpegError, FerError, OSError))
        else ffmpeg_message(exc)
    )


def _close_video(container, writer: AnnotatedWriter | None, result: VideoResult) -> None:
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
    result.name = name
    kwargs["result"] = result
    try:
        with tempfile.NamedTemporaryFile(prefix="fer-video-", suffix=suffix, delete=False) as fh:
            tmp_in = fh.name
            fh.write(data)
        if annotate:
            fd, tmp_out = tempfile.mkstemp(prefix="fer-annotated-", suffix=".mp4")
            os.close(fd)
        analyze_video(tmp_in, analyzer, out_path=tmp_out, **kwargs)
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
