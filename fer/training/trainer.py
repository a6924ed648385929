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
from pathlib import Path

import numpy as np

from ..vision.preprocessing import to_model_input
from .architectures import build
from .augmentation import (
    allow_jit_on_jax,
    augmentation_recipe,
    build_augmenter,
    random_erasing_layer,
)
from .batchnorm import PRECISE_BN_NOTE, precise_bn_note, recalibrate_batch_norm
from .config import TrainConfig, train_command
from .data import (
    card_split,
    label_smoothing,
    matched_fer2013,
    pick_renderings,
    training_faces,
    training_splits,
    training_targets,
)
from .mixing import mixed_batches, mixing_recipe
from .model_card import accuracy_summary, measured_fields
from .shifts import apply_random_shifts, shifts_recipe
from .tf_runtime import import_tensorflow


def _say(cfg: TrainConfig, text: str) -> None:
    print(text, file=cfg.log or sys.stdout, flush=True)


def _arrays(split) -> tuple[np.ndarray, np.ndarray]:
    return to_model_input(split.images), split.targets


def _training_model(net, cfg: TrainConfig):
    """The network behind the augmentation layers (and beside a frozen teacher when
    distilling). Augmentation is part of this model, not of a data pipeline, so that it runs
    on the device that trains."""
    import keras

    augmenter = build_augmenter(cfg.seed, cfg.erase_probability, cfg.geometry)
    if cfg.teacher:
        from .distillation import distillation_model

        teacher = keras.models.load_model(cfg.teacher, compile=False)
        return distillation_model(net, teacher, augmenter)
    inputs = keras.Input(net.input_shape[1:], name="face")
    return keras.Model(inputs, net(augmenter(inputs)), name=f"{net.name}_training")


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


def _optimizer(cfg: TrainConfig, steps_per_epoch: int):
    import keras

    schedule = _schedule(cfg, steps_per_epoch)
    if cfg.optimizer == "sgd":
        return keras.optimizers.SGD(
            schedule, momentum=0.9, nesterov=True, weight_decay=cfg.weight_decay
        )
    if cfg.optimizer == "adamw":
        return keras.optimizers.AdamW(schedule, weight_decay=cfg.weight_decay)
    raise ValueError(f"unknown optimizer {cfg.optimizer!r}; choose adamw or sgd")


def soft_target_loss(smoothing: float = 0.0):
    """Cross-entropy against a target distribution (FER+'s votes, or smoothed one-hot labels):
    ``-sum(t * log p)``, which is the KL divergence from the targets plus their fixed entropy."""
    import keras

    return keras.losses.CategoricalCrossentropy(label_smoothing=smoothing)


def _compile(model, cfg: TrainConfig, steps_per_epoch: int, smoothing: float) -> None:

    if cfg.teacher:
        from .distillation import distillation_objects

        loss_class, accuracy = distillation_objects()
        loss = loss_class(cfg.distill_alpha, cfg.temperature, smoothing)
        metrics = [accuracy]
    else:
        loss = soft_target_loss(smoothing)
        metrics = ["accuracy"]
    # Keras will not jit a model holding its augmentation layers unless told to; on JAX they
    # trace fine and an un-jitted step is ~100x slower. TensorFlow keeps its default.
    jit = True if _backend() == "jax" else "auto"
    model.compile(
        optimizer=_optimizer(cfg, steps_per_epoch), loss=loss, metrics=metrics, jit_compile=jit
    )


def _replan(model, cfg: TrainConfig, steps: int, state: dict, note: str) -> None:
    """Stretch or shrink the cosine to end at ``cfg.epochs``. The optimiser's step count
    carries on and the warm-up is unchanged, so the rate continues on the new curve."""
    model.optimizer.learning_rate = _schedule(cfg, steps)
    model.train_function = None  # a traced step holds the old schedule; trace it anew
    _say(cfg, note)
    state.setdefault("notes", []).append(note)
    state["config"]["epochs"] = cfg.epochs


def _write_state(ckpt_dir: Path, state: dict) -> None:
    (ckpt_dir / "state.tmp.json").write_text(json.dumps(state, indent=1))
    os.replace(ckpt_dir / "state.tmp.json", ckpt_dir / "state.json")


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
            state["history"].append(
                {
                    "epoch": epoch + 1,
                    "loss": round(float(logs.get("loss", 0)), 4),
                    "accuracy": round(
                        float(logs.get("accuracy", logs.get("student_accuracy", 0))), 4
                    ),
                    "val_loss": round(float(logs.get("val_loss", 0)), 4),
                    "val_accuracy": round(
                        float(logs.get("val_accuracy", logs.get("val_student_accuracy", 0))), 4
                    ),
                    "seconds": round(seconds, 1),
                }
            )
            done = epoch + 1
            if state.get("pick_best") and h_val_loss(state) < state.get("best_val_loss", 1e9):
                state["best_val_loss"], state["best_epoch"] = h_val_loss(state), done
                self.model.get_layer(cfg.arch).save_weights(ckpt_dir / "best.weights.h5")
            if done % max(cfg.checkpoint_every, 1) == 0 or done == cfg.epochs:
                # model (with optimiser state) first, then the state that points at it
                self.model.save(ckpt_dir / "last.tmp.keras")
                os.replace(ckpt_dir / "last.tmp.keras", ckpt_dir / "last.keras")
                _write_state(ckpt_dir, state)
            mean = state["train_seconds"] / max(len(state["history"]), 1)
            eta = mean * (cfg.epochs - done)
            h = state["history"][-1]
            _say(
                cfg,
                f"epoch {done}/{cfg.epochs}  loss {h['loss']:.4f}  acc {h['accuracy']:.4f}  "
                f"val_acc {h['val_accuracy']:.4f}  {seconds:.0f}s/epoch  ETA {eta / 60:.1f} min",
            )

    return Progress()


def h_val_loss(state: dict) -> float:
    """The last epoch's validation loss."""
    return state["history"][-1]["val_loss"]


def _backend() -> str:
    return os.environ.get("KERAS_BACKEND", "tensorflow")


def _machine() -> str:
    """CPU model, cores and OS, plus the accelerator and Keras backend that trained."""
    import keras

    from ..quality.speed import machine

    desc = f"{machine()}, {platform.system()}"
    if keras.backend.backend() == "jax":
        import jax

        gpus = [d.device_kind for d in jax.devices() if d.platform == "gpu"]
        if gpus:
            desc += f", {gpus[0]} GPU"
    return f"{desc}; Keras {keras.__version__} ({keras.backend.backend()} backend)"


def train(cfg: TrainConfig) -> dict | None:
    """Run (or resume) training and write the model and its card; returns the card (None
    where TensorFlow is absent: then ``python -m fer card`` writes it on a machine with it)."""
    if _backend() == "tensorflow":
        import_tensorflow()
    import keras

    keras.utils.set_random_seed(cfg.seed)
    ckpt_dir = Path(cfg.out) / ".checkpoints" / cfg.arch
    ckpt_dir.mkdir(parents=True, exist_ok=True)

    train_split, val_split, val_name = training_splits(cfg)
    steps = int(np.ceil(len(train_split) / cfg.batch_size))
    matched = matched_fer2013(cfg, train_split)
    x, y = to_model_input(train_split.images), training_targets(cfg, train_split, matched)
    val = _arrays(val_split)
    smoothing = label_smoothing(cfg, train_split)
    model, state = _model_and_state(cfg, ckpt_dir, steps, len(train_split), smoothing)
    state.update(validation=f"{val_name} ({len(val_split)} images)")
    state["pick_best"] = train_split.is_ferplus  # never pick an epoch on PublicTest
    net = model.get_layer(cfg.arch)
    _say(
        cfg,
        f"training {cfg.arch}: {net.count_params():,} parameters, {len(train_split)} train / "
        f"{len(val_split)} validation images ({val_name}), {cfg.epochs} epochs of {steps} steps"
        + (f", from {cfg.init}" if cfg.init else "")
        + (f", distilling from {cfg.teacher}" if cfg.teacher else ""),
    )

    faces = training_faces(cfg, train_split, matched)
    data = _training_data(cfg, faces, x, y, state)
    fit = _fitter(model, cfg, ckpt_dir, state, data, val)
    if cfg.time_budget and not state.get("budgeted"):
        _fit_to_time_budget(model, cfg, steps, state, fit)
    fit(cfg.epochs)
    # batch-norm statistics from the faces as training showed them (both renderings, if mixed)
    if faces.ndim == 4:
        x = to_model_input(pick_renderings(faces, cfg.fer2013_pixels, np.random.default_rng(0)))
    return _ship(cfg, net, x, ckpt_dir, state)


def _model_and_state(
    cfg: TrainConfig, ckpt_dir: Path, steps: int, train_images: int, smoothing: float
):
    """The training model and the run's state: from the checkpoint when resuming one, else
    built (from ``--init``'s weights if given) and compiled with an empty history."""
    if cfg.resume and (ckpt_dir / "state.json").exists() and (ckpt_dir / "last.keras").exists():
        return _resumed(cfg, ckpt_dir, steps)
    state = {
        "epoch": 0,
        "train_seconds": 0.0,
        "history": [],
        "config": _config_dict(cfg),
        "train_images": train_images,
        "machine": _machine(),
    }
    net = build(cfg.arch)
    if cfg.init:
        net.set_weights(initial_weights(cfg.init, cfg.member, cfg.arch))
    model = _training_model(net, cfg)
    _compile(model, cfg, steps, smoothing)
    return model, state


def initial_weights(path: str, member: int, arch: str) -> list:
    """The weights of the model at ``path``, or of its ``member``-th network where it is an
    ensemble (:mod:`fer.training.ensemble`); refused where the architecture differs."""
    import keras

    from ..errors import FerError

    model = keras.models.load_model(path, compile=False)
    members = [layer for layer in model.layers if isinstance(layer, keras.Model)]
    if members:
        if not 1 <= member <= len(members):
            raise FerError(f"{path} is an ensemble of {len(members)}; --member {member} is none")
        model = members[member - 1]
    shapes = [w.shape for w in build(arch).weights]
    if [tuple(w.shape) for w in model.weights] != [tuple(s) for s in shapes]:
        raise FerError(f"{path} is not a {arch} network: its weights do not fit (--arch {arch})")
    return model.get_weights()


def _resumed(cfg: TrainConfig, ckpt_dir: Path, steps: int):
    """The checkpointed model and state, the schedule re-planned if ``cfg.epochs`` changed."""
    import keras

    state = json.loads((ckpt_dir / "state.json").read_text())
    # a finished run's last step is redone at the end of this one
    state["notes"] = [n for n in state.get("notes", []) if not n.startswith(PRECISE_BN_NOTE)]
    random_erasing_layer()  # registers the custom layer before loading
    if cfg.teacher:
        from .distillation import distillation_objects

        distillation_objects()
    model = keras.models.load_model(ckpt_dir / "last.keras")
    if _backend() == "jax":
        allow_jit_on_jax(model.get_layer("augmenter"))
        model.jit_compile = True
    _say(cfg, f"resuming {cfg.arch} after epoch {state['epoch']}")
    if state["config"].get("epochs") != cfg.epochs:
        _replan(
            model,
            cfg,
            steps,
            state,
            f"schedule re-planned from {state['config'].get('epochs')} to {cfg.epochs} "
            f"epochs after epoch {state['epoch']} (--resume --epochs {cfg.epochs})",
        )
    return model, state


def _training_data(
    cfg: TrainConfig, faces: np.ndarray, x: np.ndarray, y: np.ndarray, state: dict
) -> dict:
    """``model.fit``'s data arguments: batches from a generator where faces are shifted, shown
    in one of two renderings (:func:`pick_renderings`) or mixed (on the ``uint8`` faces, then
    the one preprocessing path), else the arrays."""
    chances = cfg.shift_probabilities
    on_faces = max(chances.values()) > 0 or faces.ndim == 4
    if cfg.mix == "none" and not on_faces:
        return dict(x=x, y=y, batch_size=cfg.batch_size, shuffle=True)

    def prepare(batch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        batch = pick_renderings(batch, cfg.fer2013_pixels, rng)
        return to_model_input(apply_random_shifts(batch, chances, rng, cfg.roll_min))

    # seeded by the epoch it starts at, so a resumed run does not replay the same batches
    batches = mixed_batches(
        faces if on_faces else x,
        y,
        cfg.batch_size,
        cfg.mix,
        cfg.mix_alpha,
        cfg.mix_probability,
        cfg.seed + state["epoch"],
        prepare if on_faces else None,
    )
    return dict(x=batches)


def _fitter(model, cfg: TrainConfig, ckpt_dir: Path, state: dict, data: dict, val):
    """``fit(until)``: train from the state's epoch up to epoch ``until`` (if not there yet)."""

    def fit(until: int) -> None:
        if state["epoch"] < until:
            model.fit(
                **data,
                epochs=until,
                initial_epoch=state["epoch"],
                validation_data=val,
                validation_batch_size=256,
                callbacks=[_progress_callback(cfg, ckpt_dir, state)],
                verbose=0,
            )

    return fit


def _fit_to_time_budget(model, cfg: TrainConfig, steps: int, state: dict, fit) -> None:
    """Train a few timed epochs, then cut ``cfg.epochs`` to what fits in the time budget."""
    # The first epoch compiles (and so may runs started beside this one); the median of
    # the next ones times an epoch for the budget.
    probe = min(cfg.warmup_epochs + 3, cfg.epochs)
    fit(probe)
    per_epoch = float(
        np.median([h["seconds"] for h in state["history"][1:]] or [state["history"][-1]["seconds"]])
    )
    fits = probe + int(max(cfg.time_budget * 60 - state["train_seconds"], 0) // per_epoch)
    state["budgeted"] = True
    if fits < cfg.epochs:
        cfg.epochs = max(fits, probe)
        _replan(
            model,
            cfg,
            steps,
            state,
            f"--time-budget {cfg.time_budget:g} min set the run to {cfg.epochs} epochs "
            f"after epoch {probe} ({per_epoch:.2f} s/epoch); rerun with --epochs "
            f"{cfg.epochs} to repeat it",
        )


def _ship(cfg: TrainConfig, net, x: np.ndarray, ckpt_dir: Path, state: dict) -> dict | None:
    """Save the trained weights (no optimiser state) in a freshly built network, with clean
    batch-norm statistics unless turned off, and write its card where TensorFlow is. With a
    held-out slice, the weights are those of the epoch with the lowest held-out loss."""
    final = build(cfg.arch)
    final.set_weights(net.get_weights())
    if state.get("best_epoch") and (ckpt_dir / "best.weights.h5").exists():
        final.load_weights(ckpt_dir / "best.weights.h5")
        note = f"weights of epoch {state['best_epoch']}, the lowest held-out loss"
        state["notes"] = [n for n in state.get("notes", []) if not n.startswith("weights of")]
        state["notes"].append(note)
    if cfg.precise_bn:
        recalibrate_batch_norm(final, x)
        state.setdefault("notes", []).append(precise_bn_note(len(x)))
    _write_state(ckpt_dir, state)  # with any re-planned epoch count and the notes
    model_path = Path(cfg.out) / f"{cfg.arch}.keras"
    final.save(model_path)
    if _backend() != "tensorflow":
        _say(
            cfg,
            f"wrote {model_path}; write its card where TensorFlow is installed: "
            f"python -m fer card --arch {cfg.arch} --out {cfg.out}",
        )
        return None
    card = write_model_card(final, model_path, cfg, state, card_split(cfg))
    _say(cfg, f"wrote {model_path} and {_card_summary(model_path, card)}")
    return card


def _card_summary(model_path: Path, card: dict) -> str:
    return f"{model_path.with_suffix('.json')}: {accuracy_summary(card)}"


def write_card_from_checkpoint(
    arch: str,
    out: str,
    data: str | None = None,
    speed_seconds: float = 2.0,
    log=None,
    quantization: str = "auto",
) -> dict:
    """The card for ``<out>/<arch>.keras`` from the run's saved state (a model trained on
    another machine or backend); ``data`` overrides where the validation split is read."""
    import_tensorflow()
    import keras

    state_file = Path(out) / ".checkpoints" / arch / "state.json"
    if not state_file.exists():
        raise FileNotFoundError(f"{state_file} not found: the training run's state is needed")
    state = json.loads(state_file.read_text())
    config = {k: v for k, v in state["config"].items() if k in TrainConfig.__dataclass_fields__}
    cfg = TrainConfig(
        **{
            **config,
            "out": out,
            "data": data or config["data"],
            "speed_seconds": speed_seconds,
            "log": log,
            "quantization": quantization,
        }
    )
    val_split = card_split(cfg)
    model_path = Path(out) / f"{arch}.keras"
    model = keras.models.load_model(model_path, compile=False)
    card = write_model_card(model, model_path, cfg, state, val_split)
    _say(cfg, f"wrote {_card_summary(model_path, card)}")
    return card


def _config_dict(cfg: TrainConfig) -> dict:
    return {**{k: v for k, v in cfg.__dict__.items() if k != "log"}, "backend": _backend()}


def _targets_note(cfg: TrainConfig, split) -> str:
    if not split.is_ferplus:
        return "FER2013's label (one annotator), one-hot"
    note = (
        "FER+ vote distribution over the 7 emotions (contempt, unknown and NF votes dropped, "
        "the rest renormalised; faces mostly unknown or NF left out)"
    )
    if cfg.fer2013_weight > 0:
        note += f", mixed with FER2013's label of the same face at weight {cfg.fer2013_weight:g}"
    if cfg.fer2013_neutral:
        note += (
            "; FER2013's neutral faces learn neutral, its other faces FER+'s votes over the six "
            "emotions"
        )
    if cfg.fer2013_pixels > 0:
        note += (
            f"; each face shown as FER2013's copy of it with p={cfg.fer2013_pixels:g}, else as "
            "FER+'s PNG"
        )
    return note


def write_model_card(model, model_path: Path, cfg: TrainConfig, state: dict, val_split) -> dict:
    """Evaluate and time the trained model and write ``<name>.json`` beside it."""
    measured = measured_fields(
        model, model_path, val_split, cfg.arch, str(cfg.data), cfg.speed_seconds, cfg.quantization
    )
    card = {
        "name": cfg.arch,
        "architecture": cfg.arch,
        **measured,
        "augmentation": augmentation_recipe(cfg.erase_probability, cfg.geometry)
        + mixing_recipe(cfg.mix, cfg.mix_alpha, cfg.mix_probability)
        + shifts_recipe(cfg.shift_probability, cfg.roll_probability, cfg.roll_min),
        "training": {
            "data": str(cfg.data),
            "train_images": state.get("train_images"),
            "optimizer": (
                f"SGD, Nesterov momentum 0.9 (weight decay {cfg.weight_decay})"
                if cfg.optimizer == "sgd"
                else f"AdamW (weight decay {cfg.weight_decay})"
            ),
            "schedule": (
                f"{cfg.warmup_epochs} warm-up epoch(s) to {cfg.learning_rate}, then cosine "
                "decay to 1% of it"
            ),
            "targets": _targets_note(cfg, val_split),
            "validation": state.get("validation"),
            "init": f"{cfg.init} (member {cfg.member})" if cfg.init else None,
            "loss": f"cross-entropy, label smoothing {label_smoothing(cfg, val_split)}"
            + (
                f"; distilled from {Path(cfg.teacher).name} with weight {cfg.distill_alpha} on "
                f"the teacher at temperature {cfg.temperature:g}"
                if cfg.teacher
                else ""
            ),
            "batch_size": cfg.batch_size,
            "epochs": state["epoch"],
            "seed": cfg.seed,
            "wall_seconds": round(state["train_seconds"], 1),
            "machine": state.get("machine") or _machine(),
            "history": state["history"],
            "notes": state.get("notes", []),
            "command": train_command(cfg, state),
        },
    }
    model_path.with_suffix(".json").write_text(json.dumps(card, indent=1))
    return card
