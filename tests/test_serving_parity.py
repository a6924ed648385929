"""Each serving file (``.tflite``, run by LiteRT) gives its Keras model's answers on real faces:
to float rounding for the float form, and within the quantization's error, with the same label
on nearly every face, for a quantized one. The shipped files also match what their cards say."""

from __future__ import annotations

import numpy as np
import pytest

from fer.quality.dataset import load_split
from fer.serving.card import ModelCard
from fer.serving.registry import MODEL_NAMES, get_model_info
from fer.serving.runtime import RuntimeClassifier
from fer.settings import PROJECT_ROOT
from fer.vision.preprocessing import to_model_input
from tests.shared_data import fer2013_root, ferplus_root

PARITY_FACES = 512  # as many as fer.training.export measures for the card


def _keras(path):
    import keras

    return keras.models.load_model(path, compile=False)


@pytest.fixture(scope="module")
def public_test_faces() -> np.ndarray:
    test = load_split(fer2013_root(), "test")
    return to_model_input(test.images[:PARITY_FACES])


def _card_parity_faces(card: dict, public_test_faces: np.ndarray) -> np.ndarray:
    """The faces the card's difference was measured on: the first of its validation split
    (FER+ Valid's majority-scored faces for a card validated on FER+, else PublicTest)."""
    if not ModelCard.read(card).validated_on_ferplus:
        return public_test_faces
    valid = load_split(ferplus_root(), "valid").scored()
    return to_model_input(valid.images[:PARITY_FACES])


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_shipped_serving_file_matches_its_keras_model(name, public_test_faces):
    info = get_model_info(name, PROJECT_ROOT / "models")
    serving = info.card["serving"]
    assert info.serving_path.name == serving["file"]
    assert info.serving_path.stat().st_size == serving["bytes"]
    faces = _card_parity_faces(info.card, public_test_faces)
    keras_probs = np.asarray(_keras(info.path)(faces, training=False))
    runtime_probs = RuntimeClassifier(info.serving_path).predict_batched(faces)
    difference = float(np.abs(keras_probs - runtime_probs).max())
    assert difference == pytest.approx(serving["max_abs_diff_vs_keras"], abs=1e-4)
    same_label = float((keras_probs.argmax(1) == runtime_probs.argmax(1)).mean())
    if serving["quantization"] == "float":
        assert difference < 1e-4
    else:
        assert difference < 0.35 and same_label >= 0.95
        assert float(np.abs(keras_probs - runtime_probs).mean()) < 0.02


@pytest.mark.parametrize("form, tolerance", [("float", 1e-4), ("dynamic", 0.25)])
def test_export_of_an_untrained_model_matches_keras(
    untrained_models_dir, two_faces, form, tolerance, tmp_path
):
    """No shared data needed: the conversion path itself, on crops of a real photo."""
    from fer.training.export import write_serving_file

    model = _keras(untrained_models_dir / "shallow.keras")
    faces = to_model_input(
        [two_faces[60:300, 150:350], two_faces[60:300, 662:862], two_faces[::2, ::2]]
    )
    path = write_serving_file(model, tmp_path / "shallow.keras", form)
    assert path == tmp_path / "shallow.tflite"
    runtime_probs = RuntimeClassifier(path)(faces)
    keras_probs = np.asarray(model(faces, training=False))
    assert runtime_probs.shape == (3, 7)
    assert float(np.abs(keras_probs - runtime_probs).max()) < tolerance


def test_small_batches_run_on_one_thread_and_agree_with_large_ones(untrained_models_dir):
    from fer.serving.runtime import SMALL_BATCH

    classifier = RuntimeClassifier(untrained_models_dir / "deep.tflite", threads=2)
    faces = np.random.default_rng(0).random((3 * SMALL_BATCH, 48, 48, 1), dtype=np.float32)
    in_small = np.concatenate(
        [classifier(faces[i : i + SMALL_BATCH]) for i in range(0, len(faces), SMALL_BATCH)]
    )
    assert classifier._large is None  # frames and photos never start the threaded engine
    in_one = classifier(faces)
    assert classifier._large is not None
    assert np.abs(in_small - in_one).max() < 1e-5
