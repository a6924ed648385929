"""Test-time augmentation: classify several views of each face and average the probabilities.

``flip`` adds the mirrored face (2 views, twice the work). ``shift`` also moves each of the two
by 2 pixels (of 48) left, right, up and down (10 views): the multi-crop evaluation of the
FER2013 literature, worth about one more point for ten times the work. Modes are strings
everywhere; ``True`` means ``flip``, for callers that think of TTA as on/off.
"""

from __future__ import annotations

import numpy as np

TTA_MODES = ("off", "flip", "shift")
TTA_LABELS = {"off": "Off", "flip": "Mirror (2 views)", "shift": "Mirror + shifts (10 views)"}
SHIFT_OF_48 = 2
CARD_KEYS = {"off": "validation", "flip": "validation_tta", "shift": "validation_tta_shift"}
"""Where a model card keeps the validation report of each mode."""


def tta_mode(tta: bool | str | None) -> str:
    """Normalise ``False/None/"off"``, ``True/"flip"`` and ``"shift"`` to a mode name."""
    if tta is None or tta is False or tta == "off":
        return "off"
    if tta is True or tta == "flip":
        return "flip"
    if tta == "shift":
        return "shift"
    raise ValueError(f"unknown test-time augmentation {tta!r}; use one of {', '.join(TTA_MODES)}")


def tta_views(batch: np.ndarray, mode: str) -> np.ndarray:
    """All views of a batch ``(N, S, S, 1)``, stacked view-major: ``(views * N, S, S, 1)``."""
    views = [batch]
    if mode == "shift":
        s = max(1, round(batch.shape[1] * SHIFT_OF_48 / 48))
        padded = np.pad(batch, ((0, 0), (s, s), (s, s), (0, 0)), mode="edge")
        size_y, size_x = batch.shape[1:3]
        for dy, dx in ((0, s), (0, -s), (s, 0), (-s, 0)):
            views.append(padded[:, s + dy : s + dy + size_y, s + dx : s + dx + size_x])
    if mode in ("flip", "shift"):
        views += [v[:, :, ::-1] for v in views]
    return np.ascontiguousarray(np.concatenate(views))


def tta_average(probabilities: np.ndarray, n: int) -> np.ndarray:
    """Mean over the views of :func:`tta_views`' output order."""
    return probabilities.reshape(-1, n, probabilities.shape[-1]).mean(axis=0)
