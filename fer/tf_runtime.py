"""Importing TensorFlow quietly: its native start-up lines (CUDA probes, absl notices) go to the
process's stderr, past ``TF_CPP_MIN_LOG_LEVEL``, and would bury the CLI's one-line messages."""

from __future__ import annotations

import contextlib
import os
import sys
import threading

_lock = threading.Lock()


@contextlib.contextmanager
def native_stderr_silenced():
    """Send file descriptor 2 to /dev/null for the duration (Python-level errors still raise)."""
    with _lock:
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


def import_tensorflow():
    """``import tensorflow`` (and Keras) without the native start-up noise."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if "tensorflow" in sys.modules and "keras" in sys.modules:
        return sys.modules["tensorflow"]
    with native_stderr_silenced():
        import keras  # noqa: F401  (imports tensorflow as its backend)
        import tensorflow as tf
    return tf
