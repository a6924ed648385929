"""Model cards read into typed objects (fer.serving.card): the shipped cards' fields land where the
Models page reads them, and a minimal or empty card reads without errors."""

from __future__ import annotations

import json

from fer.serving.card import ModelCard
from fer.settings import PROJECT_ROOT


def test_shipped_deep_card_reads_into_its_fields():
    raw = json.loads((PROJECT_ROOT / "models" / "deep.json").read_text())
    card = ModelCard.read(raw)
    assert set(card.reports) == {"off", "flip", "shift"}
    assert card.accuracy("flip") == raw["validation_tta"]["accuracy"]
    assert card.reports["off"].confusion_matrix == raw["validation"]["confusion_matrix"]
    assert card.serving.file == "deep.tflite" and card.serving.bytes == raw["serving"]["bytes"]
    assert set(card.serving.candidates) == set(raw["serving"]["candidates"])
    assert len(card.members) == 2 and card.members[0].training.command
    assert card.training.notes and card.speed.ms_per_face_batch1 > 0
    assert card.robustness["off"]["clean"] > 0.6 and card.calibration["ece_bins"] == 15


def test_minimal_and_empty_cards_read_with_nothing_recorded():
    minimal = ModelCard.read(
        {
            "name": "shallow",
            "validation": {"accuracy": 0.5},
            "speed": {"ms_per_face_batch1": 1},
            "serving": {"bytes": 3},
        }
    )
    assert minimal.accuracy("off") == 0.5 and minimal.accuracy("flip") is None
    assert minimal.speed.ms_per_face_batch1 == 1.0 and minimal.speed.machine is None
    assert minimal.serving is None  # no file named: nothing to describe
    empty = ModelCard.read({})
    assert empty.reports == {} and empty.training is None and empty.members == ()
    assert ModelCard.read(None) == empty


def test_validation_split_says_which_labels_the_accuracy_is_against():
    deep = ModelCard.read(json.loads((PROJECT_ROOT / "models" / "deep.json").read_text()))
    shallow = ModelCard.read(json.loads((PROJECT_ROOT / "models" / "shallow.json").read_text()))
    assert deep.validated_on_ferplus and deep.validation_split_short == "FER+ Valid"
    assert shallow.validated_on_ferplus and shallow.validation_split_short == "FER+ Valid"
    older = ModelCard.read({"validation_split": "PublicTest (3589 images)"})  # FER2013-only
    assert not older.validated_on_ferplus and older.validation_split_short == "PublicTest"
    assert ModelCard.read({}).validation_split_short is None
    assert not ModelCard.read({}).validated_on_ferplus
