"""Several models on the same photo and the same face boxes (the Compare page): faces are
detected once, and each model classifies those boxes, so only the models differ."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from ..config import AnalysisConfig
from ..serving.analyzer import FaceResult, get_analyzer


@dataclass
class ModelRun:
    """One model's faces (in the order of the shared boxes) and its classification time."""

    faces: list[FaceResult]
    ms: float


@dataclass
class Comparison:
    """What :func:`compare_models` found: the boxes, the detection time and each model's run."""

    boxes: list[tuple[int, int, int, int]]
    detect_ms: float
    models: dict[str, ModelRun] = field(default_factory=dict)

    def face(self, i: int) -> dict[str, FaceResult]:
        """Face ``i`` (0-based) as each model classified it."""
        return {name: run.faces[i] for name, run in self.models.items()}

    def agree(self, i: int) -> bool:
        """Whether every model gave face ``i`` the same label."""
        return len({face.label for face in self.face(i).values()}) == 1


def compare_models(image: Any, config: AnalysisConfig, names: list[str]) -> Comparison:
    """Detect the faces once (with ``config``'s detector settings), then classify the same
    boxes with each model in ``names``; times in milliseconds."""
    analyzers = {name: get_analyzer(config.with_(model=name)) for name in names}
    started = time.perf_counter()
    detections = analyzers[names[0]].detect(image)
    comparison = Comparison([d.box for d in detections], (time.perf_counter() - started) * 1000)
    for name, analyzer in analyzers.items():
        started = time.perf_counter()
        faces = analyzer.analyze(image, detections=detections)
        comparison.models[name] = ModelRun(faces, (time.perf_counter() - started) * 1000)
    return comparison
