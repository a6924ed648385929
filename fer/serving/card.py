"""A model card as typed objects: what ``models/<name>.json`` holds (written by training,
``export``, ``ensemble``, ``robustness`` and ``calibrate``), read once into dataclasses so that
readers use attributes instead of chains of ``.get``. Every field may be missing from a card
(an old card, a minimal one in tests): missing numbers are None, missing lists and maps empty.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .tta import CARD_KEYS


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _map(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


@dataclass(frozen=True)
class Report:
    """Accuracy, per-class precision/recall/F1 and the confusion matrix on one split."""

    accuracy: float | None = None
    n: int | None = None
    per_class: dict = field(default_factory=dict)
    confusion_matrix: list = field(default_factory=list)

    @classmethod
    def read(cls, raw: Any) -> Report:
        raw = _map(raw)
        return cls(
            _number(raw.get("accuracy")),
            raw.get("n"),
            _map(raw.get("per_class")),
            raw.get("confusion_matrix") or [],
        )


@dataclass(frozen=True)
class Speed:
    ms_per_face_batch1: float | None = None
    faces_per_s_batch64: float | None = None
    engine: str | None = None
    machine: str | None = None

    @classmethod
    def read(cls, raw: Any) -> Speed:
        raw = _map(raw)
        return cls(
            _number(raw.get("ms_per_face_batch1")),
            _number(raw.get("faces_per_s_batch64")),
            raw.get("engine"),
            raw.get("machine"),
        )


@dataclass(frozen=True)
class Serving:
    """The serving file the app runs, its form, and the forms it was chosen among."""

    file: str
    bytes: int | None = None
    quantization: str = "float"
    runtime: str | None = None
    max_abs_diff_vs_keras: float | None = None
    rule: str | None = None
    candidates: dict = field(default_factory=dict)  # form -> {"bytes", "accuracy": {mode: acc}}

    @classmethod
    def read(cls, raw: Any) -> Serving | None:
        raw = _map(raw)
        if "file" not in raw:
            return None
        return cls(
            raw["file"],
            raw.get("bytes"),
            raw.get("quantization", "float"),
            raw.get("runtime"),
            _number(raw.get("max_abs_diff_vs_keras")),
            raw.get("rule"),
            _map(raw.get("candidates")),
        )


@dataclass(frozen=True)
class Training:
    """How a model (or one ensemble member) was trained."""

    epochs: Any = None  # an int, or "294 + 291" for an ensemble
    wall_seconds: float | None = None
    machine: str | None = None
    notes: tuple[str, ...] = ()
    history: tuple = ()
    command: str | None = None
    recipe: dict = field(default_factory=dict)  # optimizer, schedule, loss, batch size, ...

    @classmethod
    def read(cls, raw: Any) -> Training | None:
        raw = _map(raw)
        if not raw:
            return None
        recipe = {
            label: raw.get(key)
            for label, key in (
                ("optimizer", "optimizer"),
                ("schedule", "schedule"),
                ("loss", "loss"),
                ("batch size", "batch_size"),
                ("seed", "seed"),
                ("training images", "train_images"),
            )
        }
        return cls(
            raw.get("epochs"),
            _number(raw.get("wall_seconds")),
            raw.get("machine"),
            tuple(raw.get("notes") or ()),
            tuple(raw.get("history") or ()),
            raw.get("command"),
            {k: v for k, v in recipe.items() if v is not None},
        )


@dataclass(frozen=True)
class Member:
    """One network of an ensemble, as the ensemble's card keeps it."""

    architecture: str | None
    accuracy: dict  # TTA mode -> accuracy alone
    training: Training | None
    augmentation: str | None = None
    preprocessing: str | None = None

    @classmethod
    def read(cls, raw: Any) -> Member:
        raw = _map(raw)
        return cls(
            raw.get("architecture"),
            _map(raw.get("accuracy")),
            Training.read(raw.get("training")),
            raw.get("augmentation"),
        )


@dataclass(frozen=True)
class ModelCard:
    name: str | None = None
    architecture: str | None = None
    parameters: int | None = None
    file_bytes: int | None = None
    labels: tuple[str, ...] = ()
    validation_split: str | None = None
    reports: dict = field(default_factory=dict)  # TTA mode -> Report
    speed: Speed = field(default_factory=Speed)
    serving: Serving | None = None
    training: Training | None = None
    members: tuple[Member, ...] = ()
    augmentation: str | None = None
    preprocessing: str | None = None
    evaluate_command: str | None = None
    speed_command: str | None = None
    robustness: dict = field(default_factory=dict)  # fer.quality.robustness reads it
    calibration: dict = field(default_factory=dict)  # fer.serving.temperature reads it
    prior_correction: dict = field(default_factory=dict)  # fer.serving.prior reads it
    evaluations: tuple[dict, ...] = ()  # `python -m fer evaluate --write-card`, with commands

    @classmethod
    def read(cls, raw: Any) -> ModelCard:
        raw = _map(raw)
        return cls(
            name=raw.get("name"),
            architecture=raw.get("architecture"),
            parameters=raw.get("parameters"),
            file_bytes=raw.get("file_bytes"),
            labels=tuple(raw.get("labels") or ()),
            validation_split=raw.get("validation_split"),
            reports={mode: Report.read(raw[key]) for mode, key in CARD_KEYS.items() if key in raw},
            speed=Speed.read(raw.get("speed")),
            serving=Serving.read(raw.get("serving")),
            training=Training.read(raw.get("training")),
            members=tuple(Member.read(m) for m in raw.get("members") or ()),
            augmentation=raw.get("augmentation"),
            preprocessing=raw.get("preprocessing"),
            evaluate_command=raw.get("evaluate_command"),
            speed_command=raw.get("speed_command"),
            robustness=_map(raw.get("robustness")),
            calibration=_map(raw.get("calibration")),
            prior_correction=_map(raw.get("prior_correction")),
            evaluations=tuple(e for e in raw.get("evaluations") or () if isinstance(e, dict)),
        )

    @property
    def validated_on_ferplus(self) -> bool:
        """Whether the card's own accuracy figures (``reports``, the serving parity) are on FER+
        Valid against the ten-vote majority; if not, they are PublicTest's with FER2013's labels."""
        return (self.validation_split or "").startswith("FER+")

    @property
    def validation_split_short(self) -> str | None:
        """The validation split in two words (``FER+ Valid``, ``PublicTest``), if recorded."""
        if not self.validation_split:
            return None
        return "FER+ Valid" if self.validated_on_ferplus else self.validation_split.split(" (")[0]

    def evaluation(self, split: str, tta: str) -> dict | None:
        """The stored ``evaluate`` figure of a split (``FER+ Valid``, ``PublicTest``) and TTA."""
        for entry in self.evaluations:
            if (entry.get("split"), entry.get("tta")) == (split, tta):
                return entry
        return None

    def accuracy(self, mode: str = "off") -> float | None:
        """Accuracy on the validation split with a TTA mode (``off``, ``flip``, ``shift``), if
        measured."""
        report = self.reports.get(mode)
        return report.accuracy if report else None
