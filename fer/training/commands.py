"""The CLI commands that need TensorFlow: ``train``, ``card``, ``ensemble``, ``precise-bn``,
``export`` and ``interpolate``. :func:`fer.cli.main` builds them only when one of them runs."""

from __future__ import annotations

from pathlib import Path

from ..errors import FerError
from .config import add_option, add_options, config_from_args


def add_training_commands(sub, helps: dict[str, str]) -> None:
    """Add each command's parser to ``sub`` (``helps``: the one-line help of each)."""
    for name, add in (
        ("train", _add_train),
        ("card", _add_card),
        ("ensemble", _add_ensemble),
        ("precise-bn", _add_precise_bn),
        ("export", _add_export),
        ("interpolate", _add_interpolate),
    ):
        add(sub.add_parser(name, help=helps[name]))


def _require_model_files(paths: list[str]) -> None:
    missing = [m for m in paths if not Path(m).is_file()]
    if missing:
        raise FerError(f"model file(s) not found: {', '.join(missing)}")


def _add_data(p) -> None:
    add_option(p, "data")


def _add_quantize(p) -> None:
    add_option(p, "quantization")


def _add_train(p) -> None:
    add_options(p)  # one option per TrainConfig field with a flag
    p.set_defaults(func=_cmd_train)


def _cmd_train(args) -> int:
    from ..quality.dataset import fer2013_dir
    from .trainer import train

    if args.teacher and not Path(args.teacher).is_file():
        raise FerError(f"teacher model {args.teacher} not found")
    cfg = config_from_args(args, data=str(args.data or fer2013_dir()))
    if cfg.roll_min > 0 and not cfg.shift_probabilities.get("roll"):
        raise FerError("--roll-min sizes the roll, which is off: give --roll-prob or --shift-prob")
    train(cfg)
    return 0


def _add_card(p) -> None:
    add_option(p, "arch")
    p.add_argument("--out", default="models", help="folder with <arch>.keras and .checkpoints/")
    _add_data(p)
    _add_quantize(p)
    p.set_defaults(func=_cmd_card)


def _cmd_card(args) -> int:
    from ..quality.dataset import fer2013_dir
    from .trainer import write_card_from_checkpoint

    try:
        write_card_from_checkpoint(
            args.arch, args.out, str(args.data or fer2013_dir()), quantization=args.quantization
        )
    except FileNotFoundError as exc:
        raise FerError(str(exc)) from None
    return 0


def _add_ensemble(p) -> None:
    p.add_argument(
        "members",
        nargs="+",
        metavar="MODEL.keras",
        help="two or more trained models (their .json cards are kept in the new card)",
    )
    p.add_argument("--name", required=True, help="the new model's name, e.g. deep")
    p.add_argument("--out", default="models", help="folder to write <name>.keras and .json to")
    _add_data(p)
    _add_quantize(p)
    p.set_defaults(func=_cmd_ensemble)


def _cmd_ensemble(args) -> int:
    from ..quality.dataset import fer2013_dir
    from .ensemble import write_ensemble
    from .model_card import accuracy_summary

    _require_model_files(args.members)
    if len(args.members) < 2:
        raise FerError("an ensemble needs two or more models")
    try:
        card = write_ensemble(
            args.members,
            args.out,
            args.name,
            args.data or fer2013_dir(),
            quantization=args.quantization,
        )
    except (ValueError, OSError) as exc:  # not a Keras model, or members that do not fit
        raise FerError(f"cannot build the ensemble: {exc}") from None
    print(f"wrote {Path(args.out) / args.name}.keras: {accuracy_summary(card)}")
    return 0


def _add_precise_bn(p) -> None:
    p.add_argument("model", metavar="MODEL.keras")
    p.add_argument("--out", default=None, help="write here instead of over MODEL.keras")
    _add_data(p)
    _add_quantize(p)
    p.set_defaults(func=_cmd_precise_bn)


def _cmd_precise_bn(args) -> int:
    from ..quality.dataset import fer2013_dir
    from .batchnorm import recalibrate_model_file
    from .model_card import accuracy_summary

    if not Path(args.model).is_file():
        raise FerError(f"model file {args.model} not found")
    try:
        card = recalibrate_model_file(
            args.model, args.data or fer2013_dir(), args.out, quantization=args.quantization
        )
    except (ValueError, OSError) as exc:
        raise FerError(f"cannot recalibrate {args.model}: {exc}") from None
    where = args.out or args.model
    if card:
        print(f"wrote {where}: {accuracy_summary(card)}")
    else:
        print(f"wrote {where} (it has no card to refresh)")
    return 0


def _add_export(p) -> None:
    p.add_argument("model", metavar="MODEL.keras")
    _add_data(p)
    _add_quantize(p)
    p.set_defaults(func=_cmd_export)


def _cmd_export(args) -> int:
    from ..quality.dataset import fer2013_dir
    from .model_card import accuracy_summary, refresh_card
    from .tf_runtime import import_tensorflow

    path = Path(args.model)
    if not path.is_file():
        raise FerError(f"model file {path} not found")
    import_tensorflow()
    import keras

    try:
        model = keras.models.load_model(path, compile=False)
    except (ValueError, OSError) as exc:
        raise FerError(f"{path} is not a Keras model ({exc})") from None
    card = refresh_card(
        model, path, str(args.data or fer2013_dir()), quantization=args.quantization
    )
    serving = path.with_suffix(".tflite")
    if card:
        print(
            f"wrote {serving} ({card['serving']['quantization']}) and "
            f"{path.with_suffix('.json')}: {accuracy_summary(card)}"
        )
    else:
        print(f"wrote {serving} (float; {path} has no card to refresh)")
    return 0


def _add_interpolate(p) -> None:
    p.add_argument("base", metavar="BASE.keras", help="the model the fine-tune started from")
    p.add_argument("tuned", metavar="TUNED.keras", help="its fine-tune (its card is kept)")
    p.add_argument(
        "--alpha",
        type=float,
        default=0.5,
        help="how far from BASE towards TUNED: 0 is BASE, 1 is TUNED (default 0.5)",
    )
    p.add_argument("--name", required=True, help="the new model's name, e.g. shallow")
    p.add_argument("--out", default="models", help="folder to write <name>.keras and .json to")
    _add_data(p)
    _add_quantize(p)
    p.set_defaults(func=_cmd_interpolate)


def _cmd_interpolate(args) -> int:
    from ..quality.dataset import fer2013_dir
    from .interpolation import write_interpolation
    from .model_card import accuracy_summary

    _require_model_files([args.base, args.tuned])
    if not 0.0 <= args.alpha <= 1.0:
        raise FerError(f"--alpha must be between 0 and 1, not {args.alpha:g}")
    try:
        card = write_interpolation(
            args.base,
            args.tuned,
            args.alpha,
            args.out,
            args.name,
            args.data or fer2013_dir(),
            quantization=args.quantization,
        )
    except (ValueError, OSError) as exc:  # not a Keras model, or two different architectures
        raise FerError(f"cannot interpolate: {exc}") from None
    print(f"wrote {Path(args.out) / args.name}.keras: {accuracy_summary(card)}")
    return 0
