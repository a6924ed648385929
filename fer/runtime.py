"""The serving runtime: a model's LiteRT flatbuffer (``<name>.tflite``, written beside each
``.keras`` by :mod:`fer.training.export`) run by ``ai-edge-litert``, LiteRT's own package.

Nothing here imports TensorFlow or Keras: pages, frames, the CLI's ``predict``, ``video`` and
``evaluate`` start in well under a second and hold a few tens of MB per model. Why LiteRT and
not onnxruntime, with figures, is in the README ("Serving runtime").
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from pathlib import Path

import numpy as np

from .emotions import NUM_CLASSES
from .errors import ModelNotFoundError
from .tta import tta_average, tta_mode, tta_views

_stderr_lock = threading.Lock()


@contextlib.contextmanager
def native_stderr_silenced():
    """Send file descriptor 2 to /dev/null for the duration (Python-level errors still raise):
    native libraries announce themselves there, past any logging setting, and would bury the
    CLI's one-line messages."""
    with _stderr_lock:
        sys.stderr.flush()
        try:
            saved = os.dup(2)
        except OSError:  # no real stderr (embedded); nothing to silence
            yield
            return
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, 2)
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            os.close(devnull)


def runtime_threads() -> int:
    """Threads per inference call: ``$FER_THREADS``, else every core."""
    try:
        return max(1, int(os.environ.get("FER_THREADS", "")))
    except ValueError:
        return os.cpu_count() or 1


class RuntimeClassifier:
    """Calls a flatbuffer classifier on float batches ``(N, S, S, 1)`` in [0, 1] and returns
    probabilities ``(N, 7)``; thread-safe (one call at a time per model)."""

    engine = "litert"

    def __init__(self, path: str | os.PathLike, threads: int | None = None):
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError:
            raise ModelNotFoundError(
                "the model runtime is not installed: pip install ai-edge-litert "
                "(or pip install -r requirements-serve.txt)") from None
        self.path = Path(path)
        try:
            with native_stderr_silenced():
                self._interpreter = Interpreter(model_path=str(self.path),
                                                num_threads=threads or runtime_threads())
        except (ValueError, RuntimeError) as exc:
            raise ModelNotFoundError(f"model file {self.path} cannot be loaded ({exc})") from None
        self._in = self._interpreter.get_input_details()[0]["index"]
        self._out = self._interpreter.get_output_details()[0]["index"]
        self.input_size = int(self._interpreter.get_input_details()[0]["shape"][1])
        self._lock = threading.Lock()
        self._batch = 0
        with native_stderr_silenced():  # the first run creates XNNPACK, which says so on stderr
            self._run(np.zeros((1, self.input_size, self.input_size, 1), np.float32))

    def _run(self, batch: np.ndarray) -> np.ndarray:
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
            return np.zeros((0, NUM_CLASSES), np.float32)
        mode = tta_mode(tta)
        if mode != "off":
            return tta_average(self(tta_views(batch, mode)), batch.shape[0])
        with self._lock:
            return self._run(batch)

    def predict_batched(self, images: np.ndarray, tta: bool | str = False,
                        batch_size: int = 256) -> np.ndarray:
        """Probabilities for a large array, in chunks (evaluation)."""
        parts = [self(images[i:i + batch_size], tta=tta) for i in range(0, len(images), batch_size)]
        return np.concatenate(parts) if parts else np.zeros((0, NUM_CLASSES), np.float32)
