"""A synthetic open hand (palm, four fingers with creases, thumb; skin colour, shading, noise)
on a plain background, for the Haar non-face rejection: OpenCV's face cascade boxes a finger
or the palm of about one in six of these as a face (seed 54: one box, score 0.88)."""

import cv2
import numpy as np


def capsule(mask, p0, p1, r):
    cv2.line(
        mask, tuple(int(v) for v in p0), tuple(int(v) for v in p1), 255, int(2 * r), cv2.LINE_AA
    )


def hand(seed: int, size: int = 400) -> np.ndarray:
    """An RGB uint8 ``(size, size, 3)`` image of a hand, the same for the same seed."""
    rng = np.random.default_rng(seed)
    bg = np.array(rng.integers(40, 200, 3), np.float32)
    img = np.ones((size, size, 3), np.float32) * bg
    img += rng.normal(0, 6, (size, size, 1)).astype(np.float32)
    mask = np.zeros((size, size), np.uint8)
    cx, cy = size / 2 + rng.uniform(-20, 20), size * 0.62
    pw, ph = rng.uniform(70, 95), rng.uniform(80, 110)
    cv2.ellipse(mask, (int(cx), int(cy)), (int(pw), int(ph)), 0, 0, 360, 255, -1, cv2.LINE_AA)
    spread = rng.uniform(0.05, 0.25)
    lengths = rng.uniform(0.9, 1.3) * np.array([0.85, 1.0, 0.95, 0.75]) * ph * 1.4
    fw = rng.uniform(14, 20)
    creases = []
    for i, L in enumerate(lengths):
        ang = (i - 1.5) * spread
        bx = cx + (i - 1.5) * pw * 0.5
        by = cy - ph * 0.7
        tx, ty = bx + np.sin(ang) * L, by - np.cos(ang) * L
        capsule(mask, (bx, by), (tx, ty), fw)
        creases += [(bx + np.sin(ang) * L * f, by - np.cos(ang) * L * f, ang) for f in (0.35, 0.65)]
    # thumb
    tang = rng.uniform(0.6, 1.1)
    capsule(
        mask,
        (cx - pw * 0.8, cy),
        (cx - pw * 0.8 - np.sin(tang) * ph * 0.9, cy - np.cos(tang) * ph * 0.9),
        fw * 1.1,
    )
    skin = np.array(
        [rng.uniform(200, 235), rng.uniform(150, 185), rng.uniform(120, 150)], np.float32
    )
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    light = 0.8 + 0.3 * ((xx - cx) * rng.uniform(-1, 1) + (yy - cy) * rng.uniform(-1, 1)) / size
    m = cv2.GaussianBlur(mask, (0, 0), 2).astype(np.float32)[..., None] / 255
    # shade: darker near the outline (roundness)
    dist = cv2.distanceTransform(mask, cv2.DIST_L2, 5)
    round_ = np.clip(dist / 12, 0, 1) ** 0.5
    hand_rgb = skin * (0.55 + 0.45 * round_)[..., None] * light[..., None]
    for x, y, a in creases:
        dx, dy = np.cos(a) * fw * 0.8, np.sin(a) * fw * 0.8
        cv2.line(
            hand_rgb,
            (int(x - dx), int(y - dy)),
            (int(x + dx), int(y + dy)),
            (130, 90, 70),
            2,
            cv2.LINE_AA,
        )
    img = img * (1 - m) + hand_rgb * m
    img += rng.normal(0, 3, img.shape).astype(np.float32)
    img = cv2.GaussianBlur(img, (0, 0), 1.0)
    return np.clip(img, 0, 255).astype(np.uint8)
