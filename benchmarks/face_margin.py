"""How much looser FER2013's framing is than each detector's box: runs the detectors on
upscaled FER2013 images and reports the box size and centre relative to the 48x48 frame.

    python benchmarks/face_margin.py [--n 600]

The margin that makes a detector's crop match FER2013 is (1 / box_fraction - 1) / 2 per side."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fer.quality.dataset import fer2013_dir, load_split  # noqa: E402
from fer.vision.detection import HaarDetector, YuNetDetector, yunet_model_path  # noqa: E402

SCALE = 4  # 48 px -> 192 px, comfortably above both detectors' minimum face size


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=600)
    args = parser.parse_args()
    split = load_split(fer2013_dir(), "test").subset(args.n, seed=0)
    detectors = [HaarDetector()]
    yunet = yunet_model_path(download=False)
    if yunet:
        detectors.append(YuNetDetector(yunet))
    size = 48 * SCALE
    for det in detectors:
        fw, fh, cx, cy = [], [], [], []
        for img in split.images:
            big = cv2.resize(img, (size, size), interpolation=cv2.INTER_CUBIC)
            faces = det.detect(cv2.cvtColor(big, cv2.COLOR_GRAY2RGB), min_face=size // 3)
            if len(faces) != 1:
                continue
            x, y, w, h = faces[0].box
            fw.append(w / size)
            fh.append(h / size)
            cx.append((x + w / 2) / size)
            cy.append((y + h / 2) / size)
        fw, fh = np.median(fw), np.median(fh)
        print(
            f"{det.name}: one face in {len(cx)}/{len(split)} images; median box {fw:.3f} x {fh:.3f} "
            f"of the frame, centre ({np.median(cx):.3f}, {np.median(cy):.3f}); margin per side "
            f"{(1 / fw - 1) / 2:.3f} (width), {(1 / fh - 1) / 2:.3f} (height)"
        )


if __name__ == "__main__":
    main()
