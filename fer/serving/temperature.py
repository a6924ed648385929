"""Calibrated confidence: temperature scaling of the probabilities the serving runtime returns.

A model's card may hold ``"calibration": {"temperature": T, "temperature_by_tta": {mode: T},
...}`` (fitted by :mod:`fer.quality.calibration`, written by ``python -m fer calibrate --model M
--write-card``). :func:`fer.serving.models.load_model` wraps the runtime classifier in a
:class:`CalibratedClassifier` that divides the log of the returned probabilities by T and
renormalises (a softmax): the same as dividing the logits by T, since a softmax ignores a
constant added to every logit. Everything that shows probabilities (pages, CLI, video, live,
batch) loads its model there, so all of it shows calibrated ones.

With test-time augmentation the views are averaged first and T is applied to the average; each
TTA mode has its own T (averaging views already softens the probabilities, so one T would not
fit all). The argmax, and so every accuracy, is unchanged by any T > 0. No card entry: T = 1.
A card's ``prior_correction`` (:mod:`fer.serving.prior`) is applied after T, and that one does
move the argmax.
"""

from __future__ import annotations

import numpy as np

from .prior import apply_prior
from .tta import TTA_MODES, tta_mode

EPS = 1e-12


def apply_temperature(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """``softmax(log(p) / T)`` row by row; ``T == 1`` returns the input unchanged."""
    p = np.asarray(probabilities, dtype=np.float32)
    if temperature == 1.0 or p.size == 0:
        return p
    if not temperature > 0:
        raise ValueError(f"temperature must be positive, not {temperature}")
    z = np.log(np.clip(p.astype(np.float64), EPS, None)) / temperature
    z -= z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return (e / e.sum(axis=-1, keepdims=True)).astype(np.float32)


def temperatures_from_card(card: dict | None) -> dict[str, float]:
    """``{tta mode: T}`` from a card's ``calibration`` entry; modes without one get 1.0."""
    entry = (card or {}).get("calibration") or {}
    by_mode = entry.get("temperature_by_tta") or {}
    default = entry.get("temperature", 1.0)
    temps = {}
    for mode in TTA_MODES:
        value = by_mode.get(mode, default if mode == "off" else 1.0)
        temps[mode] = float(value) if isinstance(value, (int, float)) and value > 0 else 1.0
    return temps


def serve(probabilities: np.ndarray, temperature: float, prior: tuple | None = None) -> np.ndarray:
    """View-averaged runtime probabilities as served: T applied, then the prior correction
    (``(per-emotion prior, tau)``), where there is one."""
    probs = apply_temperature(probabilities, temperature)
    return apply_prior(probs, *prior) if prior else probs


class CalibratedClassifier:
    """A runtime classifier whose probabilities are temperature-scaled (per TTA mode, after the
    views are averaged), then, where ``prior`` (``(per-emotion prior, tau)``) is given, moved to
    the balanced operating point. Everything else (``input_size``, ``engine``, ``path``) is the
    wrapped classifier's; ``base`` is the uncalibrated classifier itself."""

    def __init__(
        self,
        base,
        temperatures: dict[str, float] | None = None,
        prior: tuple[tuple[float, ...], float] | None = None,
    ):
        self.base = base
        self.temperatures = {m: 1.0 for m in TTA_MODES} | dict(temperatures or {})
        self.prior = prior

    def __getattr__(self, name):
        return getattr(self.base, name)

    @property
    def calibrated(self) -> bool:
        return any(t != 1.0 for t in self.temperatures.values())

    def adjust(self, probabilities: np.ndarray, tta: bool | str = False) -> np.ndarray:
        """The runtime's (view-averaged) probabilities as this classifier serves them."""
        return serve(probabilities, self.temperatures[tta_mode(tta)], self.prior)

    def __call__(self, batch: np.ndarray, tta: bool | str = False) -> np.ndarray:
        mode = tta_mode(tta)
        return self.adjust(self.base(batch, tta=mode), mode)

    def predict_batched(
        self, images: np.ndarray, tta: bool | str = False, batch_size: int = 256
    ) -> np.ndarray:
        mode = tta_mode(tta)
        return self.adjust(self.base.predict_batched(images, tta=mode, batch_size=batch_size), mode)


def uncalibrated(classifier):
    """The runtime classifier under any calibration wrapper."""
    return getattr(classifier, "base", classifier)
