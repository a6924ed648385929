"""Accuracy, per-class precision/recall/F1 and the confusion matrix, from labels and predictions."""

from __future__ import annotations

import numpy as np

from ..emotions import EMOTIONS, NUM_CLASSES


def classification_report(y_true: np.ndarray, y_pred: np.ndarray) -> dict:
    """``{"accuracy", "n", "per_class": {emotion: {precision, recall, f1, support}},
    "confusion_matrix"}``; rows of the matrix are true labels, columns predictions."""
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    if y_true.shape != y_pred.shape:
        raise ValueError("labels and predictions differ in length")
    cm = np.zeros((NUM_CLASSES, NUM_CLASSES), dtype=np.int64)
    np.add.at(cm, (y_true, y_pred), 1)
    per_class = {}
    for i, emotion in enumerate(EMOTIONS):
        tp = cm[i, i]
        predicted, actual = cm[:, i].sum(), cm[i, :].sum()
        precision = tp / predicted if predicted else 0.0
        recall = tp / actual if actual else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[emotion] = {
            "precision": round(float(precision), 4),
            "recall": round(float(recall), 4),
            "f1": round(float(f1), 4),
            "support": int(actual),
        }
    n = int(len(y_true))
    return {
        "accuracy": round(float(np.trace(cm) / n), 4) if n else 0.0,
        "n": n,
        "per_class": per_class,
        "confusion_matrix": cm.tolist(),
    }


def format_report(report: dict) -> str:
    """The report as a plain-text table for the terminal."""
    lines = [f"accuracy {report['accuracy']:.4f} on {report['n']} images", ""]
    lines.append(f"{'emotion':<10}{'precision':>10}{'recall':>8}{'f1':>8}{'support':>9}")
    for emotion, m in report["per_class"].items():
        lines.append(
            f"{emotion:<10}{m['precision']:>10.3f}{m['recall']:>8.3f}{m['f1']:>8.3f}{m['support']:>9d}"
        )
    lines += ["", "confusion matrix (rows: true, columns: predicted)"]
    lines.append(" " * 10 + "".join(f"{e[:7]:>8}" for e in EMOTIONS))
    for emotion, row in zip(EMOTIONS, report["confusion_matrix"]):
        lines.append(f"{emotion:<10}" + "".join(f"{v:>8d}" for v in row))
    return "\n".join(lines)
