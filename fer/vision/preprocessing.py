"""The one path from pixels to model input, shared by training, evaluation and all inference.

FER2013 faces are centred crops a little looser than a face detector's box. A detected box is
therefore widened on each side by the detector's margin before the crop, then converted to
grayscale, resized and scaled to [0, 1]. The margins come from ``python
benchmarks/face_margin.py``: on upscaled FER2013 test images Haar's median box covers 0.828 of
the frame each way (margin 0.104 per side); YuNet's covers 0.812 x 0.958 (its boxes include
the forehead), so it gets 0.115 across and 0.022 down. The crop itself is :mod:`fer.vision.crop`;
YuNet's faces are turned upright by their eyes first (:mod:`fer.vision.alignment`).
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from .alignment import upright_crop
from .crop import FACE_MARGIN, Box, Margin, crop_face

INPUT_SIZE = 48
"""Side of the square grayscale face every model takes (FER2013's own size)."""

FACE_MARGINS: dict[str, tuple[float, float]] = {"haar": (0.104, 0.104), "yunet": (0.115, 0.022)}
"""Per-detector (horizontal, vertical) margins that reproduce FER2013's framing."""


def margin_for(detector_name: str | None) -> tuple[float, float]:
    """The crop margin that matches FER2013 framing for boxes from this detector."""
    return FACE_MARGINS.get(detector_name or "", (FACE_MARGIN, FACE_MARGIN))


def to_gray(image: np.ndarray) -> np.ndarray:
    """RGB uint8 (H, W, 3) or grayscale (H, W) -> grayscale uint8 (H, W)."""
    if image.ndim == 2:
        return image
    if image.ndim == 3 and image.shape[2] == 1:
        return image[:, :, 0]
    return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)


def to_model_input(faces: np.ndarray | Sequence[np.ndarray], size: int = INPUT_SIZE) -> np.ndarray:
    """Grayscale face crops (any size; a stacked uint8 array or a list) -> float32
    ``(N, size, size, 1)`` in [0, 1]. Training feeds FER2013's 48x48 images through here too."""
    if isinstance(faces, np.ndarray) and faces.ndim == 3 and faces.shape[1:] == (size, size):
        batch = faces
    else:
        batch = (
            np.stack([_resize(np.asarray(f), size) for f in faces])
            if len(faces)
            else (np.zeros((0, size, size), np.uint8))
        )
    return (batch.astype(np.float32) / 255.0)[..., None]


def _resize(face: np.ndarray, size: int) -> np.ndarray:
    face = to_gray(face)
    if face.shape == (size, size):
        return face
    interp = cv2.INTER_AREA if min(face.shape) > size else cv2.INTER_LINEAR
    return cv2.resize(face, (size, size), interpolation=interp)


def faces_to_model_input(
    image_rgb: np.ndarray,
    boxes: Sequence[Box],
    size: int = INPUT_SIZE,
    margin: Margin = FACE_MARGIN,
    landmarks: Sequence | None = None,
) -> np.ndarray:
    """All faces of one image, cropped and prepared as one batch. ``landmarks`` (one entry per
    box: YuNet's five points, or None) turn each face upright by its eyes before the crop
    (:mod:`fer.vision.alignment`); boxes without them (Haar's) are cropped as they are."""
    gray = to_gray(image_rgb)
    if landmarks is None:
        return to_model_input([crop_face(gray, b, margin) for b in boxes], size)
    return to_model_input(
        [upright_crop(gray, b, pts, margin) for b, pts in zip(boxes, landmarks, strict=True)], size
    )


def preprocessing_description(size: int = INPUT_SIZE) -> str:
    """The preprocessing as a model card states it."""
    margins = ", ".join(
        f"{k} {mx:.3f} across / {my:.3f} down" for k, (mx, my) in FACE_MARGINS.items()
    )
    return (
        f"face box widened on each side to FER2013 framing ({margins}), grayscale, resized "
        f"to {size}x{size}, scaled to [0, 1] (fer.vision.preprocessing.to_model_input); FER2013 "
        "images are already framed and go straight to to_model_input"
    )
