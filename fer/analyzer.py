"""From an image to faces with expressions: detect, crop, classify all faces in one batch."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .emotions import EMOTIONS, ScoredMixin
from .preprocessing import faces_to_model_input, margin_for
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
    ``detector`` a name (``auto``, ``yunet``, ``haar``) or a detector object. ``notice`` holds
    a one-line message when the requested detector was replaced by the fallback.
    ``detect_max_side`` caps the resolution faces are searched at (live video trades the
    smallest findable face for speed); faces are still classified at full resolution."""

    def __init__(self, model: Any = None, detector: Any = "auto", tta: bool | str = False,
                 min_face: int = 40, detect_max_side: int | None = None):
        from .detection import create_detector
        from .models import load_model

        if hasattr(model, "input_size") and callable(model):
            self.model_info, self.classifier = None, model
        else:
            self.model_info, self.classifier = load_model(model)
        self.notice: str | None = None
        if isinstance(detector, str):
            self.detector, self.notice = create_detector(detector)
        else:
            self.detector = detector
        self.tta = tta_mode(tta)
        self.min_face = min_face
        self.detect_max_side = detect_max_side

    @property
    def model_name(self) -> str:
        return self.model_info.name if self.model_info else "custom"

    def analyze(self, image: Any, bgr: bool = False) -> list[FaceResult]:
        """All faces in ``image`` (path, bytes, file, PIL image or array; arrays are RGB unless
        ``bgr``), left to right."""
        rgb = self._to_rgb(image, bgr)
        if self.detect_max_side:
            detections = self.detector.detect(rgb, min_face=self.min_face,
                                              max_side=self.detect_max_side)
        else:
            detections = self.detector.detect(rgb, min_face=self.min_face)
        boxes = [d.box for d in detections]
        probabilities = self.classify(rgb, boxes)
        return [FaceResult(d.box, d.score, p, d.landmarks) for d, p in zip(detections, probabilities)]

    def analyze_frame(self, frame_bgr: np.ndarray) -> list[FaceResult]:
        """A video frame as OpenCV and streamlit-webrtc give it (BGR uint8)."""
        return self.analyze(frame_bgr, bgr=True)

    def analyze_batch(self, images: list[Any]) -> list[list[FaceResult]]:
        return [self.analyze(im) for im in images]

    def classify(self, image_rgb: np.ndarray, boxes: list[tuple[int, int, int, int]]) -> np.ndarray:
        """Expression probabilities ``(len(boxes), 7)`` for given boxes, in one batch."""
        if not boxes:
            return np.zeros((0, len(EMOTIONS)), np.float32)
        batch = faces_to_model_input(image_rgb, boxes, self.classifier.input_size,
                                     margin_for(getattr(self.detector, "name", None)))
        return self.classifier(batch, tta=self.tta)

    @staticmethod
    def _to_rgb(image: Any, bgr: bool) -> np.ndarray:
        from .image_io import load_image

        if isinstance(image, np.ndarray) and bgr:
            if image.ndim == 3 and image.shape[2] == 3:
                image = np.ascontiguousarray(image[:, :, ::-1])
            elif image.ndim == 3 and image.shape[2] == 4:
                import cv2

                image = cv2.cvtColor(image, cv2.COLOR_BGRA2RGB)
        return load_image(image)
