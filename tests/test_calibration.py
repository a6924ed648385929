"""Temperature scaling: the maths, the fit, ECE, and that load_model applies the card's
temperature everywhere probabilities come from."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from fer.quality.calibration import (
    calibration_subset,
    expected_calibration_error,
    fit_temperature,
    reliability_bins,
)
from fer.serving.temperature import (
    CalibratedClassifier,
    apply_temperature,
    temperatures_from_card,
)
from tests.shared_data import ROOT


def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_temperature_on_probabilities_equals_temperature_on_logits():
    z = np.random.default_rng(0).normal(0, 3, (50, 7))
    for t in (0.5, 1.7, 4.0):
        np.testing.assert_allclose(apply_temperature(_softmax(z), t), _softmax(z / t), atol=1e-5)
        assert (apply_temperature(_softmax(z), t).argmax(1) == z.argmax(1)).all()


def test_fit_recovers_the_temperature_of_overconfident_probabilities():
    rng = np.random.default_rng(1)
    z = rng.normal(0, 1.5, (20000, 7))
    true = _softmax(z)
    labels = np.array([rng.choice(7, p=p) for p in true])
    overconfident = _softmax(z * 2.5)  # what a model that is 2.5x too sure would say
    t = fit_temperature(overconfident, labels)
    assert 2.3 < t < 2.7
    assert expected_calibration_error(overconfident, labels) > 0.1
    assert expected_calibration_error(apply_temperature(overconfident, t), labels) < 0.02
    assert 0.9 < fit_temperature(true, labels) < 1.1


def test_ece_by_hand():
    # two faces at 0.9 (one right) and two at 0.6 (both right): bins |0.5-0.9| and |1-0.6|
    p = np.full((4, 7), 0.1 / 6)
    p[:2, 0], p[2:, 0] = 0.9, 0.6
    p[2:, 1:] = 0.4 / 6
    labels = np.array([0, 1, 0, 0])
    assert expected_calibration_error(p, labels) == pytest.approx(0.5 * 0.4 + 0.5 * 0.4)
    bins = reliability_bins(p, labels)
    assert [(b["count"], b["accuracy"]) for b in bins] == [(2, 1.0), (2, 0.5)]


def test_temperatures_from_card():
    assert temperatures_from_card({}) == {"off": 1.0, "flip": 1.0, "shift": 1.0}
    card = {"calibration": {"temperature": 1.3, "temperature_by_tta": {"flip": 1.2}}}
    assert temperatures_from_card(card) == {"off": 1.3, "flip": 1.2, "shift": 1.0}


class _Fake:
    """Probabilities from the mean of each face; TTA averages that of the face and its mirror
    with a constant (so that a T applied per view would differ from one applied after)."""

    input_size = 48
    engine = "fake"

    def __call__(self, batch, tta=False):
        z = np.stack([batch.mean(axis=(1, 2, 3)) * k for k in range(7)], axis=1) * 4
        p = _softmax(z)
        return p if tta in (False, "off") else (p + np.full_like(p, 1 / 7)) / 2

    def predict_batched(self, images, tta=False, batch_size=256):
        return self(images, tta)


def test_calibrated_classifier_applies_each_mode_s_temperature_after_tta():
    base = _Fake()
    x = np.random.default_rng(2).random((5, 48, 48, 1)).astype(np.float32)
    clf = CalibratedClassifier(base, {"off": 2.0, "flip": 0.5})
    np.testing.assert_allclose(clf(x), apply_temperature(base(x), 2.0), atol=1e-6)
    np.testing.assert_allclose(
        clf(x, tta="flip"), apply_temperature(base(x, "flip"), 0.5), atol=1e-6
    )
    np.testing.assert_allclose(clf.predict_batched(x, tta="shift"), base(x, "shift"), atol=1e-6)
    assert clf.engine == "fake" and clf.input_size == 48 and clf.calibrated


def test_calibration_subset_is_seeded_and_stratified():
    labels = np.repeat(np.arange(7), [400, 40, 400, 700, 480, 320, 500])
    a, b = calibration_subset(labels, 1000, seed=0), calibration_subset(labels, 1000, seed=0)
    assert np.array_equal(a, b) and not np.array_equal(a, calibration_subset(labels, 1000, 1))
    counts = np.bincount(labels[a], minlength=7)
    assert abs(len(a) - 1000) <= 7 and counts[1] == round(1000 * 40 / len(labels))


def test_load_model_applies_the_card_temperature_everywhere(tmp_path, monkeypatch, astronaut):
    """One place: the classifier load_model returns (and so the Analyzer) is calibrated as the
    card says, and the card without a calibration entry gives the runtime's probabilities."""
    from fer.serving.analyzer import Analyzer
    from fer.serving.models import load_model
    from fer.serving.runtime import RuntimeClassifier

    serving = ROOT / "models" / "shallow.tflite"
    if not serving.exists():
        pytest.skip("models/shallow.tflite not built")
    shutil.copy(serving, tmp_path / "shallow.tflite")
    card = {"name": "shallow", "input_size": [48, 48, 1]}
    (tmp_path / "shallow.json").write_text(json.dumps(card))
    monkeypatch.setenv("FER_MODELS_DIR", str(tmp_path))
    x = np.random.default_rng(3).random((8, 48, 48, 1)).astype(np.float32)
    raw = RuntimeClassifier(serving)(x)
    np.testing.assert_allclose(load_model("shallow")[1](x), raw, atol=1e-6)

    card["calibration"] = {"temperature": 2.0, "temperature_by_tta": {"off": 2.0, "flip": 3.0}}
    (tmp_path / "shallow.json").write_text(json.dumps(card))
    _, clf = load_model("shallow")
    np.testing.assert_allclose(clf(x), apply_temperature(raw, 2.0), atol=1e-5)
    np.testing.assert_allclose(
        clf(x, tta="flip"),
        apply_temperature(RuntimeClassifier(serving)(x, tta="flip"), 3.0),
        atol=1e-5,
    )
    analyzer = Analyzer(model="shallow", detector="haar")
    face = analyzer.analyze(astronaut)[0]
    plain = RuntimeClassifier(serving)
    from fer.vision.preprocessing import faces_to_model_input, margin_for

    expected = apply_temperature(
        plain(faces_to_model_input(astronaut, [face.box], 48, margin_for("haar"))), 2.0
    )[0]
    np.testing.assert_allclose(face.probabilities, expected, atol=1e-5)


def test_calibrate_command_on_fer2013(tmp_path, monkeypatch, capsys):
    """A model trained on the whole training split (the shipped shallow's card, saying so): the
    fitted T is recorded but not applied, and the card keeps every other field."""
    from fer.cli import main
    from tests.shared_data import fer2013_root

    data = fer2013_root()
    for suffix in (".tflite", ".json"):
        shutil.copy(ROOT / "models" / f"shallow{suffix}", tmp_path / f"shallow{suffix}")
    before = json.loads((tmp_path / "shallow.json").read_text())
    before.pop("calibration", None)
    before.pop("prior_correction", None)
    before["training"]["train_images"] = 28709  # as a model trained on all of FER2013 Training
    (tmp_path / "shallow.json").write_text(json.dumps(before))
    monkeypatch.setenv("FER_MODELS_DIR", str(tmp_path))
    assert (
        main(
            [
                "calibrate",
                "--model",
                "shallow",
                "--data",
                str(data),
                "--fit-limit",
                "700",
                "--write-card",
                "--json",
            ]
        )
        == 0
    )
    after = json.loads((tmp_path / "shallow.json").read_text())
    entry = after.pop("calibration")
    assert after == before
    assert entry["applied"] is False and entry["temperature"] == 1.0
    assert set(entry["by_tta"]) == {"off", "flip", "shift"}
    assert 0 < entry["ece_before"] < 0.5 and entry["ece_shown"] == entry["ece_before"]
    assert entry["by_tta"]["off"]["temperature"] != 1.0
    assert sum(b["count"] for b in entry["reliability"]["uncalibrated"]) == 3589
    assert "python -m fer calibrate" in entry["command"]
    assert json.loads(capsys.readouterr().out.split("\nwrote")[0])["fitted_on"].startswith("70")
