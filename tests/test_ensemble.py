"""Ensembles: one plain Keras model averaging its members, explained through its members,
written with a card that keeps each member's training record."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from fer.settings import PROJECT_ROOT
from tests.shared_data import fer2013_or_synthetic

SHALLOW = PROJECT_ROOT / "models" / "shallow.keras"


@pytest.fixture
def members(tmp_path):
    """The shipped shallow model (with its card) and an untrained one (without): two members
    that disagree."""
    from fer.training.architectures import build

    trained = tmp_path / "m1" / "shallow.keras"
    trained.parent.mkdir()
    shutil.copy(SHALLOW, trained)
    shutil.copy(SHALLOW.with_suffix(".json"), trained.with_suffix(".json"))
    untrained = tmp_path / "m2" / "shallow.keras"
    untrained.parent.mkdir()
    build("shallow").save(untrained)
    return [trained, untrained]


def test_ensemble_outputs_the_mean_and_loads_as_a_plain_model(members, tmp_path):
    import keras

    from fer.serving.runtime import RuntimeClassifier
    from fer.training.ensemble import build_ensemble, ensemble_members
    from fer.training.export import write_serving_file

    nets = [keras.models.load_model(p, compile=False) for p in members]
    x = np.random.default_rng(0).random((6, 48, 48, 1), dtype=np.float32)
    outs = [n.predict(x, verbose=0) for n in nets]
    assert np.abs(outs[0] - outs[1]).max() > 0.05  # the members do disagree
    path = tmp_path / "ens.keras"
    build_ensemble(nets, "deep").save(path)
    loaded = keras.models.load_model(path, compile=False)
    assert len(ensemble_members(loaded)) == 2 and ensemble_members(nets[0]) == []
    assert np.allclose(loaded.predict(x, verbose=0), (outs[0] + outs[1]) / 2, atol=1e-5)
    classifier = RuntimeClassifier(write_serving_file(loaded, path))  # what the app runs
    assert np.allclose(classifier(x), (outs[0] + outs[1]) / 2, atol=1e-4)
    with pytest.raises(ValueError, match="two or more"):
        build_ensemble(nets[:1], "deep")


def test_ensemble_heatmap_is_the_mean_of_its_members(members, two_faces):
    import keras

    from fer.output.explain import explain_faces
    from fer.training.ensemble import build_ensemble
    from fer.vision.detection import HaarDetector

    nets = [keras.models.load_model(p, compile=False) for p in members]
    ensemble = build_ensemble([keras.models.load_model(p, compile=False) for p in members], "e")
    boxes = [d.box for d in HaarDetector().detect(two_faces)]
    maps = explain_faces(ensemble, two_faces, boxes, target="happy")
    assert len(maps) == 2 and all(m.max() > 0.9 and m.std() > 0.05 for m in maps)
    own = [explain_faces(n, two_faces, boxes, target="happy") for n in nets]
    for i, heat in enumerate(maps):
        # the mean of the members' maps (each in [0, 1]) rescaled to [0, 1]: it correlates
        # with both, and is not either one
        for member in own:
            assert np.corrcoef(heat.ravel(), member[i].ravel())[0, 1] > 0.3
            assert np.abs(heat - member[i]).mean() > 1e-3


def test_write_ensemble_card_keeps_the_members_records(members, tmp_path):
    from fer.training.ensemble import write_ensemble

    card = write_ensemble(
        members, tmp_path / "out", "deep", fer2013_or_synthetic(), speed_seconds=0.1, val_limit=200
    )
    saved = json.loads((tmp_path / "out" / "deep.json").read_text())
    assert saved == json.loads(json.dumps(card))
    assert card["architecture"].startswith("ensemble of 2: shallow, None")
    assert card["validation"]["n"] == card["validation_tta_shift"]["n"] == 200
    assert card["file_bytes"] == (tmp_path / "out" / "deep.keras").stat().st_size
    assert card["parameters"] == 2 * 155207
    first, second = card["members"]
    shipped = json.loads(SHALLOW.with_suffix(".json").read_text())
    assert first["accuracy"]["off"] == shipped["validation"]["accuracy"]
    assert "--out members/1" in first["training"]["command"] and second["training"] == {}
    command = card["training"]["command"].splitlines()
    assert command[-1] == (
        f"python -m fer ensemble members/1/shallow.keras "
        f"members/2/shallow.keras --name deep --out {tmp_path / 'out'}"
    )
    assert card["training"]["epochs"] == f"{shipped['training']['epochs']} + ?"
    assert card["evaluate_command"].endswith("--model deep")


def test_cli_ensemble_bad_input(tmp_path, capsys):
    from fer.cli import main

    assert (
        main(
            [
                "ensemble",
                str(tmp_path / "nope.keras"),
                str(SHALLOW),
                "--name",
                "x",
                "--out",
                str(tmp_path),
            ]
        )
        != 0
    )
    assert "not found: " + str(tmp_path / "nope.keras") in capsys.readouterr().err
    assert main(["ensemble", str(SHALLOW), "--name", "x", "--out", str(tmp_path)]) != 0
    assert "two or more" in capsys.readouterr().err
    junk = tmp_path / "junk.keras"
    junk.write_bytes(b"not a model")
    assert main(["ensemble", str(junk), str(SHALLOW), "--name", "x", "--out", str(tmp_path)]) != 0
    assert "cannot build the ensemble" in capsys.readouterr().err
