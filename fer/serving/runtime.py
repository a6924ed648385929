"""The serving runtime: a model's LiteRT flatbuffer (``<name>.tflite``, written beside each
``.keras`` by :mod:`fer.training.export`) run by ``ai-edge-litert``, LiteRT's own package.

Nothing here imports TensorFlow or Keras: pages, frames, the CLI's ``predict``, ``video`` and
``evaluate`` start in well under a second and hold a few tens of MB per model. Why LiteRT and
not onnxruntime, with figures, is in docs/figures.md ("Serving runtime and quantization").
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np

from ..emotions import NUM_CLASSES
from ..errors import ModelNotFoundError
from ..native_stderr import native_stderr_silenced
from .tta import tta_average, tta_mode, tta_views

SMALL_BATCH = 16
"""Batches up to this size (the faces of a frame or a photo) run on one thread. Measured with
the machine busy, as it is beside a browser and the WebRTC codecs: at batch 1 a second XNNPACK
thread made shallow 13x slower (0.37 -> 4.8 ms median) and deep 1.4x (2.7 -> 3.9 ms), because a
call waits for a worker thread that the OS has not scheduled. Large batches (evaluation, batch
jobs) use :func:`runtime_threads`."""


def runtime_threads() -> int:
    """Threads for large batches: ``$FER_THREADS``, else every core."""
    try:
        return max(1, int(os.environ.get("FER_THREADS", "")))
    except ValueError:
        return os.cpu_count() or 1


def configure_opencv_threads() -> int:
    """Give OpenCV (detection, resizing) ``$FER_OPENCV_THREADS`` threads, default 1, for the
    same reason as :data:`SMALL_BATCH`: in the app's server the work per frame is small and
    the cores are shared with the browser and the codecs. Returns the count set."""
    import cv2

    try:
        threads = max(1, int(os.environ.get("FER_OPENCV_THREADS", "1")))
    except ValueError:
        threads = 1
    cv2.setNumThreads(threads)
    return threads


def _open_interpreter(path: Path, threads: int):
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        raise ModelNotFoundError(
            "the model runtime is not installed: pip install ai-edge-litert "
            "(or pip install -r requirements-serve.txt)"
        ) from None
    try:
        with native_stderr_silenced():
            return Interpreter(model_path=str(path), num_threads=threads)
    except (ValueError, RuntimeError) as exc:
        raise ModelNotFoundError(f"model file {path} cannot be loaded ({exc})") from None


class _Engine:
    """One LiteRT interpreter and the batch size its tensors are allocated for; one call at a
    time."""

    def __init__(self, path: Path, threads: int):
        self._interpreter = _open_interpreter(path, threads)
        details = self._interpreter.get_input_details()[0]
        self._in = details["index"]
        self._out = self._interpreter.get_output_details()[0]["index"]
        self.input_size = int(details["shape"][1])
        self._lock = threading.Lock()
        self._batch = 0
        with native_stderr_silenced():  # the first run creates XNNPACK, which says so on stderr
            self.run(np.zeros((1, self.input_size, self.input_size, 1), np.float32))

    def run(self, batch: np.ndarray) -> np.ndarray:
        with self._lock:
            interp = self._interpreter
            if batch.shape[0] != self._batch:
                interp.resize_tensor_input(self._in, list(batch.shape))
                interp.allocate_tensors()
                self._batch = batch.shape[0]
            interp.set_tensor(self._in, batch)
            interp.invoke()
            out = interp.get_tensor(self._out)
        # An int8 softmax's outputs are quantized and their sums drift (0.99-1.014 for deep);
        # probabilities that are shown and exported must add up to 1.
        return out / out.sum(axis=1, keepdims=True)


class RuntimeClassifier:
    """Calls a flatbuffer classifier on float batches ``(N, S, S, 1)`` in [0, 1] and returns
    probabilities ``(N, 7)``; thread-safe. Small batches run on one thread, large ones on
    ``threads`` (default :func:`runtime_threads`; see :data:`SMALL_BATCH`)."""

    engine = "litert"

    def __init__(self, path: str | os.PathLike, threads: int | None = None):
        self.path = Path(path)
        self.threads = threads or runtime_threads()
        self._small = _Engine(self.path, 1)
        self._large: _Engine | None = None
        self._lock = threading.Lock()
        self.input_size = self._small.input_size

    def _engine(self, n: int) -> _Engine:
        if n <= SMALL_BATCH or self.threads == 1:
            return self._small
        with self._lock:
            if self._large is None:
                self._large = _Engine(self.path, self.threads)
            return self._large

    def __call__(self, batch: np.ndarray, tta: bool | str = False) -> np.ndarray:
        """Probabilities ``(N, 7)``; ``tta`` (see :mod:`fer.serving.tta`) averages several views."""
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        if batch.shape[0] == 0:
            return np.zeros((0, NUM_CLASSES), np.float32)
        mode = tta_mode(tta)
        if mode != "off":
            return tta_average(self(tta_views(batch, mode)), batch.shape[0])
        return self._engine(batch.shape[0]).run(batch)

    def predict_batched(
        self, images: np.ndarray, tta: bool | str = False, batch_size: int = 256
    ) -> np.ndarray:
        """Probabilities for a large array, in chunks (evaluation)."""
        parts = [
            self(images[i : i + batch_size], tta=tta) for i in range(0, len(images), batch_size)
        ]
        return np.concatenate(parts) if parts else np.zeros((0, NUM_CLASSES), np.float32)
