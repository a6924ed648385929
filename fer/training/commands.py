"""The CLI commands that need TensorFlow: ``train``, ``card``, ``ensemble``, ``precise-bn`` and
``export``. :func:`fer.cli.main` builds them only when one of them runs."""

from __future__ import annotations

from pathlib import Path

from ..errors import FerError
from .architectures import ARCHITECTURES
from .export import QUANTIZATIONS
from .mixing import MIX_MODES


def add_training_commands(sub, helps: dict[str, str]) -> None:
    """Add each command's parser to ``sub`` (``helps``: the one-line help of each)."""
    for name, add in (("train", _add_train), ("card", _add_card), ("ensemble", _add_ensemble),
                      ("precise-bn", _add_precise_bn), ("export", _add_export)):
        add(sub.add_parser(name, help=helps[name]))


def _add_data(p) -> None:
    p.add_argument("--data", default=None, help="FER2013 root (Kaggle layout) or fer2013.csv "
                   "(default: $FER2013_DIR or ../shared/datasets/fer2013)")


def _add_quantize(p) -> None:
    p.add_argument("--quantize", dest="quantization", default="auto",
                   choices=("auto", *QUANTIZATIONS),
                   help="form of the serving file: auto (default) keeps the fastest quantized "
                        "form within 0.3 points of float accuracy on the validation split")


def _add_train(p) -> None:
    p.add_argument("--arch", required=True, choices=ARCHITECTURES)
    _add_data(p)
    p.add_argument("--out", default="models")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument("--optimizer", default="adamw", choices=["adamw", "sgd"],
                   help="AdamW, or SGD with Nesterov momentum 0.9")
    p.add_argument("--erase-prob", type=float, default=0.5, help="random-erasing probability")
    p.add_argument("--geometry", type=float, default=0.1,
                   help="largest random shift and zoom, as a fraction of the side")
    p.add_argument("--mix", default="none", choices=MIX_MODES,
                   help="blend pairs of training faces and their labels (mixup, CutMix or both)")
    p.add_argument("--mix-alpha", type=float, default=0.4, help="Beta(a, a) of the mixing weight")
    p.add_argument("--mix-prob", type=float, default=0.5, help="share of batches that are mixed")
    p.add_argument("--teacher", default=None, metavar="MODEL.keras",
                   help="distil from this trained model as well as from the labels")
    p.add_argument("--distill-alpha", type=float, default=0.5,
                   help="weight of the teacher's soft targets in the loss (0-1)")
    p.add_argument("--temperature", type=float, default=2.0, help="distillation temperature")
    p.add_argument("--time-budget", type=float, default=None, metavar="MINUTES",
                   help="fewer epochs than --epochs if the timed second epoch says they will "
                        "not fit in MINUTES (the card records the count)")
    p.add_argument("--limit", type=int, default=None, help="use only N training images")
    p.add_argument("--val-limit", type=int, default=None, help="use only N validation images")
    p.add_argument("--resume", action="store_true", help="continue from the last checkpoint")
    p.add_argument("--no-precise-bn", dest="precise_bn", action="store_false",
                   help="keep the batch-norm statistics of the augmented training batches "
                        "(default: re-estimate them on the clean training images at the end)")
    p.add_argument("--checkpoint-every", type=int, default=1, metavar="N",
                   help="save the resumable checkpoint every N epochs (default 1)")
    _add_quantize(p)
    p.set_defaults(func=_cmd_train)


def _cmd_train(args) -> int:
    from ..dataset import fer2013_dir
    from .trainer import TrainConfig, train

    if args.teacher and not Path(args.teacher).is_file():
        raise FerError(f"teacher model {args.teacher} not found")
    cfg = TrainConfig(arch=args.arch, data=str(args.data or fer2013_dir()), out=args.out,
                      epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.lr,
                      weight_decay=args.weight_decay, optimizer=args.optimizer,
                      seed=args.seed, erase_probability=args.erase_prob, geometry=args.geometry,
                      mix=args.mix, mix_alpha=args.mix_alpha, mix_probability=args.mix_prob,
                      teacher=args.teacher,
                      distill_alpha=args.distill_alpha, temperature=args.temperature,
                      time_budget=args.time_budget, limit=args.limit, val_limit=args.val_limit,
                      resume=args.resume, checkpoint_every=args.checkpoint_every,
                      precise_bn=args.precise_bn, quantization=args.quantization)
    train(cfg)
    return 0


def _add_card(p) -> None:
    p.add_argument("--arch", required=True, choices=ARCHITECTURES)
    p.add_argument("--out", default="models", help="folder with <arch>.keras and .checkpoints/")
    _add_data(p)
    _add_quantize(p)
    p.set_defaults(func=_cmd_card)


def _cmd_card(args) -> int:
    from ..dataset import fer2013_dir
    from .trainer import write_card_from_checkpoint

    try:
        write_card_from_checkpoint(args.arch, args.out, str(args.data or fer2013_dir()),
                                   quantization=args.quantization)
    except FileNotFoundError as exc:
        raise FerError(str(exc)) from None
    return 0


def _add_ensemble(p) -> None:
    p.add_argument("members", nargs="+", metavar="MODEL.keras",
                   help="two or more trained models (their .json cards are kept in the new card)")
    p.add_argument("--name", required=True, help="the new model's name, e.g. deep")
    p.add_argument("--out", default="models", help="folder to write <name>.keras and .json to")
    _add_data(p)
    _add_quantize(p)
    p.set_defaults(func=_cmd_ensemble)


def _cmd_ensemble(args) -> int:
    from ..dataset import fer2013_dir
    from .ensemble import write_ensemble
    from .model_card import accuracy_summary

    missing = [m for m in args.members if not Path(m).is_file()]
    if missing:
        raise FerError(f"model file(s) not found: {', '.join(missing)}")
    if len(args.members) < 2:
        raise FerError("an ensemble needs two or more models")
    try:
        card = write_ensemble(args.members, args.out, args.name, args.data or fer2013_dir(),
                              quantization=args.quantization)
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
    from ..dataset import fer2013_dir
    from .batchnorm import recalibrate_model_file
    from .model_card import accuracy_summary

    if not Path(args.model).is_file():
        raise FerError(f"model file {args.model} not found")
    try:
        card = recalibrate_model_file(args.model, args.data or fer2013_dir(), args.out,
                                      quantization=args.quantization)
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
    from ..dataset import fer2013_dir
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
    card = refresh_card(model, path, str(args.data or fer2013_dir()),
                        quantization=args.quantization)
    serving = path.with_suffix(".tflite")
    if card:
        print(f"wrote {serving} ({card['serving']['quantization']}) and "
              f"{path.with_suffix('.json')}: {accuracy_summary(card)}")
    else:
        print(f"wrote {serving} (float; {path} has no card to refresh)")
    return 0
