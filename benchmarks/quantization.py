"""Float against quantized serving files: size, speed at batch 1 and 64, and the PublicTest
accuracy each form got when its model was exported (the card's ``serving.candidates``).

    python benchmarks/quantization.py [--seconds 2] [--models shallow,deep]

Converts each installed model (its ``.keras``) to the float, dynamic-range and int8 forms with
:func:`fer.training.export.convert` (needs TensorFlow; int8 calibrates on 512 training faces
from ``$FER2013_DIR``), times each under LiteRT (:class:`fer.serving.runtime.RuntimeClassifier`) in
this one run, and marks the form that ships. It only prints.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fer.quality.speed import faces_per_second, machine  # noqa: E402
from fer.serving.registry import get_model_info  # noqa: E402
from fer.serving.runtime import RuntimeClassifier  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--models", default="shallow,deep")
    args = parser.parse_args()
    from fer.training.export import QUANTIZATIONS, convert
    from fer.training.tf_runtime import import_tensorflow

    import_tensorflow()
    import keras

    print(f"machine: {machine()}; LiteRT, small batches on 1 thread, batch 64 on all cores")
    print(
        f"{'model':8s} {'form':8s} {'MB':>6s} {'ms b1':>7s} {'ms b64':>7s} {'acc':>6s} "
        f"{'flip':>6s}  shipped"
    )
    folder = Path(tempfile.mkdtemp(prefix="fer-quant-"))
    for name in args.models.split(","):
        info = get_model_info(name)
        model = keras.models.load_model(info.path, compile=False)
        serving = info.card.get("serving", {})
        for form in QUANTIZATIONS:
            path = folder / f"{name}-{form}.tflite"
            path.write_bytes(convert(model, form))
            classifier = RuntimeClassifier(path)
            b1 = 1000 / faces_per_second(classifier, 1, args.seconds)
            b64 = 1000 / faces_per_second(classifier, 64, args.seconds)
            accuracy = serving.get("candidates", {}).get(form, {}).get("accuracy", {})
            shown = [
                f"{100 * accuracy[m]:5.1f}%" if m in accuracy else "     ?" for m in ("off", "flip")
            ]
            mark = "yes" if serving.get("quantization") == form else ""
            print(
                f"{name:8s} {form:8s} {path.stat().st_size / 1e6:6.2f} {b1:7.3f} {b64:7.3f} "
                f"{shown[0]} {shown[1]}  {mark}",
                flush=True,
            )


if __name__ == "__main__":
    main()
