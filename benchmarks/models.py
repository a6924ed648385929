"""Inference speed of the installed models' serving files (LiteRT): faces/s and ms/face at
batch 1 and 64.

    python benchmarks/models.py [--seconds 5] [--write-cards]

``--write-cards`` stores the figures in each model card (models/<name>.json)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fer.quality.speed import machine, speed_report  # noqa: E402
from fer.serving.models import load_model  # noqa: E402
from fer.serving.registry import available_models  # noqa: E402
from fer.serving.runtime import runtime_threads  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--write-cards", action="store_true")
    args = parser.parse_args()
    print(f"machine: {machine()}; runtime threads: {runtime_threads()}")
    for info in available_models():
        _, classifier = load_model(info)
        report = speed_report(classifier, args.seconds)
        form = info.card.get("serving", {}).get("quantization", "?")
        print(
            f"{info.name:8s} {info.serving_path.name} ({form}) batch 1: {report['ms_per_face_batch1']:.3f} "
            f"ms/face ({report['faces_per_s_batch1']:.0f} faces/s)   batch 64: "
            f"{report['ms_per_face_batch64']:.3f} ms/face ({report['faces_per_s_batch64']:.0f} faces/s)"
        )
        if args.write_cards:
            card_path = info.path.with_suffix(".json")
            card = json.loads(card_path.read_text())
            card["speed"] = report
            card_path.write_text(json.dumps(card, indent=1))


if __name__ == "__main__":
    main()
