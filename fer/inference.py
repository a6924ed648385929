"""Fast inference for a trained Keras model.

``model.predict`` costs milliseconds of overhead per call, more than a whole face takes, so
the classifier runs a compiled form of the network: a TensorFlow Lite flatbuffer (XNNPACK
kernels; ~0.3 ms per face for the shallow model at batch 1 on 2 cores), converted once and
cached next to the user's other files. Where conversion is unavailable it falls back to a
``tf.function``. Both give the Keras model's outputs to within float rounding.
"""

from __future__ import annotations

import hashlib
import os
import threading
import warnings
from pathlib import Path

import numpy as np

from .settings import cache_dir
from .tf_runtime import import_tensorflow, native_stderr_silenced
from .tta import tta_average, tta_mode, tta_views


def _tflite_bytes(model, cache_key: str | None) -> bytes:
    cached = cache_dir() / "tflite" / f"{cache_key}.tflite" if cache_key else None
    if cached is not None and cached.exists():
        return cached.read_bytes()
    import contextlib
    import io

    tf = import_tensorflow()

    # The converter prints pages of signatures to stdout; keep the CLI's output clean.
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        data = tf.lite.TFLiteConverter.from_keras_model(model).convert()
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, cached)
    return data


def file_digest(path: str | os.PathLike) -> str:
    """sha256 of a file, hex."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class CompiledClassifier:
    """Calls a Keras classifier on float batches ``(N, S, S, 1)``; thread-safe."""

    def __init__(self, model, cache_key: str | None = None, engine: str = "auto"):
        self.model = model
        self.input_size = int(model.input_shape[1])
        self._lock = threading.Lock()
        self._interpreter = None
        self._batch = 0
        self.engine = "tf.function"
        if engine in ("auto", "tflite"):
            try:
                self._init_tflite(_tflite_bytes(model, cache_key))
                self.engine = "tflite"
            except Exception as exc:  # conversion is an optimisation, never a failure
                if engine == "tflite":
                    raise
                warnings.warn(f"TFLite unavailable ({exc}); using tf.function", stacklevel=2)
        if self.engine == "tf.function":
            tf = import_tensorflow()

            self._fn = tf.function(lambda x: model(x, training=False), reduce_retracing=True)

    def _init_tflite(self, data: bytes) -> None:
        tf = import_tensorflow()
        with warnings.catch_warnings(), native_stderr_silenced():
            warnings.simplefilter("ignore")  # tf.lite's deprecation notice
            interp = tf.lite.Interpreter(model_content=data, num_threads=os.cpu_count() or 1)
            self._in = interp.get_input_details()[0]["index"]
            self._out = interp.get_output_details()[0]["index"]
            self._interpreter = interp
            # The first run creates the XNNPACK delegate, which announces itself on stderr.
            self._run_tflite(np.zeros((1, self.input_size, self.input_size, 1), np.float32))

    def _run_tflite(self, batch: np.ndarray) -> np.ndarray:
        interp = self._interpreter
        if batch.shape[0] != self._batch:
            interp.resize_tensor_input(self._in, list(batch.shape))
            interp.allocate_tensors()
            self._batch = batch.shape[0]
        interp.set_tensor(self._in, batch)
        interp.invoke()
        return interp.get_tensor(self._out).copy()

    def __call__(self, batch: np.ndarray, tta: bool | str = False) -> np.ndarray:
        """Probabilities ``(N, 7)``; ``tta`` (see :mod:`fer.tta`) averages several views."""
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        if batch.shape[0] == 0:
            return np.zeros((0, 7), np.float32)
        mode = tta_mode(tta)
        if mode != "off":
            return tta_average(self(tta_views(batch, mode)), batch.shape[0])
        with self._lock:
            if self._interpreter is not None:
                return self._run_tflite(batch)
            return self._fn(batch).numpy()

    def predict_batched(self, images: np.ndarray, tta: bool | str = False,
                        batch_size: int = 256) -> np.ndarray:
        """Probabilities for a large array, in chunks (evaluation)."""
        parts = [self(images[i:i + batch_size], tta=tta) for i in range(0, len(images), batch_size)]
        return np.concatenate(parts) if parts else np.zeros((0, 7), np.float32)


def load_classifier(path: str | os.PathLike, engine: str = "auto") -> CompiledClassifier:
    """Load a ``.keras`` file and compile it for inference."""
    import_tensorflow()
    import keras

    path = Path(path)
    model = keras.models.load_model(path, compile=False)
    return CompiledClassifier(model, cache_key=file_digest(path)[:24], engine=engine)
