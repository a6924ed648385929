"""``python -m fer evaluate``, ``robustness``, ``calibrate`` and ``balance``: serving-side measurements of a
shipped model (the LiteRT runtime only, no TensorFlow) on FER2013 or FER+, optionally stored in its
card. On FER+ data accuracy is against the majority of ten votes (:mod:`fer.quality.ferplus`)."""

from __future__ import annotations

import json
import shlex

from ..errors import FerError
from .dataset import DATA_HELP, SPLIT_CHOICES

FIT_LIMIT = 5000


def add_quality_commands(sub, add_tta) -> None:
    """Add the commands to the CLI's subparsers (``add_tta``: the CLI's TTA options)."""
    p = sub.add_parser("evaluate", help="accuracy, per-class metrics and confusion matrix")
    p.add_argument("--split", default="test", choices=SPLIT_CHOICES)
    _add_measurement_options(p, add_tta, "the accuracy, with this command", cmd_evaluate)
    robustness_help = (
        "accuracy on PublicTest clean and under rotation, framing, lighting, blur, JPEG and "
        "low resolution"
    )
    p = sub.add_parser("robustness", help=robustness_help)
    _add_measurement_options(p, add_tta, "the result", cmd_robustness)

    p = sub.add_parser(
        "calibrate",
        help="fit a temperature per TTA mode on training images and "
        "report the expected calibration error on PublicTest",
    )
    p.add_argument("--model", default=None)
    p.add_argument("--data", default=None, help=DATA_HELP)
    p.add_argument(
        "--fit-split",
        default=None,
        choices=["train", "holdout", "private"],
        help="images the temperature is fitted on (holdout: the FER+ runs' held-out slice of "
        "FER2013Train, the default for FER+ data; private: PrivateTest); never PublicTest",
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

    p = sub.add_parser(
        "balance",
        help="divide each emotion's probability by the model's prior on FER+'s held-out faces "
        "(the balanced operating point) and report what it does",
    )
    p.add_argument("--model", default=None)
    p.add_argument("--data", default=None, help="the FER+ folder (its held-out slice is used)")
    p.add_argument(
        "--tau",
        type=float,
        default=1.0,
        help="power of the prior divided by (1: equally likely emotions; 0: remove the "
        "correction from the card)",
    )
    p.add_argument("--json", action="store_true")
    p.add_argument("--write-card", action="store_true", help="store it in the model's card")
    p.set_defaults(func=cmd_balance)


def _add_measurement_options(p, add_tta, stored: str, func) -> None:
    """The options ``evaluate`` and ``robustness`` share (``stored``: what --write-card keeps),
    and the command's function."""
    p.set_defaults(func=func)
    p.add_argument("--model", default=None)
    p.add_argument("--data", default=None, help=DATA_HELP)
    p.add_argument("--limit", type=int, default=None, help="a fixed sample of N test images")
    add_tta(p)
    p.add_argument("--json", action="store_true")
    p.add_argument(
        "--write-card",
        action="store_true",
        help=f"store {stored} in the model's card (the whole split only)",
    )


def _command(args, name: str, extra: list[str]) -> str:
    parts = ["python -m fer", name]
    if args.model:
        parts += ["--model", shlex.quote(args.model)]
    if args.data:
        parts += ["--data", shlex.quote(args.data)]
    return " ".join(parts + extra)


def _split(args, name: str = "test"):
    """``(the split's scored faces, its name)`` from ``--data`` and ``--limit``."""
    from .dataset import fer2013_dir, load_split, split_name

    split = load_split(args.data or str(fer2013_dir()), name)
    if getattr(args, "limit", None):
        split = split.subset(args.limit)
    return split, split_name(split, name)


def cmd_evaluate(args) -> int:
    from ..serving.models import load_model
    from ..vision.preprocessing import to_model_input
    from .evaluation import classification_report, format_report
    from .ferplus import majority_report

    if args.write_card and args.limit:
        raise FerError("--write-card stores the whole split's figures: drop --limit")
    split, name = _split(args, args.split)
    info, classifier = load_model(args.model)
    probs = classifier.predict_batched(
        to_model_input(split.images, classifier.input_size), tta=args.tta
    )
    report = classification_report(split.scored().labels, probs[split.scored_mask()].argmax(1))
    report = {"model": info.name, "split": name, "tta": args.tta, **report}
    if split.is_ferplus:
        report["ferplus"] = majority_report(probs, split.votes)
    if args.json:
        print(json.dumps(report, indent=1))
        return 0
    tta = f" with {args.tta} TTA" if args.tta != "off" else ""
    print(f"model {info.name}, {name}{tta}")
    if split.is_ferplus:
        fp = report["ferplus"]
        print(
            f"FER+ majority accuracy {fp['majority_accuracy']:.4f} on the {fp['majority_n']} "
            f"of {fp['n']} faces with a strict majority of the 10 votes; the predicted "
            f"emotion got at least one vote on {fp['voted_share']:.1%} of the faces"
        )
    print(format_report(report))
    if args.write_card:
        _store_evaluation(args, info, name, report)
    return 0


def evaluation_entry(args, name: str, report: dict) -> dict:
    """One figure of the card's ``evaluations``: the split, the TTA, the accuracy (FER+: against
    the ten-vote majority) and the command that measures it again."""
    extra = ["--split", args.split] if args.split != "test" else []
    extra += {"flip": ["--flip-tta"], "shift": ["--tta", "shift"]}.get(args.tta, [])
    entry = {"split": name, "tta": args.tta, "accuracy": report["accuracy"]}
    if "ferplus" in report:
        fp = report["ferplus"]
        entry.update(
            accuracy=fp["majority_accuracy"],
            scored=f"FER+ majority of 10 votes ({fp['majority_n']} of {fp['n']} faces)",
            voted_share=fp["voted_share"],
        )
    return {**entry, "command": _command(args, "evaluate", extra)}


def _store_evaluation(args, info, name: str, report: dict) -> None:
    from .cardfile import merge_into_card

    entry = evaluation_entry(args, name, report)
    kept = [
        e
        for e in info.card.get("evaluations") or []
        if (e.get("split"), e.get("tta")) != (entry["split"], entry["tta"])
    ]
    path = merge_into_card(info.path.with_suffix(".json"), {"evaluations": kept + [entry]})
    print(f"wrote evaluations[{name}, tta {args.tta}] into {path}")


def cmd_robustness(args) -> int:
    from ..serving.models import load_model
    from .robustness import evaluate_robustness, format_robustness

    if args.write_card and args.limit:
        raise FerError("--write-card stores the whole split's figures: drop --limit")
    split, name = _split(args)
    split = split.scored()
    info, classifier = load_model(args.model)
    result = evaluate_robustness(classifier, split.images, split.labels, tta=args.tta)
    extra = {"flip": ["--flip-tta"], "shift": ["--tta"]}.get(args.tta, [])
    result = {
        "split": name,
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


def trained_with_holdout(card: dict) -> bool:
    """Whether the model (every member of an ensemble) was trained with FER+'s fixed slice
    of FER2013Train held out."""
    runs = [m.get("training", {}) for m in card.get("members") or []] or [card.get("training", {})]
    return all(str(r.get("validation", "")).startswith("FER+ Train hold-out") for r in runs)


def _fit_split(args, data: str):
    """The images the temperature is fitted on: ``(split, name)``."""
    from .dataset import ferplus_holdout, load_split

    test = load_split(data, "test")
    choice = args.fit_split or ("holdout" if test.is_ferplus else "train")
    if choice == "holdout":
        if not test.is_ferplus:
            raise FerError("--fit-split holdout needs FER+ data (--data FERPLUS_DIR)")
        return ferplus_holdout(data)[1].scored(), choice, test.scored()
    fit = load_split(data, choice)
    return fit.scored(), choice, test.scored()


def cmd_calibrate(args) -> int:
    from ..serving.models import load_model
    from .calibration import calibrate, calibration_subset
    from .dataset import fer2013_dir, split_name

    data = args.data or str(fer2013_dir())
    fit, args.fit_split, test = _fit_split(args, data)
    idx = calibration_subset(fit.labels, args.fit_limit, seed=args.seed)
    info, classifier = load_model(args.model)
    prior = getattr(classifier, "prior", None)
    results = calibrate(
        classifier, fit.images[idx], fit.labels[idx], test.images, test.labels, prior=prior
    )
    n_trained = trained_on(info.card)
    if args.fit_split == "holdout":
        seen = not trained_with_holdout(info.card)
    else:
        seen = args.fit_split == "train" and (n_trained is None or n_trained >= len(fit))
    fitted_on = _fitted_on(args, len(idx), seen, n_trained, len(fit))
    entry = _calibration_entry(args, results, fitted_on, seen)
    entry["ece_split"] = split_name(test, "test")
    if test.is_ferplus:
        entry["fer2013_publictest"] = _fer2013_ece(classifier, entry["temperature"], prior)
    if prior:
        entry["prior_correction_applied"] = True  # the "after" figures are as served
    if args.json:
        print(json.dumps({"model": info.name, **entry}, indent=1))
    else:
        _print_calibration(info.name, entry, results, len(test))
    if args.write_card:
        from .cardfile import merge_into_card

        path = merge_into_card(info.path.with_suffix(".json"), {"calibration": entry})
        print(f"wrote calibration into {path}")
    return 0


def cmd_balance(args) -> int:
    from ..serving.models import load_model
    from .balance import balance_entry, format_balance
    from .cardfile import merge_into_card
    from .dataset import fer2013_dir, load_split

    if not 0 <= args.tau <= 4:
        raise FerError(f"--tau must be between 0 and 4, not {args.tau:g}")
    data = args.data or str(fer2013_dir())
    if not load_split(data, "test").is_ferplus:
        raise FerError("balance needs FER+ data (--data FERPLUS_DIR): its held-out slice")
    info, classifier = load_model(args.model)
    if args.tau == 0:
        if args.write_card:
            path = merge_into_card(info.path.with_suffix(".json"), {"prior_correction": None})
            print(f"removed the prior correction from {path}")
        return 0
    entry = balance_entry(classifier, data, args.tau, trained_with_holdout(info.card))
    entry["command"] = _command(args, "balance", [f"--tau {args.tau:g}", "--write-card"])
    if args.json:
        print(json.dumps({"model": info.name, **entry}, indent=1))
    else:
        print(format_balance(info.name, entry))
    if args.write_card:
        path = merge_into_card(info.path.with_suffix(".json"), {"prior_correction": entry})
        print(f"wrote prior_correction into {path}")
    return 0


def _fitted_on(args, n_fit: int, seen: bool, n_trained: int | None, split_size: int) -> str:
    """Which images the temperature was fitted on, and whether the model saw them."""
    split_name = {
        "train": "FER2013 Training",
        "private": "FER2013 PrivateTest",
        "holdout": "FER+ Train hold-out (the training runs' fixed 10 % slice; strict-majority)",
    }[args.fit_split]
    text = f"{n_fit:,} {split_name} images (class-stratified sample, seed {args.seed})"
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
        "mode, applied after the views are averaged (fer.serving.temperature)",
        "fitted_on": fitted_on,
        "held_out": not seen,
        "applied": not seen,
        "temperature": applied["off"],
        "temperature_by_tta": applied,
        "ece_split": "FER2013 PublicTest",
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
        f"model {name}: temperature fitted on {entry['fitted_on']}; ECE on "
        f"{entry['ece_split']} ({n_test:,} images, {ECE_BINS} bins)"
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
    if entry.get("fer2013_publictest"):
        e = entry["fer2013_publictest"]
        print(
            f"ECE on FER2013 PublicTest (its own labels), one view: "
            f"{100 * e['ece_before']:.1f}% before, {100 * e['ece_after']:.1f}% with T applied"
        )
    if "note" in entry:
        print("note: " + entry["note"])


def _fer2013_ece(classifier, temperature: float, prior: tuple | None = None) -> dict | None:
    """ECE on FER2013 PublicTest with its own labels, one view, before and after ``T`` (and
    the card's prior correction, where it has one), where FER2013 is found (``$FER2013_DIR``)."""
    from ..errors import DatasetError
    from ..serving.temperature import serve, uncalibrated
    from ..vision.preprocessing import to_model_input
    from .calibration import expected_calibration_error
    from .dataset import fer2013_dir, load_split

    try:
        split = load_split(str(fer2013_dir()), "test")
    except DatasetError:
        return None
    base = uncalibrated(classifier)
    probs = base.predict_batched(to_model_input(split.images, base.input_size))
    after = serve(probs, temperature, prior)
    return {
        "ece_before": round(expected_calibration_error(probs, split.labels), 4),
        "ece_after": round(expected_calibration_error(after, split.labels), 4),
    }
