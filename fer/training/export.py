"""The serving file: a trained ``.keras`` model converted to a LiteRT flatbuffer (``.tflite``)
beside it, which :mod:`fer.serving.runtime` runs without TensorFlow.

Three forms, chosen per model by ``quantization``:
- ``float``: float32 weights and activations, the Keras model to within float rounding;
- ``dynamic``: int8 weights, float activations (dynamic-range quantization), a quarter of the
  size; XNNPACK runs its fully connected layers in int8;
- ``int8``: int8 weights and activations, calibrated on training faces (float input and output,
  so callers do not change).
Which one a model ships with is decided by accuracy on PublicTest (docs/figures.md,
"Serving runtime and quantization").
"""

from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path

import numpy as np

from ..native_stderr import native_stderr_silenced
from .tf_runtime import import_tensorflow

QUANTIZATIONS = ("float", "dynamic", "int8")
CALIBRATION_FACES = 512
QUANTIZED_FORMS = ("int8", "dynamic")
QUANTIZATION_TOLERANCE = 0.003
"""A quantized form ships only if its PublicTest accuracy, plain and with flip TTA, is within
0.3 points of the float form's; of those that are, the fastest at batch 1 (the live webcam's
and a photo's batch) ships. Which is fastest depends on the network: on this project's
machine dynamic-range beat int8 for deep at batch 1 and int8 won at batch 64
(``benchmarks/quantization.py``)."""
SPEED_SECONDS = 1.0
PARITY_FACES = 512


def serving_path(model_path: str | os.PathLike) -> Path:
    """Where the serving file of ``model_path`` lives: the same name, ``.tflite``."""
    return Path(model_path).with_suffix(".tflite")


def _calibration_faces(data: str | os.PathLike | None, size: int, n: int = CALIBRATION_FACES):
    """A seeded sample of training faces in the model's input form (never the test splits)."""
    from ..quality.dataset import fer2013_dir, load_split
    from ..vision.preprocessing import to_model_input

    train = load_split(data or fer2013_dir(), "train").subset(n, seed=0)
    return to_model_input(train.images, size)


def convert(model, quantization: str = "float", data: str | os.PathLike | None = None) -> bytes:
    """The flatbuffer of a Keras model. ``int8`` reads calibration faces from the FER2013
    training split at ``data`` (default ``$FER2013_DIR``)."""
    if quantization not in QUANTIZATIONS:
        raise ValueError(f"unknown quantization {quantization!r}; use one of {QUANTIZATIONS}")
    tf = import_tensorflow()
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if quantization != "float":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantization == "int8":
        faces = _calibration_faces(data, int(model.input_shape[1]))

        def representative():
            for face in faces:
                yield [face[None]]

        converter.representative_dataset = representative
    # The converter prints pages of signatures and MLIR notes, some from native code; keep the
    # CLI's output clean.
    with (
        contextlib.redirect_stdout(io.StringIO()),
        contextlib.redirect_stderr(io.StringIO()),
        native_stderr_silenced(),
    ):
        return converter.convert()


def write_serving_file(
    model,
    model_path: str | os.PathLike,
    quantization: str = "float",
    data: str | os.PathLike | None = None,
) -> Path:
    """Convert ``model`` (saved at ``model_path``) and write the flatbuffer beside it
    atomically; returns its path."""
    return _write_atomically(serving_path(model_path), convert(model, quantization, data))


def _write_atomically(out: Path, data: bytes) -> Path:
    """Write ``data`` to ``out`` through a temporary file beside it: a reader never sees half
    a serving file."""
    staged = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    staged.write_bytes(data)
    os.replace(staged, out)
    return out


def _measured(path: Path, x: np.ndarray, labels: np.ndarray) -> dict:
    """A candidate file's size, accuracy (plain and flip TTA) and speed at batch 1."""
    from ..quality.speed import faces_per_second
    from ..serving.runtime import RuntimeClassifier

    classifier = RuntimeClassifier(path)
    accuracy = {
        mode: round(float((classifier.predict_batched(x, tta=mode).argmax(1) == labels).mean()), 4)
        for mode in ("off", "flip")
    }
    return {
        "bytes": path.stat().st_size,
        "accuracy": accuracy,
        "ms_per_face_batch1": round(1000 / faces_per_second(classifier, 1, SPEED_SECONDS), 3),
    }


def _choose(candidates: dict[str, dict]) -> str:
    """The fastest quantized form at batch 1 within the tolerance of float, else float."""
    reference = candidates["float"]["accuracy"]
    fit = [
        form
        for form in QUANTIZED_FORMS
        if all(
            candidates[form]["accuracy"][m] >= reference[m] - QUANTIZATION_TOLERANCE
            for m in reference
        )
    ]
    return min(fit, key=lambda f: candidates[f]["ms_per_face_batch1"]) if fit else "float"


def write_chosen_serving_file(
    model,
    model_path: str | os.PathLike,
    val_x: np.ndarray,
    val_labels: np.ndarray,
    data: str | os.PathLike | None = None,
    quantization: str = "auto",
    measured_on: str = "PublicTest",
) -> dict:
    """Write the serving file of ``model`` beside ``model_path`` and describe it for the card.

    ``measured_on`` names the faces ``val_x`` holds, for the card: the forms' accuracy and the
    largest difference from Keras (on the first :data:`PARITY_FACES`) are measured on them.

    ``auto`` converts the float form and each quantized one, measures each on the validation
    faces and at batch 1, and keeps the one :data:`QUANTIZATION_TOLERANCE` describes. A named
    form is written as it is."""
    import tempfile

    from ai_edge_litert import __version__ as litert_version

    forms = ("float", *QUANTIZED_FORMS) if quantization == "auto" else (quantization,)
    candidates: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for form in forms:
            path = Path(tmp) / f"{form}.tflite"
            path.write_bytes(convert(model, form, data))
            candidates[form] = _measured(path, val_x, val_labels)
        chosen = _choose(candidates) if quantization == "auto" else quantization
        out = serving_path(model_path)
        _write_atomically(out, (Path(tmp) / f"{chosen}.tflite").read_bytes())
    faces = val_x[:PARITY_FACES]
    return {
        "path": out,
        "file": out.name,
        "bytes": out.stat().st_size,
        "quantization": chosen,
        "runtime": f"ai-edge-litert {litert_version}",
        "max_abs_diff_vs_keras": round(max_abs_difference(model, out, faces), 5),
        "parity_faces": f"the first {len(faces)} of {measured_on}",
        "rule": (
            f"the quantized form fastest at batch 1 among those whose accuracy on "
            f"{measured_on}, plain and flip TTA, is within "
            f"{100 * QUANTIZATION_TOLERANCE:.1f} points of float; float if none is"
            if quantization == "auto"
            else f"{quantization}, as asked"
        ),
        "candidates": candidates,
    }


def max_abs_difference(model, serving_file: str | os.PathLike, faces: np.ndarray) -> float:
    """Largest difference between the Keras model's and the serving file's probabilities."""
    from ..serving.runtime import RuntimeClassifier

    keras_probs = np.asarray(model(faces, training=False))
    runtime_probs = RuntimeClassifier(serving_file).predict_batched(faces)
    return float(np.abs(keras_probs - runtime_probs).max())
