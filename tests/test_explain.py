"""Grad-CAM heatmaps: one per face, the crop's shape, in [0, 1], dependent on the class asked
about; saliency when the model has no convolution. Untrained weights: mechanics only."""

from __future__ import annotations

import numpy as np
import pytest

from fer.errors import FerError
from fer.output.explain import explain_faces, face_crops, overlay_heatmap
from fer.training.gradcam import last_conv_layer
from fer.vision.detection import HaarDetector
from fer.vision.preprocessing import FACE_MARGIN


@pytest.mark.parametrize("name, conv", [("shallow", "block3_2_sep"), ("deep", "block4_2_conv")])
def test_heatmaps_match_crops_and_follow_the_target(models_env, two_faces, name, conv):
    import keras

    model = keras.models.load_model(models_env / f"{name}.keras", compile=False)
    assert last_conv_layer(model).name == conv
    boxes = [d.box for d in HaarDetector().detect(two_faces)]
    assert len(boxes) == 2
    crops = face_crops(two_faces, boxes)
    heatmaps = explain_faces(model, two_faces, boxes)
    assert len(heatmaps) == len(crops) == 2
    for heat, crop, box in zip(heatmaps, crops, boxes):
        assert crop.dtype == np.uint8 and crop.shape[2] == 3
        assert crop.shape[:2] == (
            box[3] + 2 * round(box[3] * FACE_MARGIN),
            box[2] + 2 * round(box[2] * FACE_MARGIN),
        )
        assert heat.shape == crop.shape[:2] and heat.dtype == np.float32
        assert 0 <= heat.min() and heat.max() <= 1 and heat.max() > 0.9
        assert heat.std() > 0.05  # not constant
    for target in ("fear", 5):
        other = explain_faces(model, two_faces, boxes, target=target)
        assert all(np.abs(a - b).mean() > 0.01 for a, b in zip(heatmaps, other))
    per_face = explain_faces(model, two_faces, boxes, target=["happy", None])
    assert np.allclose(
        per_face[0], explain_faces(model, two_faces, boxes[:1], target="happy")[0], atol=1e-5
    )
    overlay = overlay_heatmap(crops[0], heatmaps[0])
    assert overlay.shape == crops[0].shape and overlay.dtype == np.uint8
    assert not np.array_equal(overlay, crops[0])
    assert explain_faces(model, two_faces, []) == []
    with pytest.raises(FerError, match="unknown emotion"):
        explain_faces(model, two_faces, boxes, target="bored")


def test_saliency_without_convolution(astronaut):
    import keras

    keras.utils.set_random_seed(1)
    inputs = keras.Input((48, 48, 1))
    x = keras.layers.Flatten()(inputs)
    x = keras.layers.Dense(16, activation="relu")(x)
    model = keras.Model(inputs, keras.layers.Dense(7, activation="softmax")(x))
    assert last_conv_layer(model) is None
    box = (180, 70, 90, 90)
    heat = explain_faces(model, astronaut, [box], target="happy")[0]
    assert heat.shape == face_crops(astronaut, [box])[0].shape[:2]
    assert heat.std() > 0.05 and 0 <= heat.min() and heat.max() <= 1
    assert not np.allclose(heat, explain_faces(model, astronaut, [box], target="sad")[0])


def test_overlay_accepts_gray_and_resizes():
    crop = np.full((40, 30), 128, np.uint8)
    heat = np.linspace(0, 1, 20 * 15, dtype=np.float32).reshape(20, 15)
    out = overlay_heatmap(crop, heat, alpha=0.5)
    assert out.shape == (40, 30, 3) and out.dtype == np.uint8
    assert (out[0] != out[-1]).any()  # cold at the top, hot at the bottom
