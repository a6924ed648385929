"""Stable face IDs across video frames (IoU matching) with optional smoothing of probabilities,
so labels do not flicker. Serves recorded video and the live webcam alike."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..config import SMOOTHING
from ..emotions import EMOTIONS, ScoredMixin

Box = tuple[int, int, int, int]


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two ``(x, y, w, h)`` boxes."""
    ax1, ay1, bx1, by1 = a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]
    iw = max(0, min(ax1, bx1) - max(a[0], b[0]))
    ih = max(0, min(ay1, by1) - max(a[1], b[1]))
    inter = iw * ih
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


@dataclass
class Track(ScoredMixin):
    """One face followed over time; ``probabilities`` are the smoothed scores."""

    track_id: int
    box: Box
    probabilities: np.ndarray
    hits: int = 1
    missed: int = 0
    raw: np.ndarray = field(default=None, repr=False)


class FaceTracker:
    """Greedy IoU matcher. ``smoothing`` in [0, 1) is the weight of the past in an exponential
    moving average of each track's probabilities (0: no smoothing). A track survives
    ``max_missed`` updates without a match (a detector blink) before it is dropped."""

    def __init__(
        self, iou_threshold: float = 0.3, smoothing: float = SMOOTHING, max_missed: int = 5
    ):
        if not 0 <= smoothing < 1:
            raise ValueError("smoothing must be in [0, 1)")
        self.iou_threshold = iou_threshold
        self.smoothing = smoothing
        self.max_missed = max_missed
        self.tracks: list[Track] = []
        self._next_id = 1

    def reset(self) -> None:
        self.tracks = []
        self._next_id = 1

    def update(self, boxes: list[Box], probabilities: np.ndarray) -> list[Track]:
        """Match this frame's faces to tracks; returns the tracks seen in this frame, in the
        order of ``boxes``."""
        probabilities = np.asarray(probabilities, dtype=np.float32).reshape(
            len(boxes), len(EMOTIONS)
        )
        pairs = sorted(
            (
                (iou(t.box, b), ti, bi)
                for ti, t in enumerate(self.tracks)
                for bi, b in enumerate(boxes)
            ),
            reverse=True,
        )
        track_for_box: dict[int, Track] = {}
        used_tracks: set[int] = set()
        for overlap, ti, bi in pairs:
            if overlap < self.iou_threshold:
                break
            if ti in used_tracks or bi in track_for_box:
                continue
            used_tracks.add(ti)
            track = self.tracks[ti]
            a = self.smoothing
            track.probabilities = a * track.probabilities + (1 - a) * probabilities[bi]
            track.raw = probabilities[bi]
            track.box = tuple(int(v) for v in boxes[bi])
            track.hits += 1
            track.missed = 0
            track_for_box[bi] = track
        for ti, track in enumerate(self.tracks):
            if ti not in used_tracks:
                track.missed += 1
        for bi, box in enumerate(boxes):
            if bi not in track_for_box:
                track = Track(
                    self._next_id,
                    tuple(int(v) for v in box),
                    probabilities[bi].copy(),
                    raw=probabilities[bi],
                )
                self._next_id += 1
                self.tracks.append(track)
                track_for_box[bi] = track
        self.tracks = [t for t in self.tracks if t.missed <= self.max_missed]
        return [track_for_box[bi] for bi in range(len(boxes))]
