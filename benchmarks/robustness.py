"""The robustness suite for every installed model side by side: FER2013 PublicTest accuracy
clean and under each shift of :mod:`fer.quality.robustness`, the mean and the worst drop.

    python benchmarks/robustness.py [--models shallow deep] [--tta off|flip|shift] [--n N]

``python -m fer robustness --model M --write-card`` measures one model and stores it in its card.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fer.quality.dataset import fer2013_dir, load_split  # noqa: E402
from fer.quality.robustness import evaluate_robustness  # noqa: E402
from fer.serving.models import load_model  # noqa: E402
from fer.serving.registry import available_models  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", nargs="+", default=None)
    parser.add_argument("--tta", default="off", choices=["off", "flip", "shift"])
    parser.add_argument("--n", type=int, default=None, help="a fixed sample of N test images")
    parser.add_argument("--data", default=None)
    args = parser.parse_args()
    split = load_split(args.data or fer2013_dir(), "test")
    if args.n:
        split = split.subset(args.n)
    names = args.models or [m.name for m in available_models()]
    results = {}
    for name in names:
        _, classifier = load_model(name)
        results[name] = evaluate_robustness(classifier, split.images, split.labels, tta=args.tta)
    print(f"FER2013 PublicTest, {len(split)} faces, TTA {args.tta}: accuracy (drop in points)")
    print(f"{'shift':<14}" + "".join(f"{n:>18}" for n in names))
    print(f"{'clean':<14}" + "".join(f"{100 * r['clean']:>17.1f}%" for r in results.values()))
    for shift in next(iter(results.values()))["shifts"]:
        print(
            f"{shift:<14}"
            + "".join(
                f"{100 * r['shifts'][shift]:>10.1f}% ({100 * (r['clean'] - r['shifts'][shift]):+5.1f})"
                for r in results.values()
            )
        )
    print(
        f"{'mean drop':<14}" + "".join(f"{100 * r['mean_drop']:>18.1f}" for r in results.values())
    )
    print(
        f"{'worst drop':<14}"
        + "".join(f"{100 * r['worst_drop']:>6.1f} {r['worst_shift']:>11}" for r in results.values())
    )


if __name__ == "__main__":
    main()
