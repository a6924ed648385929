"""Quieting native libraries: LiteRT and TensorFlow announce themselves on file
descriptor 2, past any logging setting. Below both serving (:mod:`fer.serving.runtime`) and
training (:mod:`fer.training.tf_runtime`, :mod:`fer.training.export`), which both load them."""

from __future__ import annotations

import contextlib
import os
import sys
import threading

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
