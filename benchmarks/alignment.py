"""Does turning faces upright with YuNet's eye landmarks (at inference only) win back the
accuracy lost to in-plane rotation? FER2013 PublicTest faces are upscaled (48 -> 192 px, as in
``benchmarks/face_margin.py``), rotated by each angle (border replicated, as the robustness
suite does), detected by YuNet, and classified from the plain crop and from the upright crop
(:mod:`fer.vision.alignment`). Images where YuNet finds no face count as wrong for both.

    FER_YUNET_MODEL=../shared/models/face_detection_yunet_2023mar.onnx \\
        python benchmarks/alignment.py [--model deep] [--angles -20 0 20] [--n 3589]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fer.quality.dataset import fer2013_dir, load_split  # noqa: E402
from fer.serving.models import load_model  # noqa: E402
from fer.vision.alignment import roll_degrees, upright_crop  # noqa: E402
from fer.vision.detection import YuNetDetector, yunet_model_path  # noqa: E402
from fer.vision.preprocessing import crop_face, margin_for, to_model_input  # noqa: E402

SCALE = 4


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", nargs="+", default=["shallow", "deep"])
    parser.add_argument("--angles", type=float, nargs="+", default=[-20, -10, 0, 10, 20])
    parser.add_argument("--n", type=int, default=None, help="a fixed sample of N test images")
    parser.add_argument("--data", default=None)
    args = parser.parse_args()
    path = yunet_model_path(download=False)
    if path is None:
        sys.exit("needs the YuNet file (set FER_YUNET_MODEL)")
    detector = YuNetDetector(path)
    split = load_split(args.data or fer2013_dir(), "test")
    if args.n:
        split = split.subset(args.n, seed=0)
    classifiers = {m: load_model(m)[1] for m in args.model}
    margin = margin_for("yunet")
    size = 48 * SCALE
    start = time.perf_counter()
    print(f"FER2013 PublicTest, {len(split)} faces upscaled to {size} px, rotated, YuNet")
    print(
        f"{'angle':>6} {'found':>6} {'roll':>7}  "
        + "  ".join(f"{m + ' plain':>13} {m + ' upright':>14}" for m in classifiers)
    )
    for angle in args.angles:
        plain, upright, found, rolls = [], [], np.zeros(len(split), bool), []
        matrix = cv2.getRotationMatrix2D(((size - 1) / 2, (size - 1) / 2), angle, 1.0)
        for i, img in enumerate(split.images):
            big = cv2.resize(img, (size, size), interpolation=cv2.INTER_CUBIC)
            big = cv2.warpAffine(
                big, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
            )
            faces = detector.detect(cv2.cvtColor(big, cv2.COLOR_GRAY2RGB), min_face=size // 3)
            if not faces:
                plain.append(img)
                upright.append(img)  # placeholder; scored as wrong below
                continue
            face = max(faces, key=lambda f: f.box[2] * f.box[3])
            found[i] = True
            rolls.append(roll_degrees(face.landmarks))
            plain.append(crop_face(big, face.box, margin))
            upright.append(upright_crop(big, face.box, face.landmarks, margin))
        cells = []
        for clf in classifiers.values():
            for crops in (plain, upright):
                pred = clf.predict_batched(to_model_input(crops, clf.input_size)).argmax(1)
                cells.append(float(((pred == split.labels) & found).mean()))
        print(
            f"{angle:>+6.0f} {found.mean():>6.1%} {np.median(rolls):>+7.1f}  "
            + "  ".join(f"{a:>13.1%} {b:>14.1%}" for a, b in zip(cells[::2], cells[1::2])),
            flush=True,
        )
    print(f"({time.perf_counter() - start:.0f} s; 'roll': median eye-line angle YuNet measured)")


if __name__ == "__main__":
    main()
