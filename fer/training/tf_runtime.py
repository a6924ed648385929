"""Importing TensorFlow quietly: its native start-up lines (CUDA probes, absl notices) go to the
process's stderr, past ``TF_CPP_MIN_LOG_LEVEL``, and would bury the CLI's one-line messages."""

from __future__ import annotations

import os
import sys

from ..native_stderr import native_stderr_silenced


def import_tensorflow():
    """``import tensorflow`` (and Keras) without the native start-up noise."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if "tensorflow" in sys.modules and "keras" in sys.modules:
        return sys.modules["tensorflow"]
    with native_stderr_silenced():
        import keras  # noqa: F401  (imports tensorflow as its backend)
        import tensorflow as tf
    return tf
