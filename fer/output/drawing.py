"""Boxes and labels on images, sized from the image so they read on a 4000 px photo and a
320 px frame alike, each face in its emotion's colour."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from ..emotions import COLORS_RGB, DISPLAY_NAMES

FONT = cv2.FONT_HERSHEY_SIMPLEX


def _style(shape: tuple[int, ...]) -> tuple[float, int]:
    """Font scale and line thickness for an image of this shape."""
    s = max(shape[0], shape[1]) / 1000
    return max(0.4, 0.65 * s), max(1, round(2.2 * s))


def _text_color(rgb: tuple[int, int, int]) -> tuple[int, int, int]:
    luminance = 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]
    return (0, 0, 0) if luminance > 140 else (255, 255, 255)


def draw_label_box(
    image: np.ndarray,
    box: Sequence[int],
    text: str,
    color: tuple[int, int, int],
    lines: Sequence[str] = (),
    text_color: tuple[int, int, int] | None = None,
) -> None:
    """Draw one box with ``text`` on a filled tag above it (inside if no room), in place.
    Extra ``lines`` go in further tags below the first (e.g. a second model's label)."""
    scale, thick = _style(image.shape)
    x, y, w, h = (int(v) for v in box)
    cv2.rectangle(image, (x, y), (x + w, y + h), color, thick)
    tags = [text, *lines]
    sizes = [cv2.getTextSize(t, FONT, scale, max(1, thick // 2))[0] for t in tags]
    pad = max(2, thick)
    tag_h = max(s[1] for s in sizes) + 2 * pad + max(1, thick // 2) * 2
    total = tag_h * len(tags)
    top = y - total if y - total >= 0 else y  # above the box, or inside its top edge
    for i, (tag, (tw, _)) in enumerate(zip(tags, sizes)):
        y0 = top + i * tag_h
        x0 = min(max(x, 0), max(image.shape[1] - tw - 2 * pad, 0))
        cv2.rectangle(image, (x0, y0), (x0 + tw + 2 * pad, y0 + tag_h), color, -1)
        cv2.putText(
            image,
            tag,
            (x0 + pad, y0 + tag_h - pad - max(1, thick // 2)),
            FONT,
            scale,
            text_color or _text_color(color),
            max(1, thick // 2),
            cv2.LINE_AA,
        )


def face_caption(label: str, confidence: float, number: int | None = None) -> str:
    prefix = f"{number} " if number is not None else ""
    return f"{prefix}{DISPLAY_NAMES[label]} {100 * confidence:.0f}%"


def annotate(
    image_rgb: np.ndarray,
    faces: Sequence,
    numbered: bool = True,
    extra_lines: Sequence[Sequence[str]] | None = None,
    bgr: bool = False,
) -> np.ndarray:
    """A copy of ``image_rgb`` with each face's box and label (``FaceResult``-like objects
    with ``box``, ``label``, ``confidence``); numbering starts at 1, left to right. With
    ``bgr`` the image is in OpenCV's channel order and the colours are swapped to match."""
    out = np.ascontiguousarray(image_rgb).copy()
    for i, face in enumerate(faces):
        lines = extra_lines[i] if extra_lines else ()
        color = COLORS_RGB[face.label]
        draw_label_box(
            out,
            face.box,
            face_caption(face.label, face.confidence, i + 1 if numbered else None),
            color[::-1] if bgr else color,
            lines,
            _text_color(color),
        )
    return out


def annotate_bgr(
    frame_bgr: np.ndarray,
    faces: Sequence,
    numbered: bool = False,
    extra_lines: Sequence[Sequence[str]] | None = None,
) -> np.ndarray:
    """The same on a BGR video frame, returned as BGR."""
    return annotate(frame_bgr, faces, numbered, extra_lines, bgr=True)
