"""``python -m fer.training.explain_worker REQUEST.npz MAPS.npy``: Grad-CAM maps for a batch of
faces, in a process of its own so that the server asking for them never loads TensorFlow
(:func:`fer.output.explain.explain_faces`). The request holds ``batch`` (N, S, S, 1), ``target``
(JSON) and ``model`` (a ``.keras`` path); the answer is the maps (N, S, S). Errors are one line on
stderr and exit status 2."""

from __future__ import annotations

import json
import sys

import numpy as np


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m fer.training.explain_worker REQUEST.npz MAPS.npy", file=sys.stderr)
        return 2
    from .gradcam import gradcam
    from .tf_runtime import import_tensorflow

    request = np.load(argv[0])
    import_tensorflow()
    import keras

    try:
        model = keras.models.load_model(str(request["model"]), compile=False)
        maps, _ = gradcam(model, request["batch"], json.loads(str(request["target"])))
    except Exception as exc:  # one line for the caller, whatever went wrong
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    np.save(argv[1], maps.astype(np.float32))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
