"""Inference speed of a classifier, in faces per second (used by benchmarks/ and model cards)."""

from __future__ import annotations

import os
import platform
import time

import numpy as np


def machine() -> str:
    """The CPU this process runs on: model, cores and widest vector unit, e.g. ``Intel(R)
    Xeon(R) Processor, 2 cores, AVX-512``. Benchmarks print it: the machine varies between
    sessions (2-3x between AVX2 and AVX-512), so only figures from one run compare."""
    cpu, flags = platform.processor() or platform.machine(), ""
    try:
        with open("/proc/cpuinfo") as fh:
            info = fh.read()
        cpu = next(
            line.split(":", 1)[1].strip()
            for line in info.splitlines()
            if line.startswith("model name")
        )
        flags = next((line for line in info.splitlines() if line.startswith("flags")), "")
    except (OSError, StopIteration):
        pass
    simd = "AVX-512" if " avx512f" in flags else "AVX2" if " avx2" in flags else None
    return ", ".join(filter(None, [cpu, f"{os.cpu_count()} cores", simd]))


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
        "machine": machine(),
        "faces_per_s_batch1": round(b1, 1),
        "ms_per_face_batch1": round(1000 / b1, 3),
        "faces_per_s_batch64": round(b64, 1),
        "ms_per_face_batch64": round(1000 / b64, 3),
    }
