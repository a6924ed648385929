"""Weight interpolation between a model and its fine-tune (WiSE-FT): the weights are the mix,
batch-norm statistics are re-estimated, and the CLI writes the model with its card."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from fer.settings import PROJECT_ROOT
from tests.shared_data import SAME_MODEL, fer2013_or_synthetic, ferplus_root

SHALLOW = PROJECT_ROOT / "models" / "shallow.keras"


def test_interpolated_weights_are_the_mix():
    import keras

    from fer.training.architectures import build
    from fer.training.interpolation import interpolate_weights

    base = keras.models.load_model(SHALLOW, compile=False)
    before = [w.copy() for w in base.get_weights()]
    tuned = build("shallow")
    theirs = tuned.get_weights()
    assert interpolate_weights(base, tuned, 0.25) is base
    mixed = base.get_weights()
    assert any(np.abs(a - b).max() > 1e-3 for a, b in zip(before, theirs))
    for a, b, m in zip(before, theirs, mixed):
        assert np.allclose(m, 0.75 * a + 0.25 * b, atol=1e-6)
    assert all(np.array_equal(a, b) for a, b in zip(theirs, tuned.get_weights()))
    with pytest.raises(ValueError, match="between 0 and 1"):
        interpolate_weights(base, tuned, 1.5)
    other = keras.Sequential(
        [keras.Input((48, 48, 1)), keras.layers.Flatten(), keras.layers.Dense(7)]
    )
    with pytest.raises(ValueError, match="same architecture"):
        interpolate_weights(base, other, 0.5)


def test_cli_interpolate_writes_the_model_and_its_card(tmp_path, capsys):
    from fer.cli import main
    from fer.training.architectures import build

    shipped = json.loads(SHALLOW.with_suffix(".json").read_text())
    tuned = tmp_path / "tuned" / "shallow.keras"
    tuned.parent.mkdir()
    build("shallow").save(tuned)  # far from the shipped weights: the mix must show it
    shutil.copy(SHALLOW.with_suffix(".json"), tuned.with_suffix(".json"))
    data = str(ferplus_root())  # the data the shipped model's card is validated on
    accuracy = {}
    for alpha in (0.0, 0.5):
        out = tmp_path / f"a{alpha:g}"
        args = ["interpolate", str(SHALLOW), str(tuned), "--alpha", f"{alpha:g}"]
        assert main([*args, "--name", "mixed", "--out", str(out), "--data", data]) == 0
        assert f"wrote {out / 'mixed'}.keras: validation accuracy" in capsys.readouterr().out
        card = json.loads((out / "mixed.json").read_text())
        assert (out / "mixed.tflite").is_file() and card["name"] == "mixed"
        assert card["file_bytes"] == (out / "mixed.keras").stat().st_size
        note = card["training"]["notes"][-1]
        assert f"{1 - alpha:g} x {SHALLOW} + {alpha:g} x {tuned}" in note
        assert "re-estimated on 28558 clean training images" in note
        assert card["training"]["command"].splitlines()[-1] == (
            f"python -m fer interpolate {SHALLOW} {tuned} --alpha {alpha:g} "
            f"--name mixed --out {out}"
        )
        assert card["training"]["history"] == shipped["training"]["history"]
        accuracy[alpha] = card["validation"]["accuracy"]
    # alpha 0 is the shipped model (its statistics re-estimated as they already were, so within
    # what machines differ by: SAME_MODEL); half way to an untrained network is far worse
    assert abs(accuracy[0.0] - shipped["validation"]["accuracy"]) <= SAME_MODEL
    assert accuracy[0.5] < accuracy[0.0] - 0.1


def test_cli_interpolate_bad_input(tmp_path, capsys):
    import keras

    from fer.cli import main

    data = str(fer2013_or_synthetic())
    assert main(["interpolate", str(tmp_path / "nope.keras"), str(SHALLOW), "--name", "x"]) != 0
    assert "not found: " + str(tmp_path / "nope.keras") in capsys.readouterr().err
    args = ["interpolate", str(SHALLOW), str(SHALLOW), "--name", "x", "--out", str(tmp_path)]
    assert main([*args, "--alpha", "2"]) != 0
    assert "--alpha must be between 0 and 1" in capsys.readouterr().err
    small = tmp_path / "small.keras"
    keras.Sequential(
        [keras.Input((48, 48, 1)), keras.layers.Flatten(), keras.layers.Dense(7)]
    ).save(small)
    junk = tmp_path / "junk.keras"
    junk.write_bytes(b"not a model")
    for other in (small, junk):
        assert main([*args[:2], str(other), *args[3:], "--data", data]) != 0
        assert "cannot interpolate" in capsys.readouterr().err
    assert not (tmp_path / "x.keras").exists()
