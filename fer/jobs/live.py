"""Per-stream state of the live webcam page, without Streamlit.

streamlit-webrtc calls :meth:`LiveProcessor.__call__` for every video frame on its own thread.
The processor

* reads the configuration the page last set with :meth:`LiveProcessor.configure` (an
  :class:`~fer.config.AnalysisConfig` and the both-models switch) at every frame, so a change in
  the sidebar takes effect without restarting the stream;
* takes its analyzers from :func:`fer.serving.analyzer.get_analyzer` (one per configuration per
  process, shared with the other pages), searching faces at :data:`LIVE_DETECT_MAX_SIDE`;
* follows faces with a :class:`~fer.jobs.tracking.FaceTracker` whose smoothing stops labels
  flickering;
* draws boxes and labels (both-models mode: the other model's label as a second line), and a small
  FPS / latency overlay;
* reports, through a bounded :class:`queue.Queue` the page drains, one :class:`LiveSample` per
  frame (time, smoothed probabilities of the largest face, FPS, latency) or an error message.
  When the queue is full the oldest item is dropped.

Errors never escape the frame callback: the raw frame goes back and the error is reported.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from ..config import AnalysisConfig
from ..emotions import DISPLAY_NAMES, EMOTIONS
from ..output.drawing import annotate_bgr
from .tracking import FaceTracker

log = logging.getLogger(__name__)

#: How many samples the queue holds before the oldest are dropped (~30 s at 30 FPS).
DEFAULT_QUEUE_SIZE = 1024
# Faces are searched for in frames shrunk to this longest side (a 640x480 webcam frame to
# 320x240: YuNet's time drops ~4x; faces from ~32 px in the original frame are still found),
# then classified from the full-resolution frame.
LIVE_DETECT_MAX_SIDE = 320
#: Weight of the newest measurement in the FPS / latency moving averages.
EMA_ALPHA = 0.1
#: A gap this long between frames (stream paused or restarted) resets tracks and the FPS average.
RESET_GAP_S = 2.0
#: The same error is reported at most this often (it would otherwise repeat at every frame).
ERROR_REPORT_INTERVAL_S = 1.0
ICE_SERVERS_ENV = "FER_ICE_SERVERS"
#: Seconds of samples the page's rolling chart keeps (:class:`LiveHistory`).
HISTORY_WINDOW_S = 30.0


@dataclass(frozen=True)
class LiveRequest:
    """What the page asked for: the analysis configuration, and whether a second model labels
    each face too (``other_model``: which; None picks the first other installed model)."""

    config: AnalysisConfig
    both_models: bool = False
    other_model: str | None = None


@dataclass
class LiveSample:
    """What the frame thread reports per frame (or per error)."""

    time: float  # seconds since the processor was created (monotonic clock)
    probabilities: np.ndarray | None  # (7,) smoothed scores of the largest face; None: no face
    label: str | None
    faces: int
    fps: float
    latency_ms: float
    model: str
    detector: str = ""
    notice: str | None = None  # e.g. the detector fell back to Haar, other model missing
    error: str | None = None

    @property
    def is_error(self) -> bool:
        return self.error is not None


def ice_servers_from_env() -> tuple[list[dict], str | None]:
    """ICE servers for WebRTC from ``$FER_ICE_SERVERS`` (a JSON list such as
    ``[{"urls": ["stun:stun.l.google.com:19302"]}]``); default ``[]``, which works on localhost
    without STUN/TURN or internet. Returns (servers, warning or None)."""
    raw = os.environ.get(ICE_SERVERS_ENV, "").strip()
    if not raw:
        return [], None
    try:
        servers = json.loads(raw)
    except ValueError as exc:
        return [], f"{ICE_SERVERS_ENV} is not valid JSON ({exc}); using no ICE servers."
    if isinstance(servers, dict):
        servers = [servers]
    if not isinstance(servers, list) or not all(
        isinstance(s, dict) and "urls" in s for s in servers
    ):
        return [], (
            f'{ICE_SERVERS_ENV} must be a JSON list of objects with "urls"; using no ICE servers.'
        )
    return servers, None


def _draw_overlay(frame: np.ndarray, lines: list[str]) -> None:
    """Small white-on-dark text block in the top-left corner, in place."""
    scale = max(0.4, 0.5 * max(frame.shape[:2]) / 640)
    thick = 1 if scale < 0.8 else 2
    pad = max(3, int(4 * scale))
    sizes = [cv2.getTextSize(t, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)[0] for t in lines]
    line_h = max(h for _, h in sizes) + pad
    width = max(w for w, _ in sizes) + 2 * pad
    height = line_h * len(lines) + pad
    x1, y1 = min(width, frame.shape[1]), min(height, frame.shape[0])
    roi = frame[:y1, :x1]
    roi[:] = (roi.astype(np.uint16) * 2 // 5).astype(np.uint8)  # darken behind the text
    for i, text in enumerate(lines):
        cv2.putText(
            frame,
            text,
            (pad, (i + 1) * line_h),
            cv2.FONT_HERSHEY_SIMPLEX,
            scale,
            (255, 255, 255),
            thick,
            cv2.LINE_AA,
        )


class LiveProcessor:
    """The webrtc ``video_frame_callback``: ``processor(frame) -> frame``.

    ``analyzer_factory(config)`` may replace :func:`fer.serving.analyzer.get_analyzer` (tests)."""

    def __init__(
        self,
        config: AnalysisConfig | None = None,
        both_models: bool = False,
        queue_size: int = DEFAULT_QUEUE_SIZE,
        analyzer_factory: Callable[[AnalysisConfig], Any] | None = None,
        draw_overlay: bool = True,
    ) -> None:
        self.queue: queue.Queue[LiveSample] = queue.Queue(maxsize=queue_size)
        self.draw_overlay = draw_overlay
        self._factory = analyzer_factory
        self._lock = threading.Lock()  # one frame at a time; guards the trackers
        self.configure(config or AnalysisConfig(), both_models)
        self._tracker = self._other_tracker = FaceTracker()
        self._active: LiveRequest | None = None  # the request the trackers and analyzers follow
        self._other_name: str | None = None
        self._t0 = time.monotonic()
        self._last_frame_t: float | None = None
        self._last_error: tuple[str, float] | None = None
        self.fps = 0.0
        self.latency_ms = 0.0
        self._fps_n = self._latency_n = 0
        self._fps_estimated = False
        self.frames = 0
        self.errors = 0
        self.current = None  # the Analyzer used for the last frame
        self.other = None  # the second model's Analyzer in both-models mode
        self._other_problem: str | None = None
        self.last_tracks: list = []
        self.last_extra_lines: list[list[str]] | None = None

    def configure(
        self, config: AnalysisConfig, both_models: bool = False, other_model: str | None = None
    ) -> None:
        """Set what the next frames are analysed with (the page calls this on every rerun; the
        frame thread picks it up at its next frame: one attribute, replaced whole)."""
        self.request = LiveRequest(
            config.with_(detect_max_side=LIVE_DETECT_MAX_SIDE), bool(both_models), other_model
        )

    # ---------------------------------------------------------------- analyzers

    def analyzer(self, config: AnalysisConfig):
        """The analyzer for ``config`` (shared per process)."""
        if self._factory is not None:
            return self._factory(config)
        from ..serving.analyzer import get_analyzer

        return get_analyzer(config)

    def _other_model_name(self, request: LiveRequest) -> str | None:
        model = request.config.model
        if request.other_model and request.other_model != model:
            return request.other_model
        from ..serving.registry import available_models

        others = [m.name for m in available_models() if m.name != model]
        return others[0] if others else None

    def _follow(self, request: LiveRequest) -> None:
        """Take up a new request: its analyzers (loading a model takes seconds, once: not part
        of a frame's latency) and fresh tracks (smoothing across a change of model would mix
        unrelated scores)."""
        self.current = self.analyzer(request.config)
        self.other, self._other_problem = None, None
        self._other_name = self._other_model_name(request) if request.both_models else None
        if self._other_name:
            try:
                self.other = self.analyzer(request.config.with_(model=self._other_name))
            except Exception as exc:  # the main model keeps working without the second one
                self._other_problem = f"Both models: {self._other_name} unavailable ({exc})."
        smoothing = request.config.smoothing
        self._tracker = FaceTracker(smoothing=smoothing)
        self._other_tracker = FaceTracker(smoothing=smoothing)
        self._active = request
        self.latency_ms = 0.0  # the new configuration has its own speed

    # ---------------------------------------------------------------- frames

    def streaming(self, within_s: float = RESET_GAP_S) -> bool:
        """Whether a frame arrived in the last ``within_s`` seconds: the page's truth about the
        stream, which the component's ``playing`` flag reaches only after a rerun."""
        last = self._last_frame_t
        return last is not None and time.monotonic() - last <= within_s

    def reset(self) -> None:
        """Forget tracks and timing (call when a stream ends)."""
        with self._lock:
            self._tracker.reset()
            self._other_tracker.reset()
            self._last_frame_t = None
            self.fps = 0.0
            self.latency_ms = 0.0

    def process_bgr(self, frame_bgr: np.ndarray) -> np.ndarray:
        """Analyse one BGR frame and return the annotated frame (the input frame, untouched, if
        anything fails; the error goes to the queue)."""
        with self._lock:
            start = time.monotonic()
            try:
                return self._process(frame_bgr, start)
            except Exception as exc:  # never let the stream die
                self.errors += 1
                message = f"{type(exc).__name__}: {exc}" if not _is_user_error(exc) else str(exc)
                log.warning("live frame failed: %s", message, exc_info=not _is_user_error(exc))
                self._report_error(message, start)
                return frame_bgr

    def _process(self, frame_bgr: np.ndarray, start: float) -> np.ndarray:
        request = self.request
        gap = start - self._last_frame_t if self._last_frame_t is not None else None
        if request != self._active:
            self._follow(request)
        elif gap is not None and gap > RESET_GAP_S:  # a pause: start the tracks afresh
            self._tracker.reset()
            self._other_tracker.reset()
        if gap is not None and gap > RESET_GAP_S:
            self.fps = 0.0
        work_start = time.monotonic()
        faces = self.current.analyze_frame(frame_bgr)
        boxes = [f.box for f in faces]
        tracks = self._tracker.update(boxes, _stacked(faces))
        extra_lines = (
            self._other_lines(frame_bgr, boxes, [f.landmarks for f in faces])
            if request.both_models
            else None
        )
        out = annotate_bgr(frame_bgr, tracks, numbered=False, extra_lines=extra_lines)
        self.last_tracks, self.last_extra_lines = tracks, extra_lines
        self._time_frame((time.monotonic() - work_start) * 1000, gap)
        self._last_frame_t = start
        self.frames += 1
        if self.draw_overlay:
            self._draw_figures(out, request)
        self._report_frame(start, tracks, request)
        return out

    def _other_lines(
        self, frame_bgr: np.ndarray, boxes: list, landmarks: list | None = None
    ) -> list[list[str]] | None:
        """The second model's smoothed label under each face (both-models mode)."""
        if self.other is None:
            return None
        if boxes:
            other_probs = self.other.classify(
                np.ascontiguousarray(frame_bgr[:, :, ::-1]), boxes, landmarks
            )
        else:
            other_probs = np.zeros((0, len(EMOTIONS)), np.float32)
        return [
            [f"{self._other_name}: {DISPLAY_NAMES[t.label]} {100 * t.confidence:.0f}%"]
            for t in self._other_tracker.update(boxes, other_probs)
        ]

    def _time_frame(self, latency: float, gap: float | None) -> None:
        """Moving averages of latency and FPS; the first ones are plain means, so a slow first
        frame (warm-up) does not linger in the figures."""
        self._latency_n = 0 if self.latency_ms == 0 else self._latency_n
        a = max(EMA_ALPHA, 1 / (self._latency_n + 1))
        self.latency_ms = (1 - a) * self.latency_ms + a * latency
        self._latency_n += 1
        if gap is not None and 0 < gap <= RESET_GAP_S:
            fps_now = 1.0 / gap  # frames actually delivered per second
            self._fps_n = 0 if self.fps == 0 or self._fps_estimated else self._fps_n
            self._fps_estimated = False
            a = max(EMA_ALPHA, 1 / (self._fps_n + 1))
            self.fps = (1 - a) * self.fps + a * fps_now
            self._fps_n += 1
        elif self.fps == 0:
            self.fps = 1000.0 / max(latency, 1e-3)  # first frame: what processing allows
            self._fps_estimated = True

    def _draw_figures(self, out: np.ndarray, request: LiveRequest) -> None:
        names = self.current.model_name + (f" + {self._other_name}" if self.other else "")
        tta = request.config.tta
        _draw_overlay(
            out,
            [
                f"{self.fps:4.1f} FPS  {self.latency_ms:3.0f} ms",
                names + (f" (TTA: {tta})" if tta != "off" else ""),
            ],
        )

    def _report_frame(self, start: float, tracks: list, request: LiveRequest) -> None:
        notice = getattr(self.current, "notice", None)
        if request.both_models and self.other is None:
            notice = self._other_problem or "Both models: no second model is installed."
        main = max(tracks, key=lambda t: t.box[2] * t.box[3]) if tracks else None
        self._put(
            LiveSample(
                time=start - self._t0,
                probabilities=main.probabilities.copy() if main is not None else None,
                label=main.label if main is not None else None,
                faces=len(tracks),
                fps=self.fps,
                latency_ms=self.latency_ms,
                model=getattr(self.current, "model_name", request.config.model),
                detector=getattr(self.current, "detector_name", request.config.detector),
                notice=notice,
            )
        )

    def __call__(self, frame):
        """streamlit-webrtc's ``video_frame_callback``: ``av.VideoFrame`` in, annotated out
        (same pts and time base)."""
        try:
            image = frame.to_ndarray(format="bgr24")
        except Exception as exc:
            self._report_error(f"could not decode the frame: {exc}", time.monotonic())
            return frame
        out = self.process_bgr(image)
        if out is image:
            return frame  # failed: hand back the raw frame
        try:
            import av

            new = av.VideoFrame.from_ndarray(out, format="bgr24")
            new.pts = frame.pts
            new.time_base = frame.time_base
            return new
        except Exception as exc:
            self._report_error(f"could not encode the frame: {exc}", time.monotonic())
            return frame

    # ---------------------------------------------------------------- queue

    def _report_error(self, message: str, now: float) -> None:
        last = self._last_error
        if last is not None and last[0] == message and now - last[1] < ERROR_REPORT_INTERVAL_S:
            return
        self._last_error = (message, now)
        config = self.request.config
        self._put(
            LiveSample(
                time=now - self._t0,
                probabilities=None,
                label=None,
                faces=0,
                fps=self.fps,
                latency_ms=self.latency_ms,
                model=config.model,
                detector=config.detector,
                error=message,
            )
        )

    def _put(self, item: LiveSample) -> None:
        """Enqueue, dropping the oldest items when full."""
        while True:
            try:
                self.queue.put_nowait(item)
                return
            except queue.Full:
                try:
                    self.queue.get_nowait()
                except queue.Empty:
                    pass

    def drain(self, max_items: int | None = None) -> list[LiveSample]:
        """Everything queued so far (oldest first), without blocking."""
        items: list[LiveSample] = []
        while max_items is None or len(items) < max_items:
            try:
                items.append(self.queue.get_nowait())
            except queue.Empty:
                break
        return items


class LiveHistory:
    """The page's rolling window of a stream's samples: the last ``window_s`` seconds, the
    newest sample, and the history as a :class:`fer.output.results.Results` table."""

    def __init__(self, window_s: float = HISTORY_WINDOW_S):
        self.window_s = window_s
        self.samples: list[LiveSample] = []
        self.last: LiveSample | None = None

    def add(self, samples: list[LiveSample]) -> list[str]:
        """Keep the frames' samples (older than the window dropped); returns the error
        messages among them, each distinct one once, in order."""
        errors = []
        for sample in samples:
            if sample.is_error:
                errors.append(sample.error)
                continue
            self.samples.append(sample)
            self.last = sample
        if self.samples:
            oldest = self.samples[-1].time - self.window_s
            self.samples = [s for s in self.samples if s.time >= oldest]
        return list(dict.fromkeys(errors))

    def table(self):
        """The window as a results table (:data:`fer.output.results.LIVE_COLUMNS`)."""
        from ..output.results import Results

        return Results.from_live(self.samples)

    def timeline(self):
        """Long format for :func:`fer.output.charts.timeline_chart`, in seconds before the newest
        sample (0 = now); empty when no sample had a face."""
        newest = self.samples[-1].time if self.samples else 0.0
        return self.table().timeline(origin=newest)


def _stacked(faces: list) -> np.ndarray:
    """The faces' probabilities as one ``(N, 7)`` array."""
    if not faces:
        return np.zeros((0, len(EMOTIONS)), np.float32)
    return np.stack([f.probabilities for f in faces])


def _is_user_error(exc: BaseException) -> bool:
    from ..errors import FerError

    return isinstance(exc, FerError)
