"""Accuracy of a serving model on posed-expression photos (CK+, JAFFE, Yale, ...): a check of
how the model does off FER2013, never data to train on.

    python benchmarks/posed.py DIR [DIR ...] [--model shallow|deep|PATH.keras|PATH.tflite]
        [--models-dir FOLDER] [--tta off|flip|shift] [--neutral-divisor K]

Each DIR is one set laid out as ``DIR/<emotion>/<image>`` (``<emotion>`` one of
``fer.emotions.EMOTIONS``; other folders are skipped), or a folder of such sets. Images (any
extension cv2 reads) are read as grayscale, resized to 48x48 with ``cv2.INTER_AREA`` and fed
through ``fer.vision.preprocessing.to_model_input`` to the model's serving file (as the app runs it:
TFLite runtime, calibrated; TensorFlow is not imported). Printed: the machine, per set the
accuracy, and per class the accuracy, the share predicted neutral and the commonest wrong
label. ``--neutral-divisor K`` divides the neutral probability by K and renormalises before the
argmax: an operating point to report, not what serving does. ``--models-dir`` looks the model
name up in another folder (as ``$FER_MODELS_DIR`` does), to check a candidate model.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fer.emotions import EMOTIONS  # noqa: E402
from fer.quality.speed import machine  # noqa: E402
from fer.serving.models import load_model  # noqa: E402
from fer.serving.registry import get_model_info  # noqa: E402
from fer.serving.tta import TTA_MODES  # noqa: E402
from fer.vision.preprocessing import INPUT_SIZE, to_model_input  # noqa: E402

NEUTRAL = EMOTIONS.index("neutral")


def is_set(folder: Path) -> bool:
    try:
        return any((folder / e).is_dir() for e in EMOTIONS)
    except OSError:
        return False


def find_sets(dirs: list[Path]) -> list[Path]:
    """Each folder itself if it holds emotion folders, else its subfolders that do."""
    sets = []
    for d in dirs:
        if is_set(d):
            sets.append(d)
        else:
            sets += sorted(p for p in d.iterdir() if p.is_dir() and is_set(p))
    if not sets:
        raise SystemExit(f"no <emotion>/ folders in {', '.join(map(str, dirs))}")
    return sets


def load_set(folder: Path) -> tuple[np.ndarray, np.ndarray, int]:
    """Faces ``(N, 48, 48)`` uint8, their labels, and how many files cv2 could not read."""
    faces, labels, unreadable = [], [], 0
    for label, emotion in enumerate(EMOTIONS):
        for path in sorted((folder / emotion).glob("*")) if (folder / emotion).is_dir() else []:
            if not path.is_file():
                continue
            image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
            if image is None:
                unreadable += 1
                continue
            if image.shape != (INPUT_SIZE, INPUT_SIZE):
                size = (INPUT_SIZE, INPUT_SIZE)
                image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
            faces.append(image)
            labels.append(label)
    shape = (0, INPUT_SIZE, INPUT_SIZE)
    return np.stack(faces) if faces else np.zeros(shape, np.uint8), np.array(labels), unreadable


def reweigh_neutral(probs: np.ndarray, divisor: float) -> np.ndarray:
    """Neutral's probability divided by ``divisor``, rows renormalised to sum to 1."""
    if divisor == 1:
        return probs
    probs = probs.astype(np.float64).copy()
    probs[:, NEUTRAL] /= divisor
    return probs / probs.sum(axis=1, keepdims=True)


def report(name: str, labels: np.ndarray, predicted: np.ndarray, unreadable: int) -> float:
    acc = float((predicted == labels).mean())
    note = f", {unreadable} unreadable files skipped" if unreadable else ""
    print(f"\n{name}: {len(labels)} faces, accuracy {acc:.1%}{note}")
    print(f"  {'class':<9} {'n':>4} {'acc':>7} {'->neutral':>10}  commonest wrong")
    per_class = []
    for c, emotion in enumerate(EMOTIONS):
        mine = predicted[labels == c]
        if not len(mine):
            continue
        correct = float((mine == c).mean())
        per_class.append(correct)
        wrong = mine[mine != c]
        top = ""
        if len(wrong):
            k = np.bincount(wrong, minlength=len(EMOTIONS))
            top = f"{EMOTIONS[int(k.argmax())]} ({k.max() / len(mine):.0%})"
        to_neutral = float((mine == NEUTRAL).mean())
        print(f"  {emotion:<9} {len(mine):>4} {correct:>7.1%} {to_neutral:>10.1%}  {top}")
    print(f"  mean of class accuracies {np.mean(per_class):.1%}")
    return acc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dirs", nargs="+", type=Path, metavar="DIR")
    parser.add_argument("--model", default=None, help="shallow, deep, or a .keras/.tflite path")
    parser.add_argument("--models-dir", type=Path, default=None, help="look --model up here")
    parser.add_argument("--tta", choices=TTA_MODES, default="off")
    parser.add_argument("--neutral-divisor", type=float, default=1.0, metavar="K")
    args = parser.parse_args()
    if args.neutral_divisor <= 0:
        parser.error("--neutral-divisor must be positive")

    sets = find_sets(args.dirs)
    info, classifier = load_model(get_model_info(args.model, args.models_dir))
    print(f"machine: {machine()}")
    print(
        f"model: {info.name} ({info.serving_path}), tta {args.tta}, "
        f"neutral divisor {args.neutral_divisor:g}"
    )
    for folder in sets:
        faces, labels, unreadable = load_set(folder)
        if not len(labels):
            print(f"\n{folder}: no readable images")
            continue
        probs = classifier.predict_batched(to_model_input(faces), tta=args.tta)
        predicted = reweigh_neutral(probs, args.neutral_divisor).argmax(axis=1)
        report(folder.name, labels, predicted, unreadable)
    if "tensorflow" in sys.modules:
        print("warning: TensorFlow was imported", file=sys.stderr)


if __name__ == "__main__":
    main()
