"""Training on FER+'s votes: the soft-target loss, ``--init`` from a trained model or an
ensemble member, the held-out slice and its best epoch, the real-world shifts, and a card that
holds FER+ and FER2013 figures."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fer.errors import FerError
from fer.training import TrainConfig, train
from tests.test_ferplus import ROWS, write_ferplus


@pytest.fixture
def ferplus_root(tmp_path, monkeypatch):
    """Every row of the reader's test 24 times over (FER2013 stays where it is, or is absent)."""
    monkeypatch.setenv("FER_CACHE_DIR", str(tmp_path / "cache"))
    rows = {f"{k}{i}": v for i in range(24) for k, v in ROWS.items()}
    return write_ferplus(tmp_path / "ferplus", rows)


def test_soft_target_loss_is_cross_entropy_against_the_distribution():
    from fer.training.trainer import soft_target_loss

    targets = np.array([[0.6, 0.2, 0.2, 0, 0, 0, 0], [0, 0, 0, 0.5, 0.5, 0, 0]], np.float32)
    predicted = np.array([[0.5, 0.3, 0.1, 0.05, 0.05, 0, 0], [0.1] * 6 + [0.4]], np.float32)
    loss = float(soft_target_loss()(targets, predicted))
    clipped = np.clip(predicted, 1e-7, 1.0)
    assert loss == pytest.approx(float(np.mean(-(targets * np.log(clipped)).sum(1))), rel=1e-4)
    # lowest where the prediction is the distribution itself, not its most-voted emotion
    at_targets = float(soft_target_loss()(targets, targets))
    one_hot = np.eye(7, dtype=np.float32)[targets.argmax(1)]
    assert at_targets < float(soft_target_loss()(targets, 0.999 * one_hot + 0.001 / 7))


def _config(root, out, **kw) -> TrainConfig:
    base = dict(
        arch="shallow",
        data=str(root),
        out=str(out),
        epochs=1,
        batch_size=32,
        speed_seconds=0.1,
        quantization="float",
        erase_probability=0.0,
    )
    return TrainConfig(**{**base, **kw})


def test_ferplus_run_validates_on_a_held_out_slice_and_cards_the_majority(ferplus_root, tmp_path):
    card = train(_config(ferplus_root, tmp_path / "m", epochs=2, shift_probability=0.5))
    training = card["training"]
    assert training["validation"].startswith("FER+ Train hold-out (10%")
    # 4 of the 6 rows are trainable, 24 faces each, each its own label: 2 of each held out
    assert training["train_images"] == 96 - 4 * 2
    assert "FER+ vote distribution" in training["targets"]
    assert "label smoothing 0.0" in training["loss"]
    assert any(n.startswith("weights of epoch") for n in training["notes"])
    assert "real-world shifts, each with p=0.5" in card["augmentation"]
    assert "--shift-prob 0.5" in training["command"]
    # scored on FER+ Valid's strict-majority faces (happy and anger rows: 48 of 144)
    assert card["validation"]["n"] == 48 and card["validation_split"].startswith("FER+ Valid")
    assert card["ferplus"]["off"]["majority_n"] == 48 and card["ferplus"]["off"]["n"] == 144
    saved = json.loads((tmp_path / "m" / "shallow.json").read_text())
    assert saved["ferplus"] == json.loads(json.dumps(card["ferplus"]))


def test_init_starts_from_the_model_or_the_chosen_ensemble_member(ferplus_root, tmp_path):
    import keras

    from fer.training.architectures import build
    from fer.training.ensemble import build_ensemble
    from fer.training.trainer import initial_weights

    keras.utils.set_random_seed(1)
    a, b = build("shallow"), build("shallow")
    a.save(tmp_path / "a.keras")
    build_ensemble([a, b], "deep").save(tmp_path / "ens.keras")
    same = lambda ws, net: all(np.array_equal(w, v) for w, v in zip(ws, net.get_weights()))  # noqa: E731
    assert same(initial_weights(str(tmp_path / "a.keras"), 1, "shallow"), a)
    assert same(initial_weights(str(tmp_path / "ens.keras"), 2, "shallow"), b)
    assert not same(initial_weights(str(tmp_path / "ens.keras"), 1, "shallow"), b)
    with pytest.raises(FerError, match="not a deep network"):
        initial_weights(str(tmp_path / "a.keras"), 1, "deep")
    with pytest.raises(FerError, match="ensemble of 2"):
        initial_weights(str(tmp_path / "ens.keras"), 3, "shallow")

    # a run from --init at a learning rate of ~0 ends where it started (the dense weights; the
    # batch-norm statistics are re-estimated); a run without it does not
    kw = dict(learning_rate=1e-12, precise_bn=False, limit=64)
    train(
        _config(ferplus_root, tmp_path / "from_b", init=str(tmp_path / "ens.keras"), member=2, **kw)
    )
    started = keras.models.load_model(tmp_path / "from_b" / "shallow.keras", compile=False)
    dense = lambda m: m.get_layer("probabilities").get_weights()[0]  # noqa: E731
    assert np.allclose(dense(started), dense(b), atol=1e-5)
    train(_config(ferplus_root, tmp_path / "fresh", **kw))
    fresh = keras.models.load_model(tmp_path / "fresh" / "shallow.keras", compile=False)
    assert not np.allclose(dense(fresh), dense(b), atol=1e-3)


def test_real_world_shifts_change_faces_with_their_probability():
    from fer.training.shifts import SHIFT_SAMPLERS, apply_random_shifts

    rng = np.random.default_rng(0)
    faces = rng.integers(0, 256, (64, 48, 48), np.uint8)
    assert apply_random_shifts(faces, 0.0, rng) is faces
    shifted = apply_random_shifts(faces, 1.0, np.random.default_rng(1))
    assert shifted.shape == faces.shape and shifted.dtype == np.uint8
    assert all((shifted[i] != faces[i]).any() for i in range(64))
    some = apply_random_shifts(faces, 0.05, np.random.default_rng(2))
    untouched = sum(np.array_equal(some[i], faces[i]) for i in range(64))
    # each face escapes all six shifts with probability 0.95 ** 6 = 0.74
    assert 30 < untouched < 62
    assert set(SHIFT_SAMPLERS) == {"roll", "downscale", "blur", "low contrast", "gamma", "jpeg"}


def test_roll_prob_gives_the_roll_its_own_probability():
    import argparse

    from fer.training.config import add_options, config_from_args, train_command
    from fer.training.shifts import apply_random_shifts, shifts_recipe

    parser = argparse.ArgumentParser()
    add_options(parser)
    args = ["--arch", "deep", "--data", "D", "--shift-prob", "0", "--roll-prob", "1"]
    cfg = config_from_args(parser.parse_args(args))
    assert cfg.shift_probabilities == {**dict.fromkeys(cfg.shift_probabilities, 0.0), "roll": 1.0}
    assert "--shift-prob" not in train_command(cfg, {}) and "--roll-prob 1" in train_command(
        cfg, {}
    )
    assert "each with p=0, the roll with p=1" in shifts_recipe(0.0, 1.0)
    assert shifts_recipe(0.15, None) == shifts_recipe(0.15, 0.15)
    # every face is rolled, and nothing else runs: a flat face stays flat under any roll (the
    # border is replicated) but not under gamma, contrast, blur at the edges or JPEG
    faces = np.random.default_rng(3).integers(0, 256, (16, 48, 48), np.uint8)
    rolled = apply_random_shifts(faces, cfg.shift_probabilities, np.random.default_rng(0))
    assert all((rolled[i] != faces[i]).any() for i in range(16))
    flat = np.full((16, 48, 48), 200, np.uint8)
    assert (
        apply_random_shifts(flat, cfg.shift_probabilities, np.random.default_rng(0)) == 200
    ).all()
    assert (apply_random_shifts(flat, 1.0, np.random.default_rng(0)) != 200).any()
    assert apply_random_shifts(faces, {"roll": 0.0}, np.random.default_rng(0)) is faces


def test_roll_min_draws_only_large_rolls_either_way(monkeypatch):
    import argparse

    from fer.training import shifts
    from fer.training.config import add_options, config_from_args, train_command

    angles: list[float] = []
    monkeypatch.setattr(shifts.robustness, "rotate", lambda d: angles.append(d) or (lambda im: im))
    faces = np.zeros((400, 48, 48), np.uint8)
    shifts.apply_random_shifts(faces, {"roll": 1.0}, np.random.default_rng(0), roll_min=20)
    assert len(angles) == 400 and all(20 <= abs(a) <= shifts.ROLL_MAX for a in angles)
    assert 150 < sum(a > 0 for a in angles) < 250
    angles.clear()
    shifts.apply_random_shifts(faces, {"roll": 1.0}, np.random.default_rng(0))
    assert sum(abs(a) < 20 for a in angles) > 200  # the default: uniform in +-30
    parser = argparse.ArgumentParser()
    add_options(parser)
    cfg = config_from_args(parser.parse_args(["--arch", "deep", "--data", "D", "--roll-min", "15"]))
    assert cfg.roll_min == 15 and "--roll-min 15" in train_command(cfg, {})
    assert "--roll-min" not in train_command(
        config_from_args(parser.parse_args(["--arch", "deep", "--data", "D"])), {}
    )
    assert "roll 15-30 degrees" in shifts.shifts_recipe(0.15, 0.4, 15)
    assert "roll up to 30 degrees" in shifts.shifts_recipe(0.15)


def _fer2013_copy(ferplus_root, root, labels):
    """FER2013's copy of FER+ Train: the same faces as JPEGs at a higher contrast (as the two
    downloads differ), each in the folder of its FER2013 label (``labels``, in row order)."""
    import cv2

    from fer.emotions import EMOTIONS

    for emotion in EMOTIONS:
        (root / "train" / emotion).mkdir(parents=True)
    copies = []
    for i, label in enumerate(labels):
        face = cv2.imread(str(ferplus_root / "FER2013Train" / f"fer{i:07d}.png"), 0)
        face = np.clip(128 + 1.4 * (face.astype(np.float32) - 128), 0, 255).astype(np.uint8)
        cv2.imwrite(str(root / "train" / label / f"Training_{i}.png"), face)
        copies.append(face)
    return root, np.stack(copies)


def test_fer2013_label_and_pixels_of_the_same_face_join_the_votes(ferplus_root, tmp_path):
    from fer.emotions import EMOTIONS
    from fer.quality.dataset import load_split
    from fer.training.config import train_command
    from fer.training.data import (
        matched_fer2013,
        pick_renderings,
        training_faces,
        training_targets,
    )

    split = load_split(ferplus_root, "train")
    labels = ["neutral"] * len(split)
    fer, copies = _fer2013_copy(ferplus_root, tmp_path / "fer2013", labels)
    cfg = TrainConfig(
        arch="shallow",
        data=str(ferplus_root),
        fer2013_weight=0.25,
        fer2013_pixels=0.5,
        fer2013_data=str(fer),
    )
    matched = matched_fer2013(cfg, split)
    match, reference = matched
    assert (match >= 0).all()  # found through the contrast change
    targets = training_targets(cfg, split, matched)
    neutral = np.eye(len(EMOTIONS))[EMOTIONS.index("neutral")]
    assert np.allclose(targets, 0.75 * split.targets + 0.25 * neutral)
    faces = training_faces(cfg, split, matched)
    assert faces.shape == (len(split), 2, 48, 48)
    assert (faces[:, 0] == split.images).all()
    assert (faces[:, 1] == reference.images[match]).all()
    assert np.abs(faces[:, 1].astype(int) - copies).max() <= 0  # PNG copies: lossless
    rng = np.random.default_rng(0)
    assert (pick_renderings(faces, 0.0, rng) == faces[:, 0]).all()
    assert (pick_renderings(faces, 1.0, rng) == faces[:, 1]).all()
    halves = pick_renderings(faces, 0.5, rng)
    second = (halves == faces[:, 1]).all(axis=(1, 2)) & ~(halves == faces[:, 0]).all(axis=(1, 2))
    assert 0.3 < second.mean() < 0.7
    command = train_command(cfg, {})
    assert "--fer2013-weight 0.25 --fer2013-pixels 0.5 --fer2013-data " + str(fer) in command
    # without either option FER2013 is not read, and the faces are FER+'s alone
    plain = TrainConfig(arch="shallow", data=str(ferplus_root), fer2013_data=str(fer))
    assert matched_fer2013(plain, split) is None
    assert training_faces(plain, split, None) is split.images
    assert "--fer2013-data" not in train_command(plain, {})


def test_a_run_on_both_renderings_trains_and_says_so(ferplus_root, tmp_path):
    fer, _ = _fer2013_copy(ferplus_root, tmp_path / "fer2013", ["happy"] * (24 * len(ROWS)))
    cfg = _config(ferplus_root, tmp_path / "m", epochs=1)
    cfg.fer2013_pixels, cfg.fer2013_data = 0.5, str(fer)
    card = train(cfg)
    assert "FER2013's copy of it with p=0.5" in card["training"]["targets"]
    assert "--fer2013-pixels 0.5" in card["training"]["command"]


def test_fer2013_neutral_keeps_its_neutral_call_and_takes_the_votes_for_the_rest(
    ferplus_root, tmp_path
):
    from fer.emotions import EMOTIONS
    from fer.quality.dataset import load_split
    from fer.training.config import train_command
    from fer.training.data import matched_fer2013, training_targets

    split = load_split(ferplus_root, "train")
    keys = list(ROWS) * (len(split) // len(ROWS))  # the fixture's row order
    labels = ["neutral" if k in ("contempt", "unknown") else "sad" for k in keys]
    fer, _ = _fer2013_copy(ferplus_root, tmp_path / "fer2013", labels)
    cfg = TrainConfig(
        arch="shallow", data=str(ferplus_root), fer2013_neutral=True, fer2013_data=str(fer)
    )
    targets = training_targets(cfg, split, matched_fer2013(cfg, split))
    neutral, sad = EMOTIONS.index("neutral"), EMOTIONS.index("sad")
    is_neutral = np.array(labels) == "neutral"
    assert (targets[is_neutral] == np.eye(7)[neutral]).all()  # FER2013 says neutral: neutral
    expressive = targets[~is_neutral]
    assert (expressive[:, neutral] == 0).all() and np.allclose(expressive.sum(axis=1), 1)
    first = {k: targets[keys.index(k)] for k in ROWS}
    assert np.isclose(first["happy"][EMOTIONS.index("happy")], 8 / 9)
    assert np.isclose(first["tie"][sad], 0.8)  # 4 sadness, 1 anger; the 4 neutral dropped
    assert first["not_a_face"][sad] == 1  # no emotion vote: FER2013's label
    assert "--fer2013-neutral --fer2013-data" in train_command(cfg, {})
