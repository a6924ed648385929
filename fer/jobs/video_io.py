"""Video files with PyAV: opening one (or saying in one sentence why it cannot be read), what
its headers say (:class:`VideoInfo`), the analysis step for a frame rate, decoded frames as
upright RGB arrays, and the annotated MP4 writer. The analysis itself is :mod:`fer.jobs.video`."""

from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from ..config import check_every
from ..errors import VideoError

ANALYSED_PER_SECOND = 5.0
"""Default analysis rate: about this many frames per second of video are analysed."""

VIDEO_EXTENSIONS = (".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v")
"""Upload types the app offers (any format FFmpeg reads works from the CLI)."""

DEFAULT_FPS = 25.0  # when a stream declares no frame rate at all


# --------------------------------------------------------------------------------------------
# Reading


def video_name_of(source: Any, name: str | None = None) -> str:
    """``name``, else the file name of a path (or of a named file object), else "video"."""
    if name:
        return name
    if isinstance(source, (str, os.PathLike)):
        return Path(source).name or str(source)
    own = getattr(source, "name", None)
    return os.path.basename(own) if isinstance(own, str) and own else "video"


def ffmpeg_message(exc: BaseException) -> str:
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


def open_input(source: Any, video_name: str):
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
            f"{video_name} is not a video file that can be read ({ffmpeg_message(exc)})"
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
            video.thread_type = "AUTO"  # decode on all cores, or on the CPUs a worker holds
            if os.environ.get("FER_THREADS"):
                from ..serving.runtime import runtime_threads

                video.thread_count = runtime_threads()
        except Exception:  # pragma: no cover - an option, never a failure
            pass
    except BaseException:
        container.close()
        raise
    return container, video


def stream_facts(container, stream) -> tuple[float, bool, float | None, int | None, bool]:
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
        """The analysis step :func:`fer.jobs.video.analyze_video` will use for ``every``."""
        return analysis_step(every, self.fps)

    def describe(self) -> str:
        """``clip.mp4: 2.0 s, 320×240, 10.00 frames/s, h264`` (what is known of it)."""
        duration = f"{self.duration:.1f} s, " if self.duration else ""
        codec = f", {self.codec}" if self.codec else ""
        return f"{self.name}: {duration}{self.width}×{self.height}, {self.fps:.2f} frames/s{codec}"


def probe_video(source: Any, name: str | None = None) -> VideoInfo:
    """Frame rate, duration, frame count (or estimate), size and codec from the headers; raises
    :class:`VideoError` like :func:`fer.jobs.video.analyze_video` for files that cannot be read."""
    video_name = video_name_of(source, name)
    container, stream = open_input(source, video_name)
    try:
        fps, fps_known, duration, total, _ = stream_facts(container, stream)
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
    """``every`` when given (a positive number of frames), else :func:`default_every` for this
    frame rate."""
    every = check_every(every)
    return every if every is not None else default_every(fps)


def default_every(fps: float, per_second: float | None = ANALYSED_PER_SECOND) -> int:
    """Analyse every N-th frame so that about ``per_second`` frames per second are analysed
    (None: every frame)."""
    return 1 if per_second is None else max(1, round(fps / per_second))


def _upright(rgb: np.ndarray, rotation: int) -> np.ndarray:
    """Apply the display rotation phones record (counter-clockwise degrees)."""
    k = round(rotation / 90) % 4 if rotation else 0
    return np.ascontiguousarray(np.rot90(rgb, k)) if k else rgb


def frame_rgb(frame) -> np.ndarray:
    """A decoded frame as an upright RGB array."""
    return _upright(frame.to_ndarray(format="rgb24"), getattr(frame, "rotation", 0))


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


class AnnotatedWriter:
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
