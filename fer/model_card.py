"""The measured part of a model card: accuracy on the validation split with each test-time
augmentation, and speed. Training (:mod:`fer.training`) and ensembles (:mod:`fer.ensemble`)
add how the model was made."""

from __future__ import annotations

from pathlib import Path

from .emotions import EMOTIONS
from .evaluation import classification_report
from .preprocessing import preprocessing_description, to_model_input
from .tta import CARD_KEYS, TTA_MODES


def accuracy_summary(card: dict) -> str:
    """One line of a card's validation accuracy in each TTA mode, for command-line output."""
    return (f"validation accuracy {card['validation']['accuracy']:.4f} "
            f"({card['validation_tta']['accuracy']:.4f} with flip TTA, "
            f"{card['validation_tta_shift']['accuracy']:.4f} with 10 views)")


def measured_fields(model, model_path: Path, val_split, name: str, data: str,
                    speed_seconds: float = 2.0) -> dict:
    """File, size, input, labels, preprocessing, the validation report per TTA mode and the
    speed of the saved model at ``model_path``."""
    from .inference import CompiledClassifier, file_digest
    from .speed import speed_report

    classifier = CompiledClassifier(model, cache_key=file_digest(model_path)[:24])
    x = to_model_input(val_split.images)
    reports = {CARD_KEYS[mode]: classification_report(
        val_split.labels, classifier.predict_batched(x, tta=mode).argmax(1)) for mode in TTA_MODES}
    return {
        "file": model_path.name,
        "parameters": int(model.count_params()),
        "file_bytes": model_path.stat().st_size,
        "input_size": [int(model.input_shape[1]), int(model.input_shape[2]), 1],
        "labels": list(EMOTIONS),
        "preprocessing": preprocessing_description(int(model.input_shape[1])),
        "validation_split": f"PublicTest ({len(val_split)} images)",
        **reports,
        "tta": {"flip": "mirrored face averaged in (2 views)",
                "shift": "mirror x {centre, 2-px shifts left/right/up/down} (10 views)"},
        "speed": speed_report(classifier, speed_seconds),
        "speed_command": "python benchmarks/models.py",
        "evaluate_command": f"python -m fer evaluate --data {data} --model {name}",
    }
