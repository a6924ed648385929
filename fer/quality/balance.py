"""``python -m fer balance``: measure a model's prior on FER+'s held-out faces and store the
balanced operating point (:mod:`fer.serving.prior`) in its card, with what it does to the
figures: accuracy and mean per-class recall on the held-out slice, FER+ Valid's majority
accuracy and FER2013 PublicTest's accuracy, before and after."""

from __future__ import annotations

import numpy as np

from ..emotions import EMOTIONS
from ..serving.prior import apply_prior
from ..serving.temperature import CalibratedClassifier, uncalibrated

METHOD = (
    "post-hoc logit adjustment (Menon et al., ICLR 2021): each probability, after the "
    "temperature, divided by the model's prior ** tau and renormalised (fer.serving.prior); "
    "the prior is the model's mean probability over FER+'s held-out slice of FER2013Train"
)


def mean_class_recall(predicted: np.ndarray, labels: np.ndarray) -> float:
    """The mean over the classes present in ``labels`` of the share of each predicted right."""
    return float(np.mean([(predicted[labels == c] == c).mean() for c in np.unique(labels)]))


def _without_prior(classifier) -> CalibratedClassifier:
    """``classifier`` as served, its temperature applied, any prior correction not."""
    return CalibratedClassifier(uncalibrated(classifier), getattr(classifier, "temperatures", None))


def _predict(served, images: np.ndarray, mode: str = "off") -> np.ndarray:
    from ..vision.preprocessing import to_model_input

    return served.predict_batched(to_model_input(images, served.input_size), tta=mode)


def model_prior(classifier, images: np.ndarray) -> np.ndarray:
    """The mean probability per emotion of ``classifier`` (its temperature applied, any prior
    correction not) over ``images`` (``(N, 48, 48)`` uint8), one view."""
    return _predict(_without_prior(classifier), images).mean(axis=0)


def _row(probs: np.ndarray, prior: np.ndarray, tau: float, split) -> dict:
    """Accuracy (FER+: majority accuracy) and mean per-class recall of ``probs`` on ``split``,
    before and after the correction."""
    from .ferplus import majority_report

    if split.is_ferplus:
        scored, labels = split.scored_mask(), split.scored().labels
    else:
        scored, labels = np.ones(len(split), bool), split.labels
    row = {}
    for when, p in (("before", probs), ("after", apply_prior(probs, prior, tau))):
        predicted = p[scored].argmax(1)
        if split.is_ferplus:
            row[when] = majority_report(p, split.votes)["majority_accuracy"]
        else:
            row[when] = round(float((predicted == labels).mean()), 4)
        row[f"mean_class_recall_{when}"] = round(mean_class_recall(predicted, labels), 4)
    return row


def _figures(served, prior: np.ndarray, tau: float, split, modes=("off", "flip")) -> dict:
    """:func:`_row` per TTA mode on a FER+ or FER2013 split."""
    return {mode: _row(_predict(served, split.images, mode), prior, tau, split) for mode in modes}


def balance_entry(classifier, data: str, tau: float, held_out: bool) -> dict:
    """The card's ``prior_correction`` for ``classifier`` with FER+ at ``data``."""
    from ..errors import DatasetError
    from .dataset import fer2013_dir, ferplus_holdout, load_split

    served = _without_prior(classifier)
    holdout = ferplus_holdout(data)[1]
    held_out_probs = _predict(served, holdout.images)  # the prior and the slice's figures
    prior = held_out_probs.mean(axis=0)
    entry = {
        "method": METHOD,
        "prior": {e: round(float(v), 5) for e, v in zip(EMOTIONS, prior)},
        "tau": tau,
        "fitted_on": f"{len(holdout):,} faces of FER+ Train's held-out slice"
        + ("" if held_out else " (the model was trained on them: a frequency, not a fit)"),
        "held_out": held_out,
        "applied": True,
        "holdout": _row(held_out_probs[holdout.scored_mask()], prior, tau, holdout.scored()),
        "ferplus_valid": _figures(served, prior, tau, load_split(data, "test")),
    }
    try:
        fer2013 = load_split(str(fer2013_dir()), "test")
    except DatasetError:
        return entry
    entry["fer2013_publictest"] = _figures(served, prior, tau, fer2013)
    return entry


def format_balance(name: str, entry: dict) -> str:
    def pct(v: float) -> str:
        return f"{100 * v:.1f} %"

    prior = ", ".join(f"{e} {v:.3f}" for e, v in entry["prior"].items())
    lines = [
        f"model {name}: prior on {entry['fitted_on']}: {prior}; tau {entry['tau']:g}",
        f"{'figure':<42}{'before':>9}{'after':>9}",
    ]
    rows = [("held-out slice, majority accuracy", entry["holdout"])]
    rows += [
        (f"FER+ Valid majority accuracy, tta {m}", r) for m, r in entry["ferplus_valid"].items()
    ]
    for m, r in (entry.get("fer2013_publictest") or {}).items():
        rows.append((f"FER2013 PublicTest accuracy, tta {m}", r))
    for label, r in rows:
        lines.append(f"{label:<42}{pct(r['before']):>9}{pct(r['after']):>9}")
        lines.append(
            f"{'  mean per-class recall':<42}{pct(r['mean_class_recall_before']):>9}"
            f"{pct(r['mean_class_recall_after']):>9}"
        )
    return "\n".join(lines)


def operating_point_caption(entry: dict | None) -> str | None:
    """One paragraph on a card's ``prior_correction`` for the Models page (None without one)."""
    if not entry or not entry.get("applied", True) or not isinstance(entry.get("prior"), dict):
        return None
    valid = (entry.get("ferplus_valid") or {}).get("off") or {}
    figures = ""
    if "before" in valid and "after" in valid:
        figures = (
            f" On FER+ Valid it moves the majority accuracy from {100 * valid['before']:.1f} % "
            f"to {100 * valid['after']:.1f} % and the mean per-class recall from "
            f"{100 * valid['mean_class_recall_before']:.1f} % to "
            f"{100 * valid['mean_class_recall_after']:.1f} %; the accuracies above are the "
            "network's, before it."
        )
    neutral = entry["prior"].get("neutral")
    share = f" (neutral {100 * neutral:.0f} %)" if isinstance(neutral, (int, float)) else ""
    return (
        f"**Balanced operating point**: each probability is divided by how often the model "
        f"predicts that emotion on FER+'s held-out faces{share}, to the power "
        f"{entry.get('tau', 1):g}, so that faces from outside FER+, which do not come in its "
        f"proportions, are not pulled towards its commonest emotions.{figures}"
    )
