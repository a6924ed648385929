"""``python -m fer``: predict, evaluate, train, video. Errors are one line on stderr, exit 2."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from .errors import FerError


def _add_train(sub) -> None:
    p = sub.add_parser("train", help="train a model on FER2013 and write it with its model card")
    p.add_argument("--arch", required=True, choices=["shallow", "deep"])
    p.add_argument("--data", default=None, help="FER2013 root (Kaggle layout) or fer2013.csv "
                   "(default: $FER2013_DIR or ../shared/datasets/fer2013)")
    p.add_argument("--out", default="models")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--erase-prob", type=float, default=0.5, help="random-erasing probability")
    p.add_argument("--limit", type=int, default=None, help="use only N training images")
    p.add_argument("--val-limit", type=int, default=None, help="use only N validation images")
    p.add_argument("--resume", action="store_true", help="continue from the last checkpoint")
    p.set_defaults(func=_cmd_train)


def _cmd_train(args) -> int:
    from .dataset import fer2013_dir
    from .training import TrainConfig, train

    cfg = TrainConfig(arch=args.arch, data=str(args.data or fer2013_dir()), out=args.out,
                      epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.lr,
                      seed=args.seed, erase_probability=args.erase_prob, limit=args.limit, val_limit=args.val_limit,
                      resume=args.resume)
    train(cfg)
    return 0


def _add_predict(sub) -> None:
    p = sub.add_parser("predict", help="find faces and their expressions in photos")
    p.add_argument("paths", nargs="+", metavar="PATH", help="image files or folders of images")
    p.add_argument("--model", default=None, help="shallow (default), deep, or a .keras file")
    p.add_argument("--detector", default="auto", choices=["auto", "yunet", "haar"])
    p.add_argument("--tta", action="store_true", help="average with the mirrored face")
    p.add_argument("--min-face", type=int, default=40, help="smallest face side in pixels")
    p.add_argument("--json", action="store_true", help="print JSON instead of lines")
    p.add_argument("--out", default=None, help="write annotated images: a file (one input) or a folder")
    p.add_argument("--csv", default=None, help="write one row per face to this CSV file")
    p.set_defaults(func=_cmd_predict)


def _add_evaluate(sub) -> None:
    p = sub.add_parser("evaluate", help="accuracy, per-class metrics and confusion matrix")
    p.add_argument("--data", default=None, help="FER2013 root (Kaggle layout) or fer2013.csv")
    p.add_argument("--split", default="test", choices=["train", "test", "private"])
    p.add_argument("--model", default=None)
    p.add_argument("--tta", action="store_true")
    p.add_argument("--limit", type=int, default=None, help="evaluate a fixed sample of N images")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_evaluate)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m fer", description="Facial expression recognition")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_predict(sub)
    _add_evaluate(sub)
    _add_train(sub)
    return parser


def _expand_paths(paths: list[str]) -> list[Path]:
    from .image_io import list_images

    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = list_images(path)
            if not found:
                raise FerError(f"{path} holds no images ({', '.join(IMAGE_HINT)})")
            files.extend(found)
        elif path.exists():
            files.append(path)
        else:
            raise FerError(f"{path} does not exist")
    return files


IMAGE_HINT = (".jpg", ".png", ".webp", ".bmp", ".tiff")


def _out_path(out: str, image: Path, n_inputs: int) -> Path:
    target = Path(out)
    if n_inputs == 1 and target.suffix.lower() in {".jpg", ".jpeg", ".png", ".webp", ".bmp"}:
        target.parent.mkdir(parents=True, exist_ok=True)
        return target
    target.mkdir(parents=True, exist_ok=True)
    return target / f"{image.stem}_annotated.png"


def _cmd_predict(args) -> int:
    from .analyzer import Analyzer
    from .drawing import annotate
    from .exports import results_to_rows, write_csv
    from .image_io import load_image, save_image

    files = _expand_paths(args.paths)
    analyzer = Analyzer(model=args.model, detector=args.detector, tta=args.tta,
                        min_face=args.min_face)
    if analyzer.notice:
        print(f"note: {analyzer.notice}", file=sys.stderr)
    results, failures = [], 0
    for file in files:
        try:
            image = load_image(file)
            faces = analyzer.analyze(image)
        except FerError as exc:
            failures += 1
            print(f"error: {exc}", file=sys.stderr)
            results.append({"image": str(file), "error": str(exc), "faces": []})
            continue
        results.append({"image": str(file), "faces": [f.to_dict() for f in faces]})
        if args.out:
            save_image(annotate(image, faces), _out_path(args.out, file, len(files)))
        if not args.json:
            if not faces:
                print(f"{file}: no face found")
            for i, face in enumerate(faces, start=1):
                x, y, w, h = face.box
                print(f"{file}: face {i} at x={x} y={y} w={w} h={h}: {face.label} "
                      f"{100 * face.confidence:.1f}%")
    if args.json:
        print(json.dumps(results, indent=1))
    if args.csv:
        write_csv(results_to_rows(results), args.csv)
    return 1 if failures else 0


def _cmd_evaluate(args) -> int:
    from .dataset import fer2013_dir, load_split
    from .evaluation import classification_report, format_report
    from .models import load_model
    from .preprocessing import to_model_input

    data = args.data or str(fer2013_dir())
    split = load_split(data, args.split)
    if args.limit:
        split = split.subset(args.limit)
    info, classifier = load_model(args.model)
    probs = classifier.predict_batched(to_model_input(split.images, classifier.input_size), tta=args.tta)
    report = classification_report(split.labels, probs.argmax(1))
    report = {"model": info.name, "split": args.split, "tta": args.tta, **report}
    if args.json:
        print(json.dumps(report, indent=1))
    else:
        print(f"model {info.name}, split {args.split}{' with flip TTA' if args.tta else ''}")
        print(format_report(report))
    return 0


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except FerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
