"""The balanced operating point: the maths, reading it from a card, load_model applying it
after the temperature, and ``python -m fer balance`` measuring and storing it."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from fer.emotions import EMOTIONS
from fer.serving.prior import apply_prior, prior_from_card
from fer.serving.temperature import CalibratedClassifier, apply_temperature
from tests.shared_data import ROOT, fer2013_or_synthetic, ferplus_root

PRIOR = [0.1, 0.02, 0.05, 0.28, 0.15, 0.13, 0.27]


def _entry(prior=PRIOR, tau=1.0, **extra) -> dict:
    return {"prior_correction": {"prior": dict(zip(EMOTIONS, prior)), "tau": tau, **extra}}


def test_apply_prior_divides_and_renormalises():
    p = np.random.default_rng(0).dirichlet(np.ones(7), 40).astype(np.float32)
    out = apply_prior(p, PRIOR, 1.0)
    np.testing.assert_allclose(out.sum(1), 1, atol=1e-6)
    expected = p / np.array(PRIOR)
    np.testing.assert_allclose(out, expected / expected.sum(1, keepdims=True), atol=1e-6)
    assert (out.argmax(1) != p.argmax(1)).any()  # it moves decisions towards rare emotions
    np.testing.assert_allclose(apply_prior(p, np.full(7, 1 / 7)), p, atol=1e-6)
    half = apply_prior(p, PRIOR, 0.5)  # tau scales the correction in log space
    np.testing.assert_allclose(apply_prior(half, PRIOR, 0.5), out, atol=1e-5)


def test_prior_from_card():
    assert prior_from_card(None) is None and prior_from_card({}) is None
    assert prior_from_card(_entry()) == (tuple(PRIOR), 1.0)
    assert prior_from_card(_entry(tau=0.5))[1] == 0.5
    assert prior_from_card(_entry(applied=False)) is None
    assert prior_from_card({"prior_correction": None}) is None
    assert prior_from_card(_entry(prior=[0.1] * 6)) is None  # neutral missing
    assert prior_from_card(_entry(prior=[0.0, *PRIOR[1:]])) is None
    assert prior_from_card(_entry(tau=-1)) is None


def test_calibrated_classifier_applies_the_prior_after_the_temperature():
    class Fake:
        input_size = 48

        def __call__(self, batch, tta=False):
            z = np.stack([batch.mean(axis=(1, 2, 3)) * k for k in range(7)], axis=1)
            e = np.exp(z - z.max(1, keepdims=True))
            return e / e.sum(1, keepdims=True)

        def predict_batched(self, images, tta=False, batch_size=256):
            return self(images, tta)

    x = np.random.default_rng(1).random((6, 48, 48, 1)).astype(np.float32)
    clf = CalibratedClassifier(Fake(), {"off": 2.0}, (tuple(PRIOR), 1.0))
    expected = apply_prior(apply_temperature(Fake()(x), 2.0), PRIOR)
    np.testing.assert_allclose(clf(x), expected, atol=1e-6)
    np.testing.assert_allclose(clf.predict_batched(x), expected, atol=1e-6)
    np.testing.assert_allclose(
        CalibratedClassifier(Fake(), {"off": 2.0})(x), apply_temperature(Fake()(x), 2.0), atol=1e-6
    )


def _shallow_in(folder):
    for suffix in (".tflite", ".json"):
        shutil.copy(ROOT / "models" / f"shallow{suffix}", folder / f"shallow{suffix}")
    card = json.loads((folder / "shallow.json").read_text())
    card.pop("prior_correction", None)
    (folder / "shallow.json").write_text(json.dumps(card))
    return card


def test_balance_command_stores_what_serving_then_does(tmp_path, monkeypatch, capsys):
    from fer.cli import main
    from fer.serving.models import load_model
    from fer.serving.runtime import RuntimeClassifier

    before = _shallow_in(tmp_path)
    monkeypatch.setenv("FER_MODELS_DIR", str(tmp_path))
    data = str(ferplus_root())
    raw = load_model("shallow")[1]
    assert raw.prior is None
    assert main(["balance", "--model", "shallow", "--data", data, "--write-card"]) == 0
    out = capsys.readouterr().out
    assert "FER+ Valid majority accuracy, tta off" in out and "wrote prior_correction" in out
    card = json.loads((tmp_path / "shallow.json").read_text())
    entry = card.pop("prior_correction")
    assert card == before  # nothing else in the card changed
    prior = np.array([entry["prior"][e] for e in EMOTIONS])
    assert abs(prior.sum() - 1) < 1e-3 and entry["tau"] == 1.0 and entry["applied"]
    # the shipped shallow's fine-tune kept the slice out: the prior is of unseen faces
    assert entry["fitted_on"] == "2,849 faces of FER+ Train's held-out slice" and entry["held_out"]
    held_out = entry["holdout"]
    # dividing by the prior trades majority accuracy for the rare emotions' recall
    assert held_out["mean_class_recall_after"] > held_out["mean_class_recall_before"]
    assert held_out["after"] < held_out["before"]
    assert set(entry["ferplus_valid"]) == {"off", "flip"}
    assert entry["command"].endswith("--tau 1 --write-card")

    _, served = load_model("shallow")  # the card changed: the classifier is the new one
    x = np.random.default_rng(3).random((8, 48, 48, 1)).astype(np.float32)
    plain = RuntimeClassifier(tmp_path / "shallow.tflite")(x)
    temperature = (before.get("calibration") or {}).get("temperature", 1.0)
    expected = apply_prior(apply_temperature(plain, temperature), prior)
    np.testing.assert_allclose(served(x), expected, atol=1e-4)
    main(["evaluate", "--model", "shallow", "--data", data, "--json"])
    evaluated = json.loads(capsys.readouterr().out)["ferplus"]["majority_accuracy"]
    assert evaluated == entry["ferplus_valid"]["off"]["after"]

    assert (
        main(["balance", "--model", "shallow", "--data", data, "--tau", "0", "--write-card"]) == 0
    )
    assert "removed the prior correction" in capsys.readouterr().out
    assert load_model("shallow")[1].prior is None


def test_balance_bad_input(tmp_path, monkeypatch, capsys):
    from fer.cli import main

    _shallow_in(tmp_path)
    monkeypatch.setenv("FER_MODELS_DIR", str(tmp_path))
    args = ["balance", "--model", "shallow"]
    assert main([*args, "--data", str(fer2013_or_synthetic())]) != 0
    assert "needs FER+ data" in capsys.readouterr().err
    assert main([*args, "--tau", "-1"]) != 0
    assert "--tau must be between 0 and 4" in capsys.readouterr().err
    assert main(["balance", "--model", "nonexistent", "--data", str(ferplus_root())]) != 0
    assert capsys.readouterr().err.strip()
    with pytest.raises(SystemExit):
        main([*args, "--tau", "x"])


def test_operating_point_caption():
    from fer.quality.balance import operating_point_caption

    assert operating_point_caption(None) is None
    assert operating_point_caption({"prior": {}, "applied": False}) is None
    entry = _entry()["prior_correction"] | {
        "ferplus_valid": {
            "off": {
                "before": 0.753,
                "after": 0.699,
                "mean_class_recall_before": 0.653,
                "mean_class_recall_after": 0.69,
            }
        }
    }
    text = operating_point_caption(entry)
    assert "(neutral 27 %)" in text and "from 75.3 % to 69.9 %" in text
    assert "from 65.3 % to 69.0 %" in text
