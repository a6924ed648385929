"""Loading the shipped models for serving: one runtime copy per process and serving file."""

from __future__ import annotations

import functools

from ..errors import ModelNotFoundError
from .prior import prior_from_card
from .registry import ModelInfo, get_model_info
from .runtime import RuntimeClassifier
from .temperature import CalibratedClassifier, temperatures_from_card


@functools.lru_cache(maxsize=8)
def _load(path: str, mtime_ns: int) -> RuntimeClassifier:
    return RuntimeClassifier(path)


@functools.lru_cache(maxsize=8)
def _calibrated(
    path: str, mtime_ns: int, temperatures: tuple, prior: tuple | None
) -> CalibratedClassifier:
    return CalibratedClassifier(_load(path, mtime_ns), dict(temperatures), prior)


def load_model(model: str | ModelInfo | None = None) -> tuple[ModelInfo, CalibratedClassifier]:
    """The model's info and its runtime classifier, its probabilities temperature-scaled as the
    card's ``calibration`` says (T = 1 without one; see :mod:`fer.serving.temperature`) and
    moved to the balanced operating point where its ``prior_correction`` says so
    (:mod:`fer.serving.prior`): the one place where either is applied. A second call returns
    the same object."""
    info = model if isinstance(model, ModelInfo) else get_model_info(model)
    path = info.serving_path
    if not path.exists():
        raise ModelNotFoundError(
            f"model {info.name} has no serving file {path}; write it with "
            f"`python -m fer export {info.path}` (needs TensorFlow)"
        )
    temperatures = tuple(sorted(temperatures_from_card(info.card).items()))
    prior = prior_from_card(info.card)
    return info, _calibrated(str(path.resolve()), path.stat().st_mtime_ns, temperatures, prior)
