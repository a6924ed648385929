"""Emotions, preprocessing, evaluation, exports and drawing: the pure parts of fer/."""

import numpy as np
import pytest

from fer.emotions import COLORS_RGB, EMOTIONS, color_hex, scores_dict
from fer.output.drawing import annotate, face_caption
from fer.output.results import image_rows as results_to_rows
from fer.output.results import rows_to_csv
from fer.quality.evaluation import classification_report, format_report
from fer.vision.crop import expand_box
from fer.vision.preprocessing import (
    FACE_MARGIN,
    crop_face,
    faces_to_model_input,
    margin_for,
    to_model_input,
)


def test_emotion_order_is_fer2013():
    assert EMOTIONS == ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
    assert set(COLORS_RGB) == set(EMOTIONS)
    assert len({color_hex(e) for e in EMOTIONS}) == 7


def test_scores_dict_checks_length():
    assert list(scores_dict(np.eye(7)[3])) == list(EMOTIONS)
    assert scores_dict(np.eye(7)[3])["happy"] == 1.0
    with pytest.raises(ValueError):
        scores_dict([0.5, 0.5])


def test_expand_box_adds_margin_each_side():
    x, y, w, h = expand_box((100, 100, 80, 80), 0.125)
    assert (x, y, w, h) == (90, 90, 100, 100)
    assert expand_box((100, 100, 80, 80), (0.125, 0.0)) == (90, 100, 100, 80)
    assert margin_for("yunet")[1] < margin_for("yunet")[0]  # YuNet boxes include the forehead
    assert margin_for("haar") == margin_for(None) == (FACE_MARGIN, FACE_MARGIN)


def test_crop_face_pads_outside_by_replication():
    gray = np.arange(100, dtype=np.uint8).reshape(10, 10)
    crop = crop_face(gray, (0, 0, 8, 8), margin=0.25)  # expands to (-2, -2, 12, 12)
    assert crop.shape == (12, 12)
    assert crop[0, 0] == gray[0, 0]  # replicated corner
    assert crop[2, 2] == gray[0, 0] and crop[2, 3] == gray[0, 1]  # image content shifted by 2
    with pytest.raises(ValueError):
        crop_face(gray, (50, 50, 5, 5))


def test_to_model_input_shape_range_and_identity_for_48px():
    faces = np.random.default_rng(0).integers(0, 256, (3, 48, 48), dtype=np.uint8)
    x = to_model_input(faces)
    assert x.shape == (3, 48, 48, 1) and x.dtype == np.float32
    assert np.allclose(x[..., 0] * 255, faces)
    mixed = to_model_input([np.full((100, 80), 255, np.uint8), np.zeros((20, 20, 3), np.uint8)])
    assert mixed.shape == (2, 48, 48, 1)
    assert mixed[0].min() == 1.0 and mixed[1].max() == 0.0
    assert to_model_input([]).shape == (0, 48, 48, 1)


def test_faces_to_model_input_uses_margin():
    image = np.zeros((200, 200, 3), np.uint8)
    image[50:150, 50:150] = 255  # a white square exactly the box
    x = faces_to_model_input(image, [(50, 50, 100, 100)])
    border = int(round(48 * FACE_MARGIN / (1 + 2 * FACE_MARGIN)))
    assert x[0, 0, 0, 0] == 0.0  # the margin shows the dark surround
    assert x[0, 24, 24, 0] == 1.0
    assert x[0, border + 2, border + 2, 0] == 1.0


def test_classification_report_counts():
    y = np.array([0, 0, 3, 3, 3, 6])
    p = np.array([0, 3, 3, 3, 6, 6])
    r = classification_report(y, p)
    assert r["n"] == 6 and r["accuracy"] == round(4 / 6, 4)
    assert r["confusion_matrix"][0] == [1, 0, 0, 1, 0, 0, 0]
    assert r["per_class"]["happy"]["precision"] == round(2 / 3, 4)
    assert r["per_class"]["happy"]["recall"] == round(2 / 3, 4)
    assert r["per_class"]["disgust"]["f1"] == 0.0
    text = format_report(r)
    assert "accuracy 0.6667" in text and "neutral" in text


def test_results_to_rows_and_csv():
    face = {
        "box": [1, 2, 3, 4],
        "label": "happy",
        "confidence": 0.9,
        "scores": {e: (0.9 if e == "happy" else 0.1 / 6) for e in EMOTIONS},
    }
    rows = results_to_rows(
        [
            {"image": "a.jpg", "faces": [face, face]},
            {"image": "b.jpg", "faces": [], "error": "b.jpg is truncated"},
            {"image": "c.jpg", "faces": []},
        ]
    )
    assert [r["face"] for r in rows] == [1, 2, 0, 0]
    assert rows[2]["error"] == "b.jpg is truncated" and rows[3]["error"] == "no face found"
    csv_text = rows_to_csv(rows)
    assert csv_text.splitlines()[0].startswith("image,face,x,y,w,h,label,confidence,angry")
    assert "a.jpg,1,1,2,3,4,happy,0.9" in csv_text


class _Face:
    def __init__(self, box, label, confidence):
        self.box, self.label, self.confidence = box, label, confidence


@pytest.mark.parametrize("size", [(240, 320), (3000, 4000)])
def test_annotate_draws_in_emotion_colour_and_scales(size):
    image = np.zeros((*size, 3), np.uint8)
    h, w = size
    box = (w // 4, h // 3, w // 4, h // 4)
    out = annotate(image, [_Face(box, "happy", 0.87)])
    assert image.sum() == 0, "input must not be modified"
    colour = np.array(COLORS_RGB["happy"])
    mask = np.all(out == colour, axis=-1)
    assert mask[box[1] + box[3] // 2, box[0]]  # left edge of the box
    # the label tag above the box is filled with the colour and is taller for larger images
    tag_rows = np.where(mask[: box[1], box[0] + 2])[0]
    assert len(tag_rows) >= (10 if w < 1000 else 60)
    assert face_caption("happy", 0.87, 1) == "1 Happy 87%"
