"""The balanced operating point: each emotion's probability divided by how often the model
predicts it on FER+'s faces, to the power tau, and renormalised (post-hoc logit adjustment:
Menon et al., "Long-tail learning via logit adjustment", ICLR 2021).

A model trained on FER+'s votes learns FER+'s class frequencies: a third of its faces are
neutral, one in fifty is fear. Its probabilities are right for faces drawn like FER+'s, and it
calls a subtle expression "neutral" because neutral is that common there. Faces from elsewhere
(a webcam, a photo album, posed expressions) do not come in FER+'s proportions. Dividing by
the prior the model learned (tau = 1) gives the Bayes decision for equally likely emotions;
it costs accuracy on FER+'s own frequencies and gains it on faces that are not.

A card may hold ``"prior_correction": {"prior": {emotion: p}, "tau": t, "applied": true,
...}``, written by ``python -m fer balance``; :func:`fer.serving.models.load_model` applies it
after the temperature, so every page, the CLI, video and live show the corrected figures.
"""

from __future__ import annotations

import numpy as np

from ..emotions import EMOTIONS


def prior_from_card(card: dict | None) -> tuple[tuple[float, ...], float] | None:
    """``(prior per emotion in EMOTIONS' order, tau)`` from a card, or None where there is no
    applied, well-formed correction (every emotion present, each prior positive)."""
    entry = (card or {}).get("prior_correction")
    if not isinstance(entry, dict) or not entry.get("applied", True):
        return None
    prior, tau = entry.get("prior"), entry.get("tau", 1.0)
    if not isinstance(prior, dict) or not isinstance(tau, (int, float)) or tau <= 0:
        return None
    values = [prior.get(e) for e in EMOTIONS]
    if not all(isinstance(v, (int, float)) and v > 0 for v in values):
        return None
    return tuple(float(v) for v in values), float(tau)


def apply_prior(probabilities: np.ndarray, prior, tau: float = 1.0) -> np.ndarray:
    """``p / prior ** tau``, each row renormalised to sum to 1."""
    p = np.asarray(probabilities, dtype=np.float64)
    if p.size == 0:
        return p.astype(np.float32)
    q = p / np.asarray(prior, dtype=np.float64) ** tau
    return (q / q.sum(axis=-1, keepdims=True)).astype(np.float32)
