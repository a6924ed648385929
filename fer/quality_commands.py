"""``python -m fer robustness`` and ``python -m fer calibrate``: serving-side measurements of a
shipped model (the LiteRT runtime only, no TensorFlow), optionally stored in its card."""

from __future__ import annotations

import json
import shlex

from .errors import FerError

FIT_LIMIT = 5000
PUBLIC_TEST = "FER2013 PublicTest"


def add_quality_commands(sub, add_tta) -> None:
    """Add both commands to the CLI's subparsers (``add_tta``: the CLI's TTA options)."""
    p = sub.add_parser(
        "robustness",
        help="accuracy on PublicTest clean and under rotation, "
        "framing, lighting, blur, JPEG and low resolution",
    )
    p.add_argument("--model", default=None)
    p.add_argument("--data", default=None, help="FER2013 root (Kaggle layout) or fer2013.csv")
    p.add_argument("--limit", type=int, default=None, help="a fixed sample of N test images")
    add_tta(p)
    p.add_argument("--json", action="store_true")
    p.add_argument(
        "--write-card",
        action="store_true",
        help="store the result in the model's card (the whole split only)",
    )
    p.set_defaults(func=cmd_robustness)

    p = sub.add_parser(
        "calibrate",
        help="fit a temperature per TTA mode on training images and "
        "report the expected calibration error on PublicTest",
    )
    p.add_argument("--model", default=None)
    p.add_argument("--data", default=None, help="FER2013 root (Kaggle layout) or fer2013.csv")
    p.add_argument(
        "--fit-split",
        default="train",
        choices=["train", "private"],
        help="images the temperature is fitted on (private: PrivateTest, "
        "fer2013.csv only); never PublicTest",
    )
    p.add_argument(
        "--fit-limit",
        type=int,
        default=FIT_LIMIT,
        help=f"a seeded, class-stratified sample of N of them (default {FIT_LIMIT})",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true")
    p.add_argument(
        "--write-card",
        action="store_true",
        help="store the temperatures and the ECE figures in the model's card",
    )
    p.set_defaults(func=cmd_calibrate)


def _command(args, name: str, extra: list[str]) -> str:
    parts = ["python -m fer", name]
    if args.model:
        parts += ["--model", shlex.quote(args.model)]
    if args.data:
        parts += ["--data", shlex.quote(args.data)]
    return " ".join(parts + extra)


def cmd_robustness(args) -> int:
    from .dataset import fer2013_dir, load_split
    from .models import load_model
    from .robustness import evaluate_robustness, format_robustness

    if args.write_card and args.limit:
        raise FerError("--write-card stores the whole split's figures: drop --limit")
    split = load_split(args.data or str(fer2013_dir()), "test")
    if args.limit:
        split = split.subset(args.limit)
    info, classifier = load_model(args.model)
    result = evaluate_robustness(classifier, split.images, split.labels, tta=args.tta)
    extra = {"flip": ["--flip-tta"], "shift": ["--tta"]}.get(args.tta, [])
    result = {
        "split": PUBLIC_TEST,
        **result,
        "command": _command(args, "robustness", extra + ["--write-card"]),
    }
    if args.json:
        print(json.dumps({"model": info.name, **result}, indent=1))
    else:
        print(format_robustness(result, info.name))
    if args.write_card:
        from .cardfile import merge_into_card

        stored = dict(info.card.get("robustness") or {})
        stored[args.tta] = result
        path = merge_into_card(info.path.with_suffix(".json"), {"robustness": stored})
        print(f"wrote robustness[{args.tta!r}] into {path}")
    return 0


def trained_on(card: dict) -> int | None:
    """How many training images the model (every member of an ensemble) was trained on."""
    counts = [card.get("training", {}).get("train_images")]
    counts += [m.get("training", {}).get("train_images") for m in card.get("members") or []]
    counts = [c for c in counts if isinstance(c, int)]
    return max(counts) if counts else None


def cmd_calibrate(args) -> int:
    from .calibration import calibrate, calibration_subset
    from .dataset import fer2013_dir, load_split
    from .models import load_model

    data = args.data or str(fer2013_dir())
    fit = load_split(data, args.fit_split)
    test = load_split(data, "test")
    idx = calibration_subset(fit.labels, args.fit_limit, seed=args.seed)
    info, classifier = load_model(args.model)
    results = calibrate(classifier, fit.images[idx], fit.labels[idx], test.images, test.labels)
    n_trained = trained_on(info.card)
    seen = args.fit_split == "train" and (n_trained is None or n_trained >= len(fit))
    fitted_on = _fitted_on(args, len(idx), seen, n_trained, len(fit))
    entry = _calibration_entry(args, results, fitted_on, seen)
    if args.json:
        print(json.dumps({"model": info.name, **entry}, indent=1))
    else:
        _print_calibration(info.name, entry, results, len(test))
    if args.write_card:
        from .cardfile import merge_into_card

        path = merge_into_card(info.path.with_suffix(".json"), {"calibration": entry})
        print(f"wrote calibration into {path}")
    return 0


def _fitted_on(args, n_fit: int, seen: bool, n_trained: int | None, split_size: int) -> str:
    """Which images the temperature was fitted on, and whether the model saw them."""
    split_name = {"train": "Training", "private": "PrivateTest"}[args.fit_split]
    text = f"{n_fit:,} FER2013 {split_name} images (class-stratified sample, seed {args.seed})"
    if not seen:
        return text
    if n_trained:
        return text + (
            f"; the model was trained on all {n_trained:,} Training images, so "
            "these are not held out"
        )
    return text + (
        "; the card does not say which images the model was trained on, so they "
        "are taken as not held out"
    )


def _calibration_entry(args, results: dict, fitted_on: str, seen: bool) -> dict:
    """The card's ``calibration``: T per TTA mode (1 where the fit images were not held out),
    ECE before and after, the reliability diagram and the command."""
    from .calibration import ECE_BINS

    applied = {m: (1.0 if seen else r["temperature"]) for m, r in results.items()}
    off = results["off"]
    entry = {
        "method": "temperature scaling (NLL) of the runtime's probabilities, one T per TTA "
        "mode, applied after the views are averaged (fer.calibration)",
        "fitted_on": fitted_on,
        "held_out": not seen,
        "applied": not seen,
        "temperature": applied["off"],
        "temperature_by_tta": applied,
        "ece_split": PUBLIC_TEST,
        "ece_bins": ECE_BINS,
        "ece_before": off["ece_before"],
        "ece_after": off["ece_after"],
        "ece_shown": off["ece_after"] if not seen else off["ece_before"],
        "by_tta": {
            m: {k: v for k, v in r.items() if not k.startswith("reliability")}
            for m, r in results.items()
        },
        "reliability": {
            "uncalibrated": off["reliability_before"],
            "fitted T": off["reliability_after"],
        },
        "command": _command(
            args,
            "calibrate",
            ([f"--fit-split {args.fit_split}"] if args.fit_split != "train" else [])
            + ["--write-card"],
        ),
    }
    if seen:
        entry["note"] = (
            "A temperature fitted on images the model was trained on measures how it fits "
            "them, not unseen faces, so it is recorded ('by_tta') but not applied (T = 1). "
            f"Here it is {off['temperature']:.2f} for one view, which would move the "
            f"PublicTest ECE from {100 * off['ece_before']:.1f} % to "
            f"{100 * off['ece_after']:.1f} %. A model trained with part of the training split "
            "held out, or fitted on PrivateTest (--fit-split private with fer2013.csv), gets "
            "its temperature applied."
        )
    return entry


def _print_calibration(name: str, entry: dict, results: dict, n_test: int) -> None:
    from .calibration import ECE_BINS

    print(
        f"model {name}: temperature fitted on {entry['fitted_on']}; ECE on {PUBLIC_TEST} "
        f"({n_test:,} images, {ECE_BINS} bins)"
    )
    print(
        f"{'TTA':<7}{'T fitted':>9}{'ECE before':>12}{'ECE after':>11}{'NLL before':>12}"
        f"{'NLL after':>11}{'T applied':>11}"
    )
    for mode, r in results.items():
        print(
            f"{mode:<7}{r['temperature']:>9.3f}{100 * r['ece_before']:>11.1f}%"
            f"{100 * r['ece_after']:>10.1f}%{r['nll_before']:>12.3f}{r['nll_after']:>11.3f}"
            f"{entry['temperature_by_tta'][mode]:>11.3f}"
        )
    if "note" in entry:
        print("note: " + entry["note"])
