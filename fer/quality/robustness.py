"""Robustness suite: accuracy on FER2013 PublicTest clean and under the shifts real photos bring.

Each shift is a pure function of a stack of 48x48 grayscale ``uint8`` faces ``(N, 48, 48)`` and
returns the same shape and type; it is applied *before*
:func:`fer.vision.preprocessing.to_model_input`, the one preprocessing path, so the suite measures
the model exactly as serving runs it. Geometric shifts fill what enters the frame by replicating the
border (as :func:`fer.vision.crop.crop_face` does at an image's edge).

- ``rotate+-10/20/30``: in-plane rotation about the centre (positive: counter-clockwise);
- ``crop 0.85`` / ``crop 1.15``: the frame is 0.85 (tighter: the face fills more of it) or
  1.15 (looser) times FER2013's framing, about the same centre;
- ``shift 10%``: the face moved right by 10 % of the frame;
- ``gamma 0.5`` / ``gamma 2.0``: ``255 * (x / 255) ** gamma`` (brighter / darker);
- ``low contrast``: each face's deviations from its mean scaled by 0.35;
- ``blur 1.5``: Gaussian blur, sigma 1.5 px;
- ``jpeg 20``: JPEG at quality 20 and back;
- ``downscale 24``: down to 24x24 (area) and back up to 48 (bilinear).

Only numpy and OpenCV: the suite runs from the serving install (no TensorFlow).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import cv2
import numpy as np

LOW_CONTRAST = 0.35
SHIFT_FRACTION = 0.10

Shift = Callable[[np.ndarray], np.ndarray]


def _each(images: np.ndarray, fn: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    images = np.asarray(images)
    if images.ndim != 3:
        raise ValueError(f"expected faces (N, H, W), got shape {images.shape}")
    if not len(images):
        return images.astype(np.uint8)
    return np.stack([fn(np.ascontiguousarray(im)) for im in images]).astype(np.uint8)


def _warp(matrix_for: Callable[[int, int], np.ndarray]) -> Shift:
    """A geometric shift from ``(width, height) -> 2x3 affine matrix``; the border replicated."""

    def one(im: np.ndarray) -> np.ndarray:
        h, w = im.shape
        return cv2.warpAffine(
            im, matrix_for(w, h), (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        )

    return lambda images: _each(images, one)


def rotate(degrees: float) -> Shift:
    """In-plane rotation about the centre, counter-clockwise for positive degrees."""
    return _warp(lambda w, h: cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), degrees, 1.0))


def crop_scale(scale: float) -> Shift:
    """A frame ``scale`` times FER2013's (same centre): < 1 tighter, > 1 looser."""
    return _warp(lambda w, h: cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), 0.0, 1.0 / scale))


def shift_x(fraction: float) -> Shift:
    """The face moved right by ``fraction`` of the frame's width."""
    return _warp(lambda w, h: np.float32([[1, 0, fraction * w], [0, 1, 0]]))


def gamma(value: float) -> Shift:
    table = np.round(255.0 * (np.arange(256) / 255.0) ** value).clip(0, 255).astype(np.uint8)
    return lambda images: table[np.asarray(images, dtype=np.uint8)]


def low_contrast(factor: float = LOW_CONTRAST) -> Shift:
    def apply(images: np.ndarray) -> np.ndarray:
        x = np.asarray(images, dtype=np.float32)
        mean = x.mean(axis=(1, 2), keepdims=True)
        return np.round(mean + factor * (x - mean)).clip(0, 255).astype(np.uint8)

    return apply


def blur(sigma: float) -> Shift:
    return lambda images: _each(images, lambda im: cv2.GaussianBlur(im, (0, 0), sigma))


def jpeg(quality: int) -> Shift:
    def one(im: np.ndarray) -> np.ndarray:
        ok, data = cv2.imencode(".jpg", im, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
        if not ok:  # pragma: no cover - OpenCV always encodes a uint8 image
            raise RuntimeError("JPEG encoding failed")
        return cv2.imdecode(data, cv2.IMREAD_GRAYSCALE)

    return lambda images: _each(images, one)


def downscale(side: int) -> Shift:
    def one(im: np.ndarray) -> np.ndarray:
        h, w = im.shape
        small = cv2.resize(im, (side, side), interpolation=cv2.INTER_AREA)
        return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)

    return lambda images: _each(images, one)


SHIFTS: dict[str, Shift] = {
    **{f"rotate {d:+d}": rotate(d) for d in (-30, -20, -10, 10, 20, 30)},
    "crop 0.85": crop_scale(0.85),
    "crop 1.15": crop_scale(1.15),
    "shift 10%": shift_x(SHIFT_FRACTION),
    "gamma 0.5": gamma(0.5),
    "gamma 2.0": gamma(2.0),
    "low contrast": low_contrast(),
    "blur 1.5": blur(1.5),
    "jpeg 20": jpeg(20),
    "downscale 24": downscale(24),
}
"""Every shift of the suite, in the order they are reported."""


def evaluate_robustness(
    classifier,
    images: np.ndarray,
    labels: np.ndarray,
    tta: str = "off",
    shifts: dict[str, Shift] | None = None,
) -> dict:
    """Accuracy clean and under each shift; drops are in accuracy (fractions), clean minus
    shifted. ``classifier`` is a runtime classifier (``predict_batched``)."""
    from ..vision.preprocessing import to_model_input

    shifts = SHIFTS if shifts is None else shifts
    labels = np.asarray(labels)
    size = classifier.input_size
    start = time.perf_counter()

    def accuracy(faces: np.ndarray) -> float:
        probs = classifier.predict_batched(to_model_input(faces, size), tta=tta)
        return float((probs.argmax(1) == labels).mean()) if len(labels) else 0.0

    clean = accuracy(images)
    shifted = {name: round(accuracy(fn(images)), 4) for name, fn in shifts.items()}
    drops = {name: clean - acc for name, acc in shifted.items()}
    worst = max(drops, key=drops.get) if drops else None
    return {
        "n": int(len(labels)),
        "tta": tta,
        "clean": round(clean, 4),
        "shifts": shifted,
        "mean_drop": round(float(np.mean(list(drops.values()))), 4) if drops else 0.0,
        "worst_drop": round(drops[worst], 4) if worst else 0.0,
        "worst_shift": worst,
        "seconds": round(time.perf_counter() - start, 1),
    }


def format_robustness(result: dict, model: str = "") -> str:
    """The result as a table for the terminal: accuracy and drop per shift, mean and worst."""
    head = f"model {model}, " if model else ""
    tta = result.get("tta", "off")
    lines = [
        f"{head}FER2013 PublicTest, {result['n']} images"
        + (f", {tta} TTA" if tta != "off" else ""),
        "",
        f"{'shift':<16}{'accuracy':>10}{'drop':>9}",
        f"{'clean':<16}{100 * result['clean']:>9.1f}%{'':>9}",
    ]
    for name, acc in result["shifts"].items():
        lines.append(f"{name:<16}{100 * acc:>9.1f}%{100 * (result['clean'] - acc):>+8.1f}")
    lines += [
        "",
        f"mean drop {100 * result['mean_drop']:.1f} points, worst drop "
        f"{100 * result['worst_drop']:.1f} points ({result['worst_shift']})",
    ]
    return "\n".join(lines)


def robustness_rows(card_entry: dict) -> list[dict]:
    """A card's ``robustness`` entry as table rows (clean first): shift, accuracy, drop; for
    the Models page."""
    clean = card_entry.get("clean")
    if not isinstance(clean, (int, float)):
        return []
    rows = [{"shift": "clean", "accuracy": clean, "drop": 0.0}]
    rows += [
        {"shift": name, "accuracy": acc, "drop": clean - acc}
        for name, acc in (card_entry.get("shifts") or {}).items()
        if isinstance(acc, (int, float))
    ]
    return rows


def robustness_caption(entry: dict) -> str:
    """One line for the Models page: clean accuracy, mean and worst drop."""
    return (
        f"{entry.get('split', 'FER2013 PublicTest')}, {entry.get('n', '?')} faces: clean "
        f"{100 * entry['clean']:.1f} %, mean drop {100 * entry['mean_drop']:.1f} points, "
        f"worst {100 * entry['worst_drop']:.1f} points ({entry.get('worst_shift')})."
    )
