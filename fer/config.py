"""One analysis configuration for every way in: the sidebar, the live webcam, the CLI, and the
batch, video and Ray jobs each build an :class:`AnalysisConfig`, and
:func:`fer.serving.analyzer.get_analyzer` turns it into the one shared
:class:`~fer.serving.analyzer.Analyzer`. The defaults live here and nowhere else."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from .errors import FerError
from .serving.tta import tta_mode

DEFAULT_MODEL = "shallow"
DEFAULT_DETECTOR = "auto"
MIN_FACE = 40
"""Smallest face side, in image pixels, that the detectors report."""
SMOOTHING = 0.6
"""Weight of the past in the per-face smoothing of video and live labels (0: none)."""

PHOTO_BATCH = 16
"""Photos per task an archive run sends to a worker (``--batch-size``)."""
SEGMENT_SECONDS = 60.0
"""An archive run splits videos longer than this into segments of this length
(``--segment-seconds``)."""


def check_every(every: int | None) -> int | None:
    """``every`` (analyse every N-th video frame) as a positive frame count, or None for the
    default rate; anything else raises FerError."""
    if every is None:
        return None
    if int(every) < 1:
        raise FerError(
            f"the analysis step (--every) must be a positive number of frames, not {every}"
        )
    return int(every)


@dataclass(frozen=True)
class AnalysisConfig:
    """What to analyse with. ``tta`` takes a :mod:`fer.serving.tta` mode (or True/False);
    ``detect_max_side`` caps the resolution faces are searched at (live video trades the
    smallest findable face for speed; faces are still classified at full resolution);
    ``smoothing`` only matters to tracks (video, live); ``every`` only to recorded video
    (analyse every N-th frame; None: about five frames per second of video)."""

    model: str = DEFAULT_MODEL
    detector: str = DEFAULT_DETECTOR
    tta: str = "off"
    min_face: int = MIN_FACE
    smoothing: float = SMOOTHING
    detect_max_side: int | None = None
    every: int | None = None

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "tta", tta_mode(self.tta))
        except ValueError as exc:
            raise FerError(str(exc)) from None
        if int(self.min_face) < 1:
            raise FerError(f"the minimum face size must be at least 1 pixel, not {self.min_face}")
        object.__setattr__(self, "min_face", int(self.min_face))
        if not 0 <= float(self.smoothing) < 1:
            raise FerError(f"smoothing must be at least 0 and below 1, not {self.smoothing}")
        object.__setattr__(self, "model", self.model or DEFAULT_MODEL)
        object.__setattr__(self, "every", check_every(self.every))

    def with_(self, **changes: Any) -> AnalysisConfig:
        """A copy with some fields changed (checked like a new one)."""
        return replace(self, **changes)

    @property
    def analyzer_fields(self) -> tuple:
        """The fields an analyzer depends on (not smoothing, which belongs to tracks)."""
        return (self.model, self.detector, self.tta, self.min_face, self.detect_max_side)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
