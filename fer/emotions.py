"""The seven FER2013 expressions, in the dataset's label order, defined once for the whole app."""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import FerError

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


def resolve_targets(target: Any, n: int, predicted: np.ndarray) -> np.ndarray:
    """The class index each face is explained for (by :mod:`fer.output.explain` and
    :mod:`fer.training.gradcam`): None -> the model's top class; a name or index -> for all
    faces; a sequence -> one per face (None in it: that face's top class)."""

    def one(t: Any) -> int:
        if isinstance(t, (int, np.integer)) and 0 <= int(t) < len(EMOTIONS):
            return int(t)
        if isinstance(t, str) and t.strip().lower() in EMOTIONS:
            return EMOTIONS.index(t.strip().lower())
        raise FerError(f"unknown emotion {t!r}; choose one of: {', '.join(EMOTIONS)}")

    if target is None:
        return predicted.argmax(1).astype(int)
    if isinstance(target, (str, int, np.integer)):
        return np.full(n, one(target), int)
    targets = list(target)
    if len(targets) != n:
        raise FerError(f"{len(targets)} targets given for {n} faces")
    return np.array(
        [int(predicted[i].argmax()) if t is None else one(t) for i, t in enumerate(targets)], int
    )
