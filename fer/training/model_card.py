"""The measured part of a model card: the serving file, its accuracy on the validation split
with each test-time augmentation, and its speed. Training (:mod:`fer.training`) and ensembles (:mod:`fer.ensemble`)
add how the model was made."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..emotions import EMOTIONS
from ..quality.evaluation import classification_report
from ..quality.ferplus import majority_report
from ..serving.tta import CARD_KEYS, TTA_MODES
from ..vision.preprocessing import preprocessing_description, to_model_input


def accuracy_summary(card: dict) -> str:
    """One line of a card's validation accuracy in each TTA mode, for command-line output."""
    return (
        f"validation accuracy {card['validation']['accuracy']:.4f} "
        f"({card['validation_tta']['accuracy']:.4f} with flip TTA, "
        f"{card['validation_tta_shift']['accuracy']:.4f} with 10 views)"
    )


def measured_fields(
    model,
    model_path: Path,
    val_split,
    name: str,
    data: str,
    speed_seconds: float = 2.0,
    quantization: str = "auto",
) -> dict:
    """Write the serving file beside ``model_path`` (see :func:`fer.training.export.
    write_chosen_serving_file`), then the card's measured part: file, size, input, labels,
    preprocessing, the validation report per TTA mode and the speed, all of the serving file
    that users run, and how it was chosen."""
    from ..quality.speed import speed_report
    from ..serving.runtime import RuntimeClassifier
    from .export import write_chosen_serving_file

    size = int(model.input_shape[1])
    scored, labels, split_name = _scored_faces(val_split)
    x = to_model_input(val_split.images, size)
    measured_on = "FER+ Valid's majority-scored faces" if val_split.is_ferplus else "PublicTest"
    serving = write_chosen_serving_file(
        model, model_path, x[scored], labels, data, quantization, measured_on
    )
    classifier = RuntimeClassifier(serving["path"])
    probabilities = {mode: classifier.predict_batched(x, tta=mode) for mode in TTA_MODES}
    reports = {
        CARD_KEYS[mode]: classification_report(labels, p[scored].argmax(1))
        for mode, p in probabilities.items()
    }
    if val_split.is_ferplus:
        reports["ferplus"] = {
            mode: majority_report(p, val_split.votes) for mode, p in probabilities.items()
        }
        reports["fer2013_publictest"] = _fer2013_reports(classifier, size)
    return {
        "file": model_path.name,
        "parameters": int(model.count_params()),
        "file_bytes": model_path.stat().st_size,
        "serving": {k: v for k, v in serving.items() if k != "path"},
        "input_size": [int(model.input_shape[1]), int(model.input_shape[2]), 1],
        "labels": list(EMOTIONS),
        "preprocessing": preprocessing_description(int(model.input_shape[1])),
        "validation_split": split_name,
        **reports,
        "tta": {
            "flip": "mirrored face averaged in (2 views)",
            "shift": "mirror x {centre, 2-px shifts left/right/up/down} (10 views)",
        },
        "speed": speed_report(classifier, speed_seconds),
        "speed_command": "python benchmarks/models.py",
        "evaluate_command": f"python -m fer evaluate --data {data} --model {name}",
    }


def _scored_faces(split) -> tuple[np.ndarray, np.ndarray, str]:
    """``(which faces, their labels, the split's name)`` a card's accuracy is measured on:
    all of PublicTest with FER2013's labels; FER+ Valid's faces with a strict majority, and it."""
    if not split.is_ferplus:
        return np.ones(len(split), bool), split.labels, f"PublicTest ({len(split)} images)"
    scored = split.scored_mask()
    name = (
        f"FER+ Valid = PublicTest ({int(scored.sum())} of {len(split)} faces have a strict "
        "majority of the 10 votes; accuracy is against it)"
    )
    return scored, split.scored().labels, name


def _fer2013_reports(classifier, size: int) -> dict | None:
    """FER2013 PublicTest accuracy with its own labels, per TTA mode, where FER2013 is found
    (``$FER2013_DIR``): FER+ models keep this figure beside their FER+ one."""
    from ..errors import DatasetError
    from ..quality.dataset import fer2013_dir, load_split

    try:
        split = load_split(str(fer2013_dir()), "test")
    except DatasetError:
        return None
    x = to_model_input(split.images, size)
    return {
        "data": str(fer2013_dir()),
        **{
            mode: float(
                round((classifier.predict_batched(x, tta=mode).argmax(1) == split.labels).mean(), 4)
            )
            for mode in TTA_MODES
        },
    }


def refresh_card(
    model,
    model_path: Path,
    data: str,
    speed_seconds: float = 2.0,
    quantization: str = "auto",
    note: str | None = None,
    command: str | None = None,
) -> dict | None:
    """Write the serving file of the model saved at ``model_path`` and, where a card is beside
    it, re-measure the card's measured part (adding ``note`` and ``command`` to its training
    record); returns the card, or None where there is none (the serving file is then the float
    form: choosing a quantized one needs the card's validation split)."""
    import json

    from ..quality.dataset import load_split
    from .export import write_serving_file

    card_path = model_path.with_suffix(".json")
    if not card_path.exists():
        write_serving_file(
            model, model_path, "float" if quantization == "auto" else quantization, data
        )
        return None
    name = json.loads(card_path.read_text()).get("name", model_path.stem)
    measured = measured_fields(
        model, model_path, load_split(data, "test"), name, str(data), speed_seconds, quantization
    )
    card = json.loads(card_path.read_text())  # read again: measuring takes minutes
    card.update(measured)
    training = card.setdefault("training", {})
    if note:
        training["notes"] = [*training.get("notes", []), note]
    if command:
        training["command"] = "\n".join(filter(None, [training.get("command"), command]))
    card_path.write_text(json.dumps(card, indent=1))
    return card
