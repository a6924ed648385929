"""The shipped models: what is in ``models/``. Each model is ``<name>.keras`` (training,
explanations), ``<name>.tflite`` (its serving file, run by :mod:`fer.serving.runtime`) and
``<name>.json`` (its model card)."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from pathlib import Path

from ..config import DEFAULT_MODEL
from ..errors import ModelNotFoundError
from ..settings import models_dir
from .card import ModelCard

MODEL_NAMES = ("shallow", "deep")

HOW_TO_TRAIN = (
    "train one with `python -m fer train --arch {name} --data "
    "../shared/datasets/fer2013` (the shipped models' recipes: docs/figures.md)"
)


@dataclass(frozen=True)
class ModelInfo:
    name: str
    path: Path
    card: dict = field(default_factory=dict, compare=False)

    @property
    def serving_path(self) -> Path:
        """The flatbuffer that serving runs (beside the ``.keras`` file)."""
        return self.path.with_suffix(".tflite")

    @functools.cached_property
    def model_card(self) -> ModelCard:
        """The card as typed objects (:mod:`fer.serving.card`), read once per ModelInfo."""
        return ModelCard.read(self.card)

    @property
    def input_size(self) -> int:
        return int(self.card.get("input_size", [48])[0])

    @property
    def accuracy(self) -> float | None:
        return self.model_card.accuracy("off")

    @property
    def accuracy_tta(self) -> float | None:
        return self.model_card.accuracy("flip")

    def accuracy_by_tta(self) -> dict[str, float]:
        """PublicTest accuracy per test-time augmentation mode, for the modes the card has."""
        card = self.model_card
        found = {mode: card.accuracy(mode) for mode in card.reports}
        return {mode: acc for mode, acc in found.items() if acc is not None}

    @property
    def ms_per_face(self) -> float | None:
        return self.model_card.speed.ms_per_face_batch1

    def summary(self) -> str:
        """One line for menus: ``deep: 66.1 % (PublicTest), 1.4 ms/face``."""
        parts = [self.name]
        if self.accuracy is not None:
            parts.append(f"{100 * self.accuracy:.1f} % on PublicTest")
        if self.ms_per_face is not None:
            parts.append(f"{self.ms_per_face:.2f} ms/face")
        return parts[0] + (": " + ", ".join(parts[1:]) if len(parts) > 1 else "")


def _card(path: Path) -> dict:
    """The model card beside ``path`` ({} when missing or unreadable); parsed once per version
    of the file, since pages and frames look models up often."""
    card_path = path.with_suffix(".json")
    try:
        stat = card_path.stat()
    except OSError:
        return {}
    return _parsed_card(str(card_path), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=32)
def _parsed_card(card_path: str, mtime_ns: int, size: int) -> dict:
    try:
        return json.loads(Path(card_path).read_text())
    except (OSError, ValueError):
        return {}


def available_models(folder: Path | None = None) -> list[ModelInfo]:
    """Installed models in canonical order (shallow first), then any others: each ``.keras`` or
    ``.tflite`` file (a serving-only install may hold just the latter)."""
    folder = Path(folder) if folder else models_dir()
    found = sorted([*folder.glob("*.keras"), *folder.glob("*.tflite")]) if folder.is_dir() else []
    files = {p.stem: p.with_suffix(".keras") for p in found}
    ordered = [n for n in MODEL_NAMES if n in files] + [n for n in files if n not in MODEL_NAMES]
    return [ModelInfo(n, files[n], _card(files[n])) for n in ordered]


def get_model_info(name: str | None = None, folder: Path | None = None) -> ModelInfo:
    """Look a model up by name (or a path to its ``.keras`` or ``.tflite`` file); missing ->
    ModelNotFoundError."""
    name = name or DEFAULT_MODEL
    as_path = Path(name)
    if as_path.suffix in (".keras", ".tflite"):
        if not as_path.exists():
            raise ModelNotFoundError(f"model file {as_path} does not exist")
        keras_path = as_path.with_suffix(".keras")
        return ModelInfo(as_path.stem, keras_path, _card(keras_path))
    models = available_models(folder)
    for info in models:
        if info.name == name:
            return info
    where = Path(folder) if folder else models_dir()
    if not models:
        raise ModelNotFoundError(
            f"no trained model is installed in {where}; " + HOW_TO_TRAIN.format(name=name)
        )
    raise ModelNotFoundError(
        f"no model named {name!r} in {where} (installed: {', '.join(m.name for m in models)}); "
        + HOW_TO_TRAIN.format(name=name if name in MODEL_NAMES else "shallow")
    )
