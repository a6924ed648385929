"""Face alignment from YuNet's eye landmarks: turn each face upright before it is cropped.

YuNet gives five landmarks per face (right eye, left eye, nose tip, right and left mouth
corner, as seen from the subject; see :class:`fer.vision.detection.Detection`). The roll of the face
is the angle of the line between the eyes; the image is rotated about the eyes' midpoint by
minus that angle and the box, moved with that point, is cropped as usual
(:func:`fer.vision.crop.crop_face`, the detector's margin). Haar gives no landmarks: its
faces are cropped unrotated.

The Analyzer turns every face with landmarks upright; what that gains is measured by ``python
benchmarks/alignment.py`` (docs/figures.md, "Alignment by the eyes").
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np

from .crop import FACE_MARGIN, Box, Margin, crop_face

Landmarks = Sequence[tuple[float, float]]


def roll_degrees(landmarks: Landmarks) -> float:
    """The face's in-plane rotation: the angle of the eye line, in degrees, positive when the
    face is turned counter-clockwise in the image (its left eye, on the image's right, higher)."""
    (rx, ry), (lx, ly) = landmarks[0], landmarks[1]
    return math.degrees(math.atan2(ry - ly, lx - rx))


def upright_crop(
    gray: np.ndarray,
    box: Box,
    landmarks: Landmarks | None,
    margin: Margin = FACE_MARGIN,
    min_degrees: float = 0.0,
) -> np.ndarray:
    """The face crop of ``box`` with the face rotated upright (eyes level) when landmarks are
    given and the roll is at least ``min_degrees``; otherwise the plain crop."""
    if landmarks is None or len(landmarks) < 2:
        return crop_face(gray, box, margin)
    angle = roll_degrees(landmarks)
    if abs(angle) < min_degrees:
        return crop_face(gray, box, margin)
    (rx, ry), (lx, ly) = landmarks[0], landmarks[1]
    centre = ((rx + lx) / 2, (ry + ly) / 2)
    # cv2 turns the image counter-clockwise for positive angles: minus the roll levels the eyes
    matrix = cv2.getRotationMatrix2D(centre, -angle, 1.0)
    x, y, w, h = box
    # rotate only the part of the image the crop can reach (with room for the rotation)
    reach = int(math.ceil(math.hypot(w, h) * (1 + 2 * _largest(margin))))
    x0, y0 = max(0, int(centre[0]) - reach), max(0, int(centre[1]) - reach)
    x1 = min(gray.shape[1], int(centre[0]) + reach)
    y1 = min(gray.shape[0], int(centre[1]) + reach)
    patch = gray[y0:y1, x0:x1]
    matrix[:, 2] += matrix[:, :2] @ np.array([x0, y0]) - np.array([x0, y0])
    upright = cv2.warpAffine(
        patch,
        matrix,
        (patch.shape[1], patch.shape[0]),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )
    # the box centre moves with the rotation about the eyes' midpoint
    cx, cy = x + w / 2, y + h / 2
    nx, ny = cv2.transform(
        np.array([[[cx, cy]]], np.float64), cv2.getRotationMatrix2D(centre, -angle, 1.0)
    )[0, 0]
    moved = (int(round(nx - w / 2)) - x0, int(round(ny - h / 2)) - y0, w, h)
    return crop_face(upright, moved, margin)


def _largest(margin: Margin) -> float:
    return max(margin) if isinstance(margin, tuple) else margin
