"""Alignment by the eyes (fer.vision.alignment) in the one preprocessing path: a face rolled in the
image comes out upright; boxes without landmarks (Haar) are cropped as before."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from fer.vision.alignment import roll_degrees, upright_crop
from fer.vision.preprocessing import crop_face, faces_to_model_input, margin_for

BOX = (170, 60, 110, 130)  # the astronaut's face
EYES = ((200.0, 115.0), (250.0, 115.0))  # a level pair of points inside it


def _rotated(image: np.ndarray, degrees: float, centre=(225.0, 125.0)):
    """The image turned counter-clockwise about ``centre``, and the map of points."""
    matrix = cv2.getRotationMatrix2D(centre, degrees, 1.0)
    out = cv2.warpAffine(image, matrix, image.shape[1::-1], borderMode=cv2.BORDER_REPLICATE)
    return out, lambda pts: [tuple(matrix @ np.array([x, y, 1.0])) for x, y in pts]


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    b = cv2.resize(b, a.shape[::-1])
    return float(np.corrcoef(a.ravel().astype(float), b.ravel().astype(float))[0, 1])


def test_roll_sign():
    assert roll_degrees(EYES) == pytest.approx(0)
    _, move = _rotated(np.zeros((300, 400), np.uint8), 20)
    assert roll_degrees(move(EYES)) == pytest.approx(20, abs=1e-6)
    assert roll_degrees(move(EYES)[::-1]) != pytest.approx(20)  # the order matters


@pytest.mark.parametrize("degrees", [-25, 15])
def test_a_rolled_face_comes_out_upright(astronaut, degrees):
    gray = cv2.cvtColor(astronaut, cv2.COLOR_RGB2GRAY)
    upright = crop_face(gray, BOX, margin_for("yunet"))
    turned, move = _rotated(gray, degrees)
    pts = move([*EYES, (225, 150), (205, 170), (245, 170)])
    cx, cy = move([(BOX[0] + BOX[2] / 2, BOX[1] + BOX[3] / 2)])[0]
    box = (round(cx - BOX[2] / 2), round(cy - BOX[3] / 2), BOX[2], BOX[3])
    plain = crop_face(turned, box, margin_for("yunet"))
    aligned = upright_crop(turned, box, pts, margin_for("yunet"))
    assert aligned.shape == plain.shape
    assert _corr(upright, aligned) > 0.95 > _corr(upright, plain) + 0.1
    assert np.array_equal(upright_crop(turned, box, None, margin_for("yunet")), plain)


def test_preprocessing_aligns_only_faces_with_landmarks(astronaut):
    turned, move = _rotated(astronaut, 20)
    boxes = [BOX, BOX]
    plain = faces_to_model_input(turned, boxes, 48, margin_for("yunet"))
    mixed = faces_to_model_input(turned, boxes, 48, margin_for("yunet"), [None, move(EYES)])
    assert np.array_equal(mixed[0], plain[0]) and not np.allclose(mixed[1], plain[1])
    with pytest.raises(ValueError):
        faces_to_model_input(turned, boxes, 48, margin_for("yunet"), [None])


def test_analyzer_classifies_yunet_faces_upright(yunet_model, astronaut, monkeypatch):
    from fer.serving.analyzer import Analyzer
    from fer.vision.detection import YuNetDetector

    turned, _ = _rotated(astronaut, 20, centre=(256.0, 256.0))
    analyzer = Analyzer(model="shallow", detector=YuNetDetector(yunet_model))
    (face,) = analyzer.analyze(turned)
    # YuNet's eye landmarks catch only part of a roll (2 of these 20 degrees; docs/figures.md)
    assert roll_degrees(face.landmarks) > 1
    batch = faces_to_model_input(turned, [face.box], 48, margin_for("yunet"), [face.landmarks])
    np.testing.assert_allclose(face.probabilities, analyzer.classifier(batch)[0], atol=1e-6)
    plain = analyzer.classifier(faces_to_model_input(turned, [face.box], 48, margin_for("yunet")))
    assert not np.allclose(face.probabilities, plain[0], atol=1e-4)
