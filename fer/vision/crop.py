"""Face boxes and their crops: a detector's box widened by a margin and cut out of the image.

Below both :mod:`fer.vision.preprocessing` (the one path to model input) and
:mod:`fer.vision.alignment` (which crops a face after turning it upright), so that each can use the
crop without the other.
"""

from __future__ import annotations

import cv2
import numpy as np

FACE_MARGIN = 0.104
"""Default fraction of the box's width and height added on each side before cropping."""

Margin = float | tuple[float, float]

Box = tuple[int, int, int, int]  # x, y, w, h in pixels of the original image


def expand_box(box: Box, margin: Margin = FACE_MARGIN) -> Box:
    """Grow a box by ``margin`` of its size on each side (may leave the image; see crop);
    a pair gives separate horizontal and vertical margins."""
    x, y, w, h = box
    mx, my = margin if isinstance(margin, tuple) else (margin, margin)
    dx, dy = round(w * mx), round(h * my)
    return (x - dx, y - dy, w + 2 * dx, h + 2 * dy)


def crop_face(gray: np.ndarray, box: Box, margin: Margin = FACE_MARGIN) -> np.ndarray:
    """Square-ish face crop with margin; parts outside the image are filled by edge replication
    so that a face at the border keeps its position in the crop, as in FER2013."""
    x, y, w, h = expand_box(box, margin)
    H, W = gray.shape[:2]
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, W), min(y + h, H)
    if x1 <= x0 or y1 <= y0:
        raise ValueError(f"box {box} lies outside the {W}x{H} image")
    crop = gray[y0:y1, x0:x1]
    pad = (y0 - y, y + h - y1, x0 - x, x + w - x1)
    if any(pad):
        crop = cv2.copyMakeBorder(crop, *pad, borderType=cv2.BORDER_REPLICATE)
    return crop
