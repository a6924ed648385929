"""Precise batch norm: population statistics of clean inputs, dropout off, weights untouched."""

from __future__ import annotations

import json
import shutil

import numpy as np

from fer.settings import PROJECT_ROOT
from fer.training.batchnorm import recalibrate_batch_norm
from tests.shared_data import SAME_MODEL, fer2013_or_synthetic, ferplus_root


def _net():
    import keras
    from keras import layers

    inputs = keras.Input((8, 8, 1))
    x = layers.Conv2D(4, 3, name="conv")(inputs)
    x = layers.BatchNormalization(momentum=0.9, name="bn")(x)
    x = layers.Flatten()(x)
    x = layers.Dropout(0.5, name="drop")(x)
    x = layers.Dense(5, name="fc")(x)
    x = layers.BatchNormalization(momentum=0.9, name="fc_bn")(x)
    return keras.Model(inputs, layers.Dense(7, activation="softmax")(x))


def test_statistics_are_the_batch_average_of_clean_inputs_without_dropout():
    import keras

    model = _net()
    data = np.random.default_rng(0).random((600, 8, 8, 1), dtype=np.float32) * 3 + 1
    weights = [w.copy() for w in model.get_weights()]
    assert recalibrate_batch_norm(model, data, batch_size=200, seed=None) == 2

    conv_out = keras.Model(model.input, model.get_layer("conv").output).predict(data, verbose=0)
    bn = model.get_layer("bn")
    batches = conv_out.reshape(3, 200, -1, 4)
    assert np.allclose(bn.moving_mean.numpy(), batches.mean(axis=(1, 2)).mean(0), atol=1e-4)
    assert np.allclose(bn.moving_variance.numpy(), batches.var(axis=(1, 2)).mean(0), rtol=1e-3)
    # the head's batch norm saw its input with dropout off: as a twin without dropout does
    twin = _net()
    twin.get_layer("drop").rate = 0.0
    twin.set_weights(weights)
    recalibrate_batch_norm(twin, data, batch_size=200, seed=None)
    for name in ("bn", "fc_bn"):
        ours, theirs = model.get_layer(name), twin.get_layer(name)
        assert np.allclose(ours.moving_variance.numpy(), theirs.moving_variance.numpy(), atol=1e-5)
        assert np.allclose(ours.moving_mean.numpy(), theirs.moving_mean.numpy(), atol=1e-5)
    # nothing else changed, and the layers are as they were
    changed = {
        i for i, (a, b) in enumerate(zip(weights, model.get_weights())) if not np.array_equal(a, b)
    }
    moving = {i for i, v in enumerate(model.weights) if "moving" in v.path}
    assert changed and changed <= moving
    assert bn.momentum == 0.9 and model.get_layer("drop").rate == 0.5
    # the result depends on the data alone, not on the statistics before
    first = [w.copy() for w in model.get_weights()]
    recalibrate_batch_norm(model, data, batch_size=200, seed=None)
    assert all(np.allclose(a, b, atol=1e-5) for a, b in zip(first, model.get_weights()))


def test_nested_members_are_recalibrated():
    from fer.training.ensemble import build_ensemble

    ensemble = build_ensemble([_net(), _net()], "e")
    data = np.random.default_rng(1).random((64, 8, 8, 1), dtype=np.float32) + 5
    assert recalibrate_batch_norm(ensemble, data) == 4
    for member in ensemble.layers[1:3]:
        assert member.get_layer("bn").moving_mean.numpy().max() != 0


def test_cli_precise_bn_refreshes_the_card(tmp_path, capsys):
    from fer.cli import main

    shipped = PROJECT_ROOT / "models" / "shallow.keras"
    model = tmp_path / "shallow.keras"
    shutil.copy(shipped, model)
    shutil.copy(shipped.with_suffix(".json"), model.with_suffix(".json"))
    before = json.loads(model.with_suffix(".json").read_text())
    out = tmp_path / "out" / "shallow.keras"
    data = str(ferplus_root())  # the shipped model's statistics are FER+ Train's
    assert main(["precise-bn", str(model), "--out", str(out), "--data", data]) == 0
    assert f"wrote {out}: validation accuracy" in capsys.readouterr().out
    card = json.loads(out.with_suffix(".json").read_text())
    assert card["validation"]["n"] == 3370 and card["file_bytes"] == out.stat().st_size
    assert "re-estimated on 28558 clean training images" in card["training"]["notes"][-1]
    assert card["training"]["command"].splitlines()[-1] == (
        f"python -m fer precise-bn {model} --out {out}"
    )
    assert card["training"]["history"] == before["training"]["history"]
    # the shipped model is already recalibrated: doing it again changes (almost) nothing
    assert abs(card["validation"]["accuracy"] - before["validation"]["accuracy"]) <= SAME_MODEL


def test_cli_precise_bn_bad_input(tmp_path, capsys):
    from fer.cli import main
    from fer.training.architectures import build

    assert main(["precise-bn", str(tmp_path / "nope.keras")]) != 0
    assert "not found" in capsys.readouterr().err
    junk = tmp_path / "junk.keras"
    junk.write_bytes(b"zip? no")
    assert main(["precise-bn", str(junk), "--data", str(fer2013_or_synthetic())]) != 0
    assert "cannot recalibrate" in capsys.readouterr().err
    bare = tmp_path / "bare.keras"
    build("shallow").save(bare)
    assert main(["precise-bn", str(bare), "--data", str(fer2013_or_synthetic())]) == 0
    assert "no card to refresh" in capsys.readouterr().out


def test_batches_are_drawn_at_random_so_sorted_data_keeps_its_spread():
    import keras
    from keras import layers

    inputs = keras.Input((1, 1, 1))
    model = keras.Model(inputs, layers.BatchNormalization(name="bn")(inputs))
    rng = np.random.default_rng(0)
    data = np.concatenate([rng.normal(0, 1, 2000), rng.normal(4, 1, 2000)]).astype(np.float32)
    data = data.reshape(-1, 1, 1, 1)  # stored "class by class"
    recalibrate_batch_norm(model, data, batch_size=200, seed=None)
    in_order = float(model.get_layer("bn").moving_variance.numpy()[0])
    recalibrate_batch_norm(model, data, batch_size=200)
    shuffled = float(model.get_layer("bn").moving_variance.numpy()[0])
    assert in_order < 1.3 and abs(shuffled - data.var()) < 0.3 * data.var()  # var is ~5
