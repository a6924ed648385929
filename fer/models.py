"""Loading the shipped models for serving: one runtime copy per process and serving file."""

from __future__ import annotations

import functools

from .errors import ModelNotFoundError
from .registry import ModelInfo, get_model_info
from .runtime import RuntimeClassifier


@functools.lru_cache(maxsize=8)
def _load(path: str, mtime_ns: int) -> RuntimeClassifier:
    return RuntimeClassifier(path)


def load_model(model: str | ModelInfo | None = None) -> tuple[ModelInfo, RuntimeClassifier]:
    """The model's info and its runtime classifier; a second call returns the same object."""
    info = model if isinstance(model, ModelInfo) else get_model_info(model)
    path = info.serving_path
    if not path.exists():
        raise ModelNotFoundError(
            f"model {info.name} has no serving file {path}; write it with "
            f"`python -m fer export {info.path}` (needs TensorFlow)")
    return info, _load(str(path.resolve()), path.stat().st_mtime_ns)
