"""The Haar detector's non-face check (an eye in the top of each box, see
``fer.detection.HAAR_EYE_CASCADE_FILE``): what it keeps of real faces and what it rejects.

    python benchmarks/haar_rejection.py [--n 800] [--hands 300]

Faces: FER2013 test images upscaled 48 -> 192 px (as ``benchmarks/face_margin.py``), the boxes
the cascade alone finds, and the share the check keeps (blurry upscaled eyes: a hard case).
Non-faces: the boxes the cascade alone finds on synthetic hands (``tests/synthetic_hand.py``)
and on scikit-image's coins and moon photos, and the share the check keeps (lower is better).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fer.dataset import fer2013_dir, load_split  # noqa: E402
from fer.detection import HaarDetector  # noqa: E402
from tests.synthetic_hand import hand  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=800)
    parser.add_argument("--hands", type=int, default=300)
    args = parser.parse_args()
    raw, checked = HaarDetector(verify_eyes=False), HaarDetector()

    def count(images, **kw):
        return (
            sum(len(raw.detect(im, **kw)) for im in images),
            sum(len(checked.detect(im, **kw)) for im in images),
        )

    split = load_split(fer2013_dir(), "test").subset(args.n, seed=0)
    faces = [
        cv2.cvtColor(cv2.resize(im, (192, 192), interpolation=cv2.INTER_CUBIC), cv2.COLOR_GRAY2RGB)
        for im in split.images
    ]
    found, kept = count(faces, min_face=64)
    print(
        f"faces: the cascade boxes {found} in {len(faces)} upscaled FER2013 test images; "
        f"the check keeps {kept} ({kept / found:.1%})"
    )
    from skimage import data

    others = [hand(s) for s in range(args.hands)]
    others += [np.stack([getattr(data, n)()] * 3, axis=-1) for n in ("coins", "moon")]
    found, kept = count(others)
    print(
        f"non-faces: the cascade boxes {found} in {args.hands} synthetic hands, coins and "
        f"moon; the check keeps {kept} ({kept / max(found, 1):.1%})"
    )


if __name__ == "__main__":
    main()
