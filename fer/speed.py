"""Inference speed of a classifier, in faces per second (used by benchmarks/ and model cards)."""

from __future__ import annotations

import time

import numpy as np


def faces_per_second(classifier, batch_size: int, seconds: float = 2.0) -> float:
    """Throughput of ``classifier`` on random faces at ``batch_size``, measured for ~``seconds``."""
    size = classifier.input_size
    batch = np.random.default_rng(0).random((batch_size, size, size, 1), dtype=np.float32)
    for _ in range(3):
        classifier(batch)
    calls, start = 0, time.perf_counter()
    while True:
        classifier(batch)
        calls += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds and calls >= 5:
            return calls * batch_size / elapsed


def speed_report(classifier, seconds: float = 2.0) -> dict:
    """Faces/s and ms/face at batch 1 and 64."""
    b1 = faces_per_second(classifier, 1, seconds)
    b64 = faces_per_second(classifier, 64, seconds)
    return {
        "engine": classifier.engine,
        "faces_per_s_batch1": round(b1, 1),
        "ms_per_face_batch1": round(1000 / b1, 3),
        "faces_per_s_batch64": round(b64, 1),
        "ms_per_face_batch64": round(1000 / b64, 3),
    }
