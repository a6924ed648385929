"""Loading the shipped models, one compiled copy per process and model file."""

from __future__ import annotations

import functools
from pathlib import Path

from .errors import ModelNotFoundError
from .inference import CompiledClassifier, load_classifier
from .registry import ModelInfo, get_model_info


@functools.lru_cache(maxsize=8)
def _load(path: str, mtime_ns: int) -> CompiledClassifier:
    try:
        return load_classifier(path)
    except (OSError, ValueError) as exc:
        raise ModelNotFoundError(f"model file {path} cannot be loaded ({exc})") from None


def load_model(model: str | ModelInfo | None = None) -> tuple[ModelInfo, CompiledClassifier]:
    """The model's info and its compiled classifier; a second call returns the same object."""
    info = model if isinstance(model, ModelInfo) else get_model_info(model)
    path = Path(info.path)
    if not path.exists():
        raise ModelNotFoundError(f"model file {path} does not exist")
    return info, _load(str(path.resolve()), path.stat().st_mtime_ns)
