"""Train a model on FER2013: seeded, checkpointed every epoch, resumable, writes a model card.

Outputs ``<out>/<arch>.keras`` (weights only, no optimiser) and ``<out>/<arch>.json``; the
per-epoch checkpoint and its state live in ``<out>/.checkpoints/<arch>/``.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .architectures import build
from .augmentation import augmentation_recipe, build_augmenter, random_erasing
from .dataset import load_split
from .emotions import EMOTIONS, NUM_CLASSES
from .evaluation import classification_report
from .preprocessing import preprocessing_description, to_model_input
from .tf_runtime import import_tensorflow


@dataclass
class TrainConfig:
    arch: str
    data: str
    out: str = "models"
    epochs: int = 30
    batch_size: int = 128
    learning_rate: float = 2e-3
    weight_decay: float = 0.01
    label_smoothing: float = 0.1
    warmup_epochs: int = 1
    erase_probability: float = 0.5
    seed: int = 1234
    limit: int | None = None  # use only this many training images (tests, probes)
    val_limit: int | None = None
    resume: bool = False
    speed_seconds: float = 2.0
    log: object = field(default=None, repr=False)  # a text stream; None: sys.stdout


def _say(cfg: TrainConfig, text: str) -> None:
    print(text, file=cfg.log or sys.stdout, flush=True)


def _dataset(images, labels, cfg: TrainConfig, training: bool):
    import tensorflow as tf

    x = to_model_input(images)
    y = tf.one_hot(labels, NUM_CLASSES)
    ds = tf.data.Dataset.from_tensor_slices((x, y))
    if not training:
        return ds.batch(256).prefetch(2)
    augmenter = build_augmenter(cfg.seed)
    counter = tf.data.Dataset.counter()
    ds = ds.shuffle(len(x), seed=cfg.seed, reshuffle_each_iteration=True).batch(cfg.batch_size)

    def augment(step, batch):
        images_, labels_ = batch
        images_ = augmenter(images_, training=True)
        images_ = random_erasing(images_, tf.stack([tf.cast(step, tf.int32), cfg.seed]),
                                 probability=cfg.erase_probability)
        return images_, labels_

    ds = tf.data.Dataset.zip((counter, ds)).map(augment, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(2)


def _schedule(cfg: TrainConfig, steps_per_epoch: int):
    """Linear warm-up, then cosine decay to 1 % over the run's total steps."""
    import keras

    total = steps_per_epoch * cfg.epochs
    warmup = min(steps_per_epoch * cfg.warmup_epochs, total // 2)
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=cfg.learning_rate / 10,
        decay_steps=max(total - warmup, 1),
        alpha=0.01,
        warmup_target=cfg.learning_rate,
        warmup_steps=warmup,
    )


def _compile(model, cfg: TrainConfig, steps_per_epoch: int) -> None:
    import keras

    model.compile(
        optimizer=keras.optimizers.AdamW(_schedule(cfg, steps_per_epoch),
                                         weight_decay=cfg.weight_decay),
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=cfg.label_smoothing),
        metrics=["accuracy"],
    )


def _progress_callback(cfg: TrainConfig, ckpt_dir: Path, state: dict):
    import keras

    class Progress(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self._t0 = time.time()

        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            seconds = time.time() - self._t0
            state["epoch"] = epoch + 1
            state["train_seconds"] += seconds
            state["history"].append({
                "epoch": epoch + 1,
                "loss": round(float(logs.get("loss", 0)), 4),
                "accuracy": round(float(logs.get("accuracy", 0)), 4),
                "val_loss": round(float(logs.get("val_loss", 0)), 4),
                "val_accuracy": round(float(logs.get("val_accuracy", 0)), 4),
                "seconds": round(seconds, 1),
            })
            # Checkpoint: model (with optimiser state) first, then the state that points at it.
            self.model.save(ckpt_dir / "last.tmp.keras")
            os.replace(ckpt_dir / "last.tmp.keras", ckpt_dir / "last.keras")
            (ckpt_dir / "state.tmp.json").write_text(json.dumps(state, indent=1))
            os.replace(ckpt_dir / "state.tmp.json", ckpt_dir / "state.json")
            done = epoch + 1
            mean = state["train_seconds"] / max(len(state["history"]), 1)
            eta = mean * (cfg.epochs - done)
            h = state["history"][-1]
            _say(cfg, f"epoch {done}/{cfg.epochs}  loss {h['loss']:.4f}  acc {h['accuracy']:.4f}  "
                      f"val_acc {h['val_accuracy']:.4f}  {seconds:.0f}s/epoch  ETA {eta / 60:.1f} min")

    return Progress()


def train(cfg: TrainConfig) -> dict:
    """Run (or resume) training and write the model and its card; returns the card."""
    import_tensorflow()
    import keras
    keras.utils.set_random_seed(cfg.seed)
    out = Path(cfg.out)
    ckpt_dir = out / ".checkpoints" / cfg.arch
    ckpt_dir.mkdir(parents=True, exist_ok=True)

    train_split = load_split(cfg.data, "train")
    val_split = load_split(cfg.data, "test")
    if cfg.limit:
        train_split = train_split.subset(cfg.limit, cfg.seed)
    if cfg.val_limit:
        val_split = val_split.subset(cfg.val_limit, cfg.seed)
    steps = int(np.ceil(len(train_split) / cfg.batch_size))
    train_ds = _dataset(train_split.images, train_split.labels, cfg, training=True)
    val_ds = _dataset(val_split.images, val_split.labels, cfg, training=False)

    state = {"epoch": 0, "train_seconds": 0.0, "history": [], "config": _config_dict(cfg),
             "train_images": len(train_split)}
    if cfg.resume and (ckpt_dir / "state.json").exists() and (ckpt_dir / "last.keras").exists():
        state = json.loads((ckpt_dir / "state.json").read_text())
        model = keras.models.load_model(ckpt_dir / "last.keras")
        _say(cfg, f"resuming {cfg.arch} after epoch {state['epoch']}")
        if state["config"].get("epochs") != cfg.epochs:
            # A run resumed with another length: the cosine now ends at the new last epoch
            # (the optimiser's step count carries on, so the rate continues from the new curve).
            model.optimizer.learning_rate = _schedule(cfg, steps)
            note = (f"schedule re-planned from {state['config'].get('epochs')} to {cfg.epochs} "
                    f"epochs after epoch {state['epoch']} (--resume --epochs {cfg.epochs})")
            _say(cfg, note)
            state.setdefault("notes", []).append(note)
            state["config"]["epochs"] = cfg.epochs
    else:
        model = build(cfg.arch)
        _compile(model, cfg, steps)
    _say(cfg, f"training {cfg.arch}: {model.count_params():,} parameters, {len(train_split)} train / "
              f"{len(val_split)} validation images, {cfg.epochs} epochs of {steps} steps")

    if state["epoch"] < cfg.epochs:
        model.fit(train_ds, validation_data=val_ds, epochs=cfg.epochs, initial_epoch=state["epoch"],
                  callbacks=[_progress_callback(cfg, ckpt_dir, state)], verbose=0)

    # Ship the weights without optimiser state, in a freshly built (uncompiled) network.
    final = build(cfg.arch)
    final.set_weights(model.get_weights())
    model_path = out / f"{cfg.arch}.keras"
    final.save(model_path)
    card = write_model_card(final, model_path, cfg, state, val_split)
    _say(cfg, f"wrote {model_path} and {model_path.with_suffix('.json')}: validation accuracy "
              f"{card['validation']['accuracy']:.4f} ({card['validation_tta']['accuracy']:.4f} with flip TTA)")
    return card


def _config_dict(cfg: TrainConfig) -> dict:
    return {k: v for k, v in cfg.__dict__.items() if k != "log"}


def write_model_card(model, model_path: Path, cfg: TrainConfig, state: dict, val_split) -> dict:
    """Evaluate and time the trained model and write ``<name>.json`` beside it."""
    from .inference import CompiledClassifier, file_digest
    from .speed import speed_report

    classifier = CompiledClassifier(model, cache_key=file_digest(model_path)[:24])
    x = to_model_input(val_split.images)
    plain = classifier.predict_batched(x).argmax(1)
    tta = classifier.predict_batched(x, tta=True).argmax(1)
    card = {
        "name": cfg.arch,
        "file": model_path.name,
        "architecture": cfg.arch,
        "parameters": int(model.count_params()),
        "file_bytes": model_path.stat().st_size,
        "input_size": [int(model.input_shape[1]), int(model.input_shape[2]), 1],
        "labels": list(EMOTIONS),
        "preprocessing": preprocessing_description(int(model.input_shape[1])),
        "augmentation": augmentation_recipe(cfg.erase_probability),
        "training": {
            "data": str(cfg.data),
            "train_images": state.get("train_images"),
            "optimizer": f"AdamW (weight decay {cfg.weight_decay})",
            "schedule": (f"{cfg.warmup_epochs} warm-up epoch(s) to {cfg.learning_rate}, then cosine "
                         "decay to 1% of it"),
            "loss": f"cross-entropy, label smoothing {cfg.label_smoothing}",
            "batch_size": cfg.batch_size,
            "epochs": state["epoch"],
            "seed": cfg.seed,
            "wall_seconds": round(state["train_seconds"], 1),
            "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
                       f"{platform.system()}",
            "history": state["history"],
            "notes": state.get("notes", []),
            "command": (f"python -m fer train --arch {cfg.arch} --data {cfg.data} --out {cfg.out} "
                        f"--epochs {cfg.epochs} --erase-prob {cfg.erase_probability:g}"),
        },
        "validation_split": f"PublicTest ({len(val_split)} images)",
        "validation": classification_report(val_split.labels, plain),
        "validation_tta": classification_report(val_split.labels, tta),
        "speed": speed_report(classifier, cfg.speed_seconds),
        "speed_command": "python benchmarks/models.py",
        "evaluate_command": f"python -m fer evaluate --data {cfg.data} --model {cfg.arch}",
    }
    model_path.with_suffix(".json").write_text(json.dumps(card, indent=1))
    return card
