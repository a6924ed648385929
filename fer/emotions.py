"""The seven FER2013 expressions, in the dataset's label order, defined once for the whole app."""

from __future__ import annotations

import numpy as np

EMOTIONS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
"""Canonical order: index i is FER2013 label i and column i of every probability vector."""

DISPLAY_NAMES: dict[str, str] = {e: e.capitalize() for e in EMOTIONS}

# One colour per emotion (RGB), chosen to stay distinct for common colour-vision deficiencies.
COLORS_RGB: dict[str, tuple[int, int, int]] = {
    "angry": (214, 39, 40),
    "disgust": (140, 86, 75),
    "fear": (148, 103, 189),
    "happy": (255, 187, 0),
    "sad": (31, 119, 180),
    "surprise": (23, 190, 207),
    "neutral": (127, 127, 127),
}

NUM_CLASSES = len(EMOTIONS)


def color_hex(emotion: str) -> str:
    """The emotion's colour as ``#rrggbb`` (for altair and HTML)."""
    r, g, b = COLORS_RGB[emotion]
    return f"#{r:02x}{g:02x}{b:02x}"


def color_bgr(emotion: str) -> tuple[int, int, int]:
    """The emotion's colour in OpenCV's BGR order."""
    r, g, b = COLORS_RGB[emotion]
    return (b, g, r)


def scores_dict(probabilities) -> dict[str, float]:
    """Map a length-7 probability vector to ``{emotion: probability}`` in canonical order."""
    if len(probabilities) != NUM_CLASSES:
        raise ValueError(f"expected {NUM_CLASSES} probabilities, got {len(probabilities)}")
    return {e: float(p) for e, p in zip(EMOTIONS, probabilities)}


class ScoredMixin:
    """``label``, ``confidence`` and ``scores`` for objects with a ``probabilities`` vector."""

    probabilities: np.ndarray

    @property
    def label(self) -> str:
        return EMOTIONS[int(np.argmax(self.probabilities))]

    @property
    def confidence(self) -> float:
        return float(np.max(self.probabilities))

    @property
    def scores(self) -> dict[str, float]:
        return scores_dict(self.probabilities)
