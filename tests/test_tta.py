"""Test-time augmentation views: what each mode feeds the network and how it averages."""

import numpy as np
import pytest

from fer.serving.tta import tta_average, tta_mode, tta_views

VIEWS = {"off": 1, "flip": 2, "shift": 10}


def test_modes_normalise_and_reject_unknown():
    assert [tta_mode(v) for v in (False, None, "off", True, "flip", "shift")] == [
        "off",
        "off",
        "off",
        "flip",
        "flip",
        "shift",
    ]
    with pytest.raises(ValueError, match="unknown test-time augmentation"):
        tta_mode("crops")


@pytest.mark.parametrize("mode", ["off", "flip", "shift"])
def test_views_count_and_shape(mode):
    batch = np.random.default_rng(0).random((3, 48, 48, 1), dtype=np.float32)
    views = tta_views(batch, mode)
    assert views.shape == (3 * VIEWS[mode], 48, 48, 1)
    assert np.array_equal(views[:3], batch)  # the plain view first


def test_shift_moves_the_face_two_pixels_and_flip_mirrors():
    batch = np.zeros((1, 48, 48, 1), np.float32)
    batch[0, 20, 10, 0] = 1.0
    views = tta_views(batch, "shift")
    spots = [tuple(np.argwhere(v[:, :, 0] == 1.0)[0]) for v in views]
    assert spots[:5] == [(20, 10), (20, 8), (20, 12), (18, 10), (22, 10)]
    assert spots[5:] == [(y, 47 - x) for y, x in spots[:5]]


def test_average_takes_the_mean_per_face():
    probs = np.array([[1, 0], [0, 1], [0, 1], [0, 1]], np.float32)  # 2 views x 2 faces
    assert np.allclose(tta_average(probs, 2), [[0.5, 0.5], [0, 1]])


def test_classifier_shift_tta_differs_from_flip_and_sums_to_one(models_env):
    from fer.serving.models import load_model

    _, classifier = load_model("deep")
    faces = np.random.default_rng(1).random((4, 48, 48, 1), dtype=np.float32)
    flip, shift = classifier(faces, tta="flip"), classifier(faces, tta="shift")
    assert shift.shape == (4, 7) and np.allclose(shift.sum(1), 1, atol=1e-4)
    assert not np.allclose(flip, shift)
    one_by_one = np.concatenate([classifier(faces[i : i + 1], tta="shift") for i in range(4)])
    assert np.allclose(one_by_one, shift, atol=1e-5)
