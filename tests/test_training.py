"""Training end to end on a tiny slice: a loadable model and a complete model card."""

import json

import numpy as np
import pytest

from fer.training import TrainConfig, train
from tests.shared_data import fer2013_or_synthetic

CARD_FIELDS = {
    "name",
    "file",
    "architecture",
    "parameters",
    "file_bytes",
    "input_size",
    "labels",
    "preprocessing",
    "augmentation",
    "training",
    "validation_split",
    "validation",
    "validation_tta",
    "validation_tta_shift",
    "speed",
    "speed_command",
    "evaluate_command",
}
TRAINING_FIELDS = {
    "data",
    "train_images",
    "optimizer",
    "schedule",
    "loss",
    "batch_size",
    "epochs",
    "seed",
    "wall_seconds",
    "machine",
    "history",
    "command",
}


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("FER_CACHE_DIR", str(tmp_path / "cache"))


@pytest.mark.parametrize("arch", ["shallow", "deep"])
def test_train_tiny_slice_writes_model_and_card(tmp_path, arch, capsys):
    root = fer2013_or_synthetic()
    out = tmp_path / "models"
    cfg = TrainConfig(
        arch=arch,
        data=str(root),
        out=str(out),
        epochs=1,
        batch_size=64,
        limit=256,
        val_limit=128,
        speed_seconds=0.2,
    )
    card = train(cfg)
    assert (out / f"{arch}.keras").exists()
    saved = json.loads((out / f"{arch}.json").read_text())
    assert saved == json.loads(json.dumps(card))
    assert CARD_FIELDS <= set(saved) and TRAINING_FIELDS <= set(saved["training"])
    assert saved["training"]["epochs"] == 1 and saved["training"]["train_images"] == 256
    assert saved["validation"]["n"] == 128
    assert len(saved["validation"]["confusion_matrix"]) == 7
    assert saved["speed"]["faces_per_s_batch1"] > 0
    assert (
        "batch-norm statistics re-estimated on 256 clean training images"
        in saved["training"]["notes"][-1]
    )
    assert "epoch 1/1" in capsys.readouterr().out

    from fer.serving.runtime import RuntimeClassifier

    assert saved["serving"]["file"] == f"{arch}.tflite"
    assert saved["serving"]["quantization"] in ("float", "dynamic", "int8")
    classifier = RuntimeClassifier(out / f"{arch}.tflite")
    probs = classifier(np.random.default_rng(0).random((3, 48, 48, 1), dtype=np.float32))
    assert probs.shape == (3, 7) and np.allclose(probs.sum(1), 1, atol=1e-4)


def test_resume_continues_from_checkpoint(tmp_path, capsys):
    root = fer2013_or_synthetic()
    out = tmp_path / "models"
    base = dict(
        arch="shallow",
        data=str(root),
        out=str(out),
        batch_size=64,
        limit=128,
        val_limit=64,
        speed_seconds=0.1,
    )
    train(TrainConfig(epochs=1, **base))
    capsys.readouterr()
    card = train(TrainConfig(epochs=2, resume=True, **base))
    log = capsys.readouterr().out
    assert "resuming shallow after epoch 1" in log and "epoch 2/2" in log and "epoch 1/2" not in log
    assert [h["epoch"] for h in card["training"]["history"]] == [1, 2]
    # resumed with another length: the cosine schedule is re-planned and the card says so
    assert "schedule re-planned from 1 to 2 epochs" in log
    assert card["training"]["notes"] == [
        "schedule re-planned from 1 to 2 epochs after epoch 1 (--resume --epochs 2)",
        "batch-norm statistics re-estimated on 128 clean training images with dropout off "
        "(fer.batchnorm, PreciseBN)",
    ]


def test_time_budget_shortens_the_run_and_card_can_be_rewritten(tmp_path, capsys):
    from fer.training import write_card_from_checkpoint

    root = fer2013_or_synthetic()
    out = tmp_path / "models"
    card = train(
        TrainConfig(
            arch="shallow",
            data=str(root),
            out=str(out),
            epochs=8,
            batch_size=64,
            limit=128,
            val_limit=64,
            speed_seconds=0.1,
            time_budget=0.001,
            checkpoint_every=3,
        )
    )
    log = capsys.readouterr().out
    # the first epoch compiles, the next three are timed; nothing more fits in 0.06 s
    assert card["training"]["epochs"] == 4 and "epoch 5/" not in log
    assert "--time-budget 0.001 min set the run to 4 epochs" in card["training"]["notes"][0]
    assert "--epochs 4 " in card["training"]["command"]
    # checkpoints every 3 epochs and at the end
    state = json.loads((out / ".checkpoints" / "shallow" / "state.json").read_text())
    assert state["epoch"] == 4
    (out / "shallow.json").unlink()
    again = write_card_from_checkpoint("shallow", str(out), str(root), speed_seconds=0.1)
    assert (out / "shallow.json").exists()
    assert again["validation"] == card["validation"] and again["training"] == card["training"]


def test_distillation_loss_mixes_labels_and_teacher():
    import keras
    from keras import ops

    from fer.training.distillation import distillation_objects

    loss_class, accuracy = distillation_objects()
    labels = np.eye(7, dtype=np.float32)[[0, 3]]
    student = np.full((2, 7), 1 / 7, np.float32)
    teacher = np.array([[0.7] + [0.05] * 6, [0.05] * 3 + [0.7] + [0.05] * 3], np.float32)
    both = np.concatenate([student, teacher], axis=1)
    ce = keras.losses.CategoricalCrossentropy(label_smoothing=0.1)(labels, student)
    only_labels = loss_class(alpha=0.0, label_smoothing=0.1)(labels, both)
    assert np.isclose(float(only_labels), float(ce), atol=1e-5)
    same = np.concatenate([teacher, teacher], axis=1)
    assert float(loss_class(alpha=1.0)(labels, same)) < 1e-5  # student equals teacher: no KL
    assert float(loss_class(alpha=1.0)(labels, both)) > 0.1
    assert list(ops.convert_to_numpy(accuracy(labels, same))) == [1.0, 1.0]


@pytest.mark.parametrize("teacher_arch", ["deep", "shallow"])  # shallow: the student's own name
def test_distillation_from_a_teacher_writes_a_student(tmp_path, teacher_arch):
    from fer.training.architectures import build

    teacher = tmp_path / "teacher.keras"
    build(teacher_arch).save(teacher)
    out = tmp_path / "models"
    card = train(
        TrainConfig(
            arch="shallow",
            data=str(fer2013_or_synthetic()),
            out=str(out),
            epochs=1,
            batch_size=64,
            limit=128,
            val_limit=64,
            speed_seconds=0.1,
            teacher=str(teacher),
        )
    )
    assert "distilled from teacher.keras" in card["training"]["loss"]
    assert f"--teacher {teacher}" in card["training"]["command"]
    assert card["parameters"] < 1_000_000  # the student, not the teacher, was saved


def test_mixing_and_geometry_reach_the_card_and_command(tmp_path, capsys):
    root = fer2013_or_synthetic()
    card = train(
        TrainConfig(
            arch="shallow",
            data=str(root),
            out=str(tmp_path),
            epochs=1,
            batch_size=64,
            limit=256,
            val_limit=64,
            speed_seconds=0.1,
            geometry=0.2,
            mix="cutmix",
            mix_alpha=1.0,
            mix_probability=1.0,
            seed=7,
            precise_bn=False,
        )
    )
    assert "random shift up to 20%" in card["augmentation"]
    assert "CutMix with Beta(1, 1) on 100% of batches" in card["augmentation"]
    command = card["training"]["command"]
    assert "--geometry 0.2 --mix cutmix --mix-alpha 1 --mix-prob 1" in command
    assert "--seed 7" in command and "--no-precise-bn" in command
    assert not any("batch-norm" in n for n in card["training"]["notes"])


SHIPPED_TRAIN_COMMANDS = [  # the recipes in models/deep.json and models/shallow.json
    "KERAS_BACKEND=jax python -m fer train --arch deep --data ../shared/datasets/fer2013 "
    "--out members/1 --epochs 294 --erase-prob 0.5 --optimizer sgd --lr 0.05 "
    "--weight-decay 0.005",
    "KERAS_BACKEND=jax python -m fer train --arch deep --data ../shared/datasets/fer2013 "
    "--out members/2 --epochs 291 --erase-prob 0.5 --geometry 0.2 --mix both --mix-alpha 1 "
    "--mix-prob 0.5 --optimizer sgd --lr 0.05 --weight-decay 0.005 --seed 11",
    "KERAS_BACKEND=jax python -m fer train --arch shallow --data ../shared/datasets/fer2013 "
    "--out models --epochs 440 --erase-prob 0.25",
]


@pytest.mark.parametrize("command", SHIPPED_TRAIN_COMMANDS)
def test_train_options_come_from_the_config_and_repeat_the_shipped_commands(command):
    """The options generated from TrainConfig's fields parse a card's command back into the
    config that writes the same command."""
    import shlex

    from fer.cli import build_parser
    from fer.training.config import config_from_args, train_command

    env, _, options = command.partition(" python -m fer train ")
    args = build_parser(training=True).parse_args(["train", *shlex.split(options)])
    cfg = config_from_args(args)
    assert train_command(cfg, {"config": {"backend": env.split("=")[1]}}) == command


def test_train_options_defaults_and_switches_match_the_config():
    from fer.cli import build_parser
    from fer.training.config import config_from_args

    args = build_parser(training=True).parse_args(["train", "--arch", "shallow"])
    assert config_from_args(args, data="d") == TrainConfig(arch="shallow", data="d")
    args = build_parser(training=True).parse_args(
        [
            "train",
            "--arch",
            "deep",
            "--no-precise-bn",
            "--resume",
            "--quantize",
            "int8",
            "--lr",
            "0.1",
            "--mix-prob",
            "1",
            "--limit",
            "5",
        ]
    )
    cfg = config_from_args(args, data="d")
    assert (cfg.precise_bn, cfg.resume, cfg.quantization) == (False, True, "int8")
    assert (cfg.learning_rate, cfg.mix_probability, cfg.limit) == (0.1, 1.0, 5)


def test_roll_min_without_a_roll_is_refused_before_training(tmp_path, capsys):
    """--roll-min only sizes the roll: with the roll off it would change nothing, so the CLI
    says so instead of training a model whose command claims large rolls."""
    from fer.cli import main

    out = tmp_path / "run"
    assert main(["train", "--arch", "shallow", "--roll-min", "15", "--out", str(out)]) != 0
    assert "--roll-min" in capsys.readouterr().err
    assert not out.exists()
