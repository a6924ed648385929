"""From an image to faces with expressions: detect, crop, classify all faces in one batch."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..config import DEFAULT_DETECTOR, MIN_FACE, AnalysisConfig
from ..emotions import EMOTIONS, ScoredMixin
from ..vision.preprocessing import faces_to_model_input, margin_for
from .tta import tta_mode


@dataclass
class FaceResult(ScoredMixin):
    """One face: its box in original-image pixels, detection score and expression scores."""

    box: tuple[int, int, int, int]
    detection_score: float
    probabilities: np.ndarray  # (7,), canonical order
    landmarks: tuple | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "box": [int(v) for v in self.box],
            "detection_score": round(float(self.detection_score), 4),
            "label": self.label,
            "confidence": round(self.confidence, 4),
            "scores": {k: round(v, 4) for k, v in self.scores.items()},
        }


class Analyzer:
    """Detector + classifier. ``model`` is a model name, a ``ModelInfo`` or a loaded classifier;
    ``detector`` a name (``auto``, ``yunet``, ``haar``) or a detector object. The analyzer
    knows its model's name, its detector's crop margin and, in ``notice``, a one-line message
    when the requested detector was replaced by the fallback. Most callers want the shared
    one for a configuration: :func:`get_analyzer`."""

    def __init__(
        self,
        model: Any = None,
        detector: Any = DEFAULT_DETECTOR,
        tta: bool | str = False,
        min_face: int = MIN_FACE,
        detect_max_side: int | None = None,
    ):
        from ..vision.detection import get_detector
        from .models import load_model

        if hasattr(model, "input_size") and callable(model):
            self.model_info, self.classifier = None, model
        else:
            self.model_info, self.classifier = load_model(model)
        self.notice: str | None = None
        if isinstance(detector, str):
            self.detector, self.notice = get_detector(detector)
        else:
            self.detector = detector
        self.tta = tta_mode(tta)
        self.min_face = int(min_face)
        self.detect_max_side = detect_max_side

    @classmethod
    def from_config(cls, config: AnalysisConfig) -> Analyzer:
        return cls(
            model=config.model,
            detector=config.detector,
            tta=config.tta,
            min_face=config.min_face,
            detect_max_side=config.detect_max_side,
        )

    @property
    def model_name(self) -> str:
        return self.model_info.name if self.model_info else "custom"

    @property
    def detector_name(self) -> str:
        return getattr(self.detector, "name", "custom")

    @property
    def margin(self) -> tuple[float, float]:
        """The crop margin that matches FER2013's framing for this detector's boxes."""
        return margin_for(getattr(self.detector, "name", None))

    def detect(self, image_rgb: np.ndarray) -> list:
        """The faces' detections (boxes, scores, landmarks), left to right."""
        if self.detect_max_side:
            return self.detector.detect(
                image_rgb, min_face=self.min_face, max_side=self.detect_max_side
            )
        return self.detector.detect(image_rgb, min_face=self.min_face)

    def analyze(
        self, image: Any, bgr: bool = False, detections: list | None = None
    ) -> list[FaceResult]:
        """All faces in ``image`` (path, bytes, file, PIL image or array; arrays are RGB unless
        ``bgr``), left to right. ``detections`` from :meth:`detect` skip the search (two models
        classifying the same boxes)."""
        rgb = self._to_rgb(image, bgr)
        if detections is None:
            detections = self.detect(rgb)
        probabilities = self.classify(
            rgb, [d.box for d in detections], [d.landmarks for d in detections]
        )
        return [
            FaceResult(d.box, d.score, p, d.landmarks) for d, p in zip(detections, probabilities)
        ]

    def analyze_frame(self, frame_bgr: np.ndarray) -> list[FaceResult]:
        """A video frame as OpenCV and streamlit-webrtc give it (BGR uint8)."""
        return self.analyze(frame_bgr, bgr=True)

    def classify(
        self,
        image_rgb: np.ndarray,
        boxes: list[tuple[int, int, int, int]],
        landmarks: list | None = None,
    ) -> np.ndarray:
        """Expression probabilities ``(len(boxes), 7)`` for given boxes, in one batch; each face
        with landmarks (YuNet's) is turned upright by its eyes first
        (:mod:`fer.vision.alignment`)."""
        if not boxes:
            return np.zeros((0, len(EMOTIONS)), np.float32)
        batch = faces_to_model_input(
            image_rgb, boxes, self.classifier.input_size, self.margin, landmarks
        )
        return self.classifier(batch, tta=self.tta)

    @staticmethod
    def _to_rgb(image: Any, bgr: bool) -> np.ndarray:
        from ..vision.image_io import load_image

        if isinstance(image, np.ndarray) and bgr:
            if image.ndim == 3 and image.shape[2] == 3:
                image = np.ascontiguousarray(image[:, :, ::-1])
            elif image.ndim == 3 and image.shape[2] == 4:
                import cv2

                image = cv2.cvtColor(image, cv2.COLOR_BGRA2RGB)
        return load_image(image)


_analyzers: dict[tuple, Analyzer] = {}
_analyzers_lock = threading.Lock()
_MAX_ANALYZERS = 32


def get_analyzer(config: AnalysisConfig) -> Analyzer:
    """The process's one :class:`Analyzer` for ``config``: models and detectors load once and
    are shared by every page, session, frame and job (they are thread-safe). A retrained model
    file or another models folder gives a new one. Raises ModelNotFoundError."""
    from ..vision.detection import get_detector
    from .registry import get_model_info

    serving = get_model_info(config.model).serving_path
    stamp = serving.stat().st_mtime_ns if serving.exists() else None
    detector_key = get_detector(config.detector)  # cached; its identity tracks the YuNet setting
    key = (config.analyzer_fields, str(serving.resolve()), stamp, id(detector_key[0]))
    with _analyzers_lock:
        analyzer = _analyzers.get(key)
    if analyzer is None:
        analyzer = Analyzer.from_config(config)
        with _analyzers_lock:
            if len(_analyzers) >= _MAX_ANALYZERS:
                _analyzers.pop(next(iter(_analyzers)))
            analyzer = _analyzers.setdefault(key, analyzer)
    return analyzer
