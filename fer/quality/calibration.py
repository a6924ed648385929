"""Fitting and measuring calibration: the temperature that minimises a model's NLL on held-out
faces (one per test-time augmentation mode), expected calibration error and reliability bins,
and the Models page's account of both.

Applying a fitted temperature is serving's part (:mod:`fer.serving.temperature`): a card may hold
``"calibration": {"temperature": T, "temperature_by_tta": {mode: T}, ...}``, written by
``python -m fer calibrate --model M --write-card``, and :func:`fer.serving.models.load_model`
applies it. The argmax, and so every accuracy, is unchanged by any T > 0.

Expected calibration error (:func:`expected_calibration_error`): 15 equal-width bins of the top
probability, the mean of |accuracy - confidence| over the bins weighted by their share of faces.
"""

from __future__ import annotations

import math

import numpy as np

from ..serving.temperature import EPS, apply_temperature, serve, uncalibrated
from ..serving.tta import TTA_MODES

ECE_BINS = 15


def nll(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """Mean negative log-likelihood of the true labels."""
    p = np.asarray(probabilities, dtype=np.float64)
    picked = p[np.arange(len(labels)), np.asarray(labels, dtype=np.int64)]
    return float(-np.log(np.clip(picked, EPS, None)).mean())


def fit_temperature(
    probabilities: np.ndarray,
    labels: np.ndarray,
    bounds: tuple[float, float] = (0.05, 20.0),
    iterations: int = 80,
) -> float:
    """The T that minimises the NLL of ``softmax(log(p) / T)``: golden-section search on
    ``1 / T``, in which the NLL is convex."""
    log_p = np.log(np.clip(np.asarray(probabilities, dtype=np.float64), EPS, None))
    labels = np.asarray(labels, dtype=np.int64)
    rows = np.arange(len(labels))

    def loss(beta: float) -> float:
        z = log_p * beta
        z -= z.max(axis=1, keepdims=True)
        return float((np.log(np.exp(z).sum(axis=1)) - z[rows, labels]).mean())

    lo, hi = 1.0 / bounds[1], 1.0 / bounds[0]
    ratio = (math.sqrt(5) - 1) / 2
    a, b = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
    fa, fb = loss(a), loss(b)
    for _ in range(iterations):
        if fa < fb:
            hi, b, fb = b, a, fa
            a = hi - ratio * (hi - lo)
            fa = loss(a)
        else:
            lo, a, fa = a, b, fb
            b = lo + ratio * (hi - lo)
            fb = loss(b)
    return float(2.0 / (lo + hi))


def reliability_bins(
    probabilities: np.ndarray, labels: np.ndarray, bins: int = ECE_BINS
) -> list[dict]:
    """Per equal-width bin of the top probability: its range, the faces in it, their mean
    confidence and their accuracy (empty bins are left out)."""
    p = np.asarray(probabilities, dtype=np.float64)
    confidence, predicted = p.max(axis=1), p.argmax(axis=1)
    correct = predicted == np.asarray(labels)
    index = np.minimum((confidence * bins).astype(int), bins - 1)
    out = []
    for b in range(bins):
        members = index == b
        n = int(members.sum())
        if n:
            out.append(
                {
                    "low": round(b / bins, 4),
                    "high": round((b + 1) / bins, 4),
                    "count": n,
                    "confidence": round(float(confidence[members].mean()), 4),
                    "accuracy": round(float(correct[members].mean()), 4),
                }
            )
    return out


def expected_calibration_error(
    probabilities: np.ndarray, labels: np.ndarray, bins: int = ECE_BINS
) -> float:
    """ECE of the top-label confidence, ``bins`` equal-width bins (a fraction, not %)."""
    table = reliability_bins(probabilities, labels, bins)
    total = sum(row["count"] for row in table)
    if not total:
        return 0.0
    return float(
        sum(row["count"] * abs(row["accuracy"] - row["confidence"]) for row in table) / total
    )


def calibration_subset(labels: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """Indices of a seeded, class-stratified sample of about ``n`` items (sorted)."""
    labels = np.asarray(labels)
    if n >= len(labels):
        return np.arange(len(labels))
    rng = np.random.default_rng(seed)
    picked = []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        k = max(1, round(n * len(members) / len(labels)))
        picked.append(rng.choice(members, size=min(k, len(members)), replace=False))
    return np.sort(np.concatenate(picked))


def calibrate(
    classifier,
    fit_images: np.ndarray,
    fit_labels: np.ndarray,
    test_images: np.ndarray | None = None,
    test_labels: np.ndarray | None = None,
    modes: tuple[str, ...] = TTA_MODES,
    prior: tuple | None = None,
) -> dict:
    """Fit one T per TTA mode on ``fit_*`` (faces ``(N, 48, 48)`` uint8) and, where test faces
    are given, measure ECE and NLL on them before and after (reporting only: nothing is
    fitted on them; ``prior``, ``(per-emotion prior, tau)``: a card's prior correction,
    applied after T to the "after" figures, as serving does). Returns ``{mode: {temperature,
    fit_nll_before/after, ece_before/after, nll_before/after, reliability_before/after}}``."""
    from ..vision.preprocessing import to_model_input

    base = uncalibrated(classifier)
    size = base.input_size
    fit_x = to_model_input(fit_images, size)
    test_x = to_model_input(test_images, size) if test_images is not None else None
    out = {}
    for mode in modes:
        probs = base.predict_batched(fit_x, tta=mode)
        t = fit_temperature(probs, fit_labels)
        row = {
            "temperature": round(t, 4),
            "fit_accuracy": round(float((probs.argmax(1) == fit_labels).mean()), 4),
            "fit_nll_before": round(nll(probs, fit_labels), 4),
            "fit_nll_after": round(nll(apply_temperature(probs, t), fit_labels), 4),
        }
        if test_x is not None:
            before = base.predict_batched(test_x, tta=mode)
            after = serve(before, t, prior)
            row |= {
                "ece_before": round(expected_calibration_error(before, test_labels), 4),
                "ece_after": round(expected_calibration_error(after, test_labels), 4),
                "nll_before": round(nll(before, test_labels), 4),
                "nll_after": round(nll(after, test_labels), 4),
                "reliability_before": reliability_bins(before, test_labels),
                "reliability_after": reliability_bins(after, test_labels),
            }
        out[mode] = row
    return out


def reliability_series(entry: dict) -> dict[str, list[dict]]:
    """A card's ``calibration`` entry as the series of a reliability diagram, named for what
    the app shows (the fitted T may be recorded without being applied)."""
    bins = entry.get("reliability") or {}
    applied = bool(entry.get("applied"))
    t = (entry.get("by_tta") or {}).get("off", {}).get("temperature")
    fitted = f"T = {t:.2f}" if isinstance(t, (int, float)) else "fitted T"
    names = {
        "uncalibrated": "uncalibrated" + ("" if applied else " (shown)"),
        "fitted T": fitted + (" (shown)" if applied else " (not applied)"),
    }
    return {names.get(k, k): v for k, v in bins.items() if v}


def calibration_caption(entry: dict) -> str:
    """One paragraph for the Models page: ECE before and after, what is applied and why."""

    def pct(v):
        return f"{100 * v:.1f} %" if isinstance(v, (int, float)) else "–"

    by_tta = entry.get("by_tta") or {}
    parts = [
        f"ECE ({entry.get('ece_bins', ECE_BINS)} bins, {entry.get('ece_split', 'PublicTest')}), "
        "one view: " + f"{pct(entry.get('ece_before'))} uncalibrated, "
        f"{pct(entry.get('ece_after'))} with the fitted T"
    ]
    others = [
        f"{m} {pct(r.get('ece_before'))} → {pct(r.get('ece_after'))}"
        for m, r in by_tta.items()
        if m != "off"
    ]
    if others:
        parts.append("with TTA: " + ", ".join(others))
    text = "; ".join(parts) + f". Fitted on {entry.get('fitted_on', 'not recorded')}."
    text += (
        f" Applied: T = {entry.get('temperature', 1.0):.2f}."
        if entry.get("applied")
        else " Not applied (T = 1)."
    )
    if entry.get("note"):
        text += " " + entry["note"]
    return text
