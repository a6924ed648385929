"""The training options, written once: :class:`TrainConfig`'s fields carry their command-line
flag, help and choices, from which ``python -m fer train``'s options (:func:`add_options`), the
config of a parsed command line (:func:`config_from_args`) and the command that repeats a run
(:func:`train_command`) are made."""

from __future__ import annotations

import argparse
import dataclasses
import typing
from dataclasses import dataclass, field
from typing import Any

from ..quality.dataset import DATA_HELP
from .architectures import ARCHITECTURES
from .export import QUANTIZATIONS
from .mixing import MIX_MODES
from .shifts import shift_chances


def _option(
    default: Any = dataclasses.MISSING,
    flag: str | None = None,
    *,
    recipe: str | None = None,
    cli_default: Any = dataclasses.MISSING,
    **argparse_kwargs,
) -> Any:
    """A field that is also the command-line option ``flag`` (``argparse_kwargs``: its help,
    choices, metavar). ``recipe``: how :func:`train_command` writes it: ``"always"``,
    ``"changed"`` (when not the default), or the name of the field it is written with.
    ``cli_default``: the option's default where it differs from the field's."""
    meta = {"flag": flag, "recipe": recipe, "argparse": argparse_kwargs}
    if cli_default is not dataclasses.MISSING:
        meta["cli_default"] = cli_default
    return field(default=default, metadata=meta)


QUANTIZE_HELP = (
    "form of the serving file: auto (default) keeps the quantized form fastest at batch 1 "
    "within 0.3 points of float accuracy on the validation split"
)


@dataclass
class TrainConfig:
    """One training run. The fields with a flag are ``python -m fer train``'s options, in the
    order ``--help`` lists them."""

    arch: str = _option(flag="--arch", recipe="always", choices=ARCHITECTURES)
    data: str = _option(flag="--data", recipe="always", cli_default=None, help=DATA_HELP)
    out: str = _option("models", "--out", recipe="always")
    epochs: int = _option(30, "--epochs", recipe="always")
    batch_size: int = _option(128, "--batch-size")
    learning_rate: float = _option(2e-3, "--lr", recipe="changed")
    seed: int = _option(1234, "--seed", recipe="changed")
    weight_decay: float = _option(0.01, "--weight-decay", recipe="changed")
    optimizer: str = _option(
        "adamw",
        "--optimizer",
        recipe="changed",
        choices=["adamw", "sgd"],
        help="AdamW, or SGD with Nesterov momentum 0.9",
    )
    erase_probability: float = _option(
        0.5, "--erase-prob", recipe="always", help="random-erasing probability"
    )
    geometry: float = _option(
        0.1,
        "--geometry",
        recipe="changed",
        help="largest random shift and zoom, as a fraction of the side",
    )
    mix: str = _option(
        "none",
        "--mix",
        recipe="changed",
        choices=MIX_MODES,
        help="blend pairs of training faces and their labels (mixup, CutMix or both)",
    )
    mix_alpha: float = _option(
        0.4, "--mix-alpha", recipe="mix", help="Beta(a, a) of the mixing weight"
    )
    mix_probability: float = _option(
        0.5, "--mix-prob", recipe="mix", help="share of batches that are mixed"
    )
    teacher: str | None = _option(
        None,
        "--teacher",
        recipe="changed",
        metavar="MODEL.keras",
        help="distil from this trained model as well as from the labels",
    )
    distill_alpha: float = _option(
        0.5,
        "--distill-alpha",
        recipe="teacher",
        help="weight of the teacher's soft targets in the loss (0-1)",
    )
    temperature: float = _option(
        2.0, "--temperature", recipe="teacher", help="distillation temperature"
    )
    init: str | None = _option(
        None,
        "--init",
        recipe="changed",
        metavar="MODEL.keras",
        help="start from this trained model's weights (of an ensemble: its --member)",
    )
    member: int = _option(
        1, "--member", recipe="init", metavar="N", help="the ensemble member --init starts from"
    )
    holdout: float = _option(
        0.1,
        "--holdout",
        recipe="changed",
        help="FER+ data: the share of FER2013Train held out (a fixed slice, stratified by "
        "label) to pick the best epoch and fit the temperature on; FER2013 data validates on "
        "PublicTest",
    )
    fer2013_weight: float = _option(
        0.0,
        "--fer2013-weight",
        recipe="changed",
        metavar="W",
        help="FER+ data: mix each face's FER2013 label into its vote distribution with weight "
        "W (the faces are matched in --fer2013-data)",
    )
    fer2013_neutral: bool = _option(
        False,
        "--fer2013-neutral",
        recipe="changed",
        help="FER+ data: keep FER2013's neutral-or-not call of each matched face (a face FER2013 "
        "calls neutral learns neutral; one it calls an emotion learns FER+'s votes over the six "
        "emotions), so the votes rank the emotions without making faces neutral more often",
    )
    fer2013_pixels: float = _option(
        0.0,
        "--fer2013-pixels",
        recipe="changed",
        metavar="P",
        help="FER+ data: show each matched face as FER2013's copy of it with probability P "
        "(FER+'s PNGs are a lower-contrast rendering of the same faces; training on them alone "
        "shifts the model away from ordinary photos)",
    )
    fer2013_data: str | None = _option(
        None,
        "--fer2013-data",
        recipe="uses_fer2013",
        metavar="DIR",
        help="FER2013 (Kaggle layout or csv) for --fer2013-weight and --fer2013-pixels "
        "(default: $FER2013_DIR)",
    )
    shift_probability: float = _option(
        0.0,
        "--shift-prob",
        recipe="changed",
        metavar="P",
        help="apply each real-world shift (roll, downscale, blur, low contrast, gamma, JPEG) "
        "with probability P",
    )
    roll_probability: float | None = _option(
        None,
        "--roll-prob",
        recipe="changed",
        metavar="P",
        help="apply the roll (up to 30 degrees) with probability P instead of --shift-prob's "
        "(the robustness suite's worst shift once the others are trained on)",
    )
    roll_min: float = _option(
        0.0,
        "--roll-min",
        recipe="changed",
        metavar="DEG",
        help="draw the roll's size uniformly in DEG-30 degrees, either way (default 0: uniform "
        "in +-30), so that the large rolls the robustness suite tests come up more often",
    )
    # minutes; shortens `epochs` after the first timed epoch (the command records the epochs)
    time_budget: float | None = _option(
        None,
        "--time-budget",
        metavar="MINUTES",
        help="fewer epochs than --epochs if the timed second epoch says they will not fit in "
        "MINUTES (the card records the count)",
    )
    limit: int | None = _option(None, "--limit", help="use only N training images")
    val_limit: int | None = _option(None, "--val-limit", help="use only N validation images")
    resume: bool = _option(False, "--resume", help="continue from the last checkpoint")
    precise_bn: bool = _option(
        True,
        "--no-precise-bn",
        recipe="changed",
        help="keep the batch-norm statistics of the augmented training "
        "batches (default: re-estimate them on the clean training "
        "images at the end)",
    )
    # epochs; on a GPU an epoch takes ~1 s and a deep save ~0.3 s
    checkpoint_every: int = _option(
        1,
        "--checkpoint-every",
        metavar="N",
        help="save the resumable checkpoint every N epochs (default 1)",
    )
    quantization: str = _option(
        "auto", "--quantize", choices=("auto", *QUANTIZATIONS), help=QUANTIZE_HELP
    )  # the serving file's form (fer.training.export)
    label_smoothing: float = 0.1  # on one-hot FER2013 labels; vote distributions get none
    warmup_epochs: int = 1
    speed_seconds: float = 2.0
    log: object = field(default=None, repr=False)  # a text stream; None: sys.stdout

    @property
    def shift_probabilities(self) -> dict[str, float]:
        """Each real-world shift's probability (:data:`fer.training.shifts.SHIFT_SAMPLERS`)."""
        return shift_chances(self.shift_probability, self.roll_probability)

    @property
    def reads_fer2013(self) -> bool:
        """Whether an option takes FER2013's copy of the faces (its labels or its pixels)."""
        return self.fer2013_weight > 0 or self.fer2013_pixels > 0 or self.fer2013_neutral


RECIPE_ORDER = (
    "arch",
    "data",
    "out",
    "epochs",
    "erase_probability",
    "geometry",
    "mix",
    "mix_alpha",
    "mix_probability",
    "optimizer",
    "learning_rate",
    "weight_decay",
    "precise_bn",
    "seed",
    "teacher",
    "distill_alpha",
    "temperature",
    "init",
    "member",
    "holdout",
    "fer2013_weight",
    "fer2013_neutral",
    "fer2013_pixels",
    "fer2013_data",
    "shift_probability",
    "roll_probability",
    "roll_min",
)
"""The fields :func:`train_command` writes, in the order the shipped cards' commands have them
(the others, such as ``--resume`` or ``--time-budget``, steer a run but do not define it)."""


def option_fields() -> list[dataclasses.Field]:
    """The fields that are command-line options, in ``--help`` order."""
    return [f for f in dataclasses.fields(TrainConfig) if f.metadata.get("flag")]


def _field(name: str) -> dataclasses.Field:
    return TrainConfig.__dataclass_fields__[name]


def _value_type(f: dataclasses.Field) -> type:
    """The field's type without ``| None`` (``int | None`` -> int)."""
    hint = typing.get_type_hints(TrainConfig)[f.name]
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    return args[0] if args else hint


def add_option(p: argparse.ArgumentParser, name: str) -> None:
    """Add the option of the field ``name`` to ``p``: its flag, type, default and help; a
    field without a default is a required option, a bool one a switch (``--no-x`` for one
    that is on by default)."""
    f = _field(name)
    kwargs = dict(f.metadata["argparse"], dest=f.name)
    default = f.metadata.get("cli_default", f.default)
    kind = _value_type(f)
    if kind is bool:
        kwargs["action"] = "store_false" if default else "store_true"
    elif default is dataclasses.MISSING:
        kwargs["required"] = True
    else:
        kwargs["default"] = default
        if kind is not str:
            kwargs["type"] = kind
        if "choices" not in kwargs:  # what argparse would call it without dest=
            kwargs.setdefault("metavar", f.metadata["flag"][2:].replace("-", "_").upper())
    p.add_argument(f.metadata["flag"], **kwargs)


def add_options(p: argparse.ArgumentParser) -> None:
    """All of ``python -m fer train``'s options."""
    for f in option_fields():
        add_option(p, f.name)


def config_from_args(args: argparse.Namespace, **overrides) -> TrainConfig:
    """The config of a parsed ``python -m fer train`` command line (``overrides`` win)."""
    return TrainConfig(**{**{f.name: getattr(args, f.name) for f in option_fields()}, **overrides})


def _is_set(f: dataclasses.Field, value: Any) -> bool:
    """Not the default (an empty value counts as unset where the default is None)."""
    return value != f.default and not (f.default is None and not value)


def _shown(cfg: TrainConfig, f: dataclasses.Field) -> bool:
    recipe = f.metadata["recipe"]
    if recipe == "always":
        return True
    if recipe == "changed":
        return _is_set(f, getattr(cfg, f.name))
    if recipe == "uses_fer2013":  # --fer2013-data, where an option reads FER2013's copy
        return cfg.reads_fer2013 and getattr(cfg, f.name) is not None
    # written with the field it belongs to, where it has a value
    return _shown(cfg, _field(recipe)) and getattr(cfg, f.name) is not None


def _rendered(cfg: TrainConfig, f: dataclasses.Field) -> str:
    flag, value, kind = f.metadata["flag"], getattr(cfg, f.name), _value_type(f)
    if kind is bool:
        return flag
    return f"{flag} {value:g}" if kind is float else f"{flag} {value}"


def train_command(cfg: TrainConfig, state: dict) -> str:
    """The command line that repeats this run (the backend it ran on, and the final epochs)."""
    backend = state.get("config", {}).get("backend", "tensorflow")
    parts = [f"KERAS_BACKEND={backend}"] if backend != "tensorflow" else []
    parts.append("python -m fer train")
    parts += [_rendered(cfg, _field(name)) for name in RECIPE_ORDER if _shown(cfg, _field(name))]
    return " ".join(parts)
