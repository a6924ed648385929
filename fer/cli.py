"""``python -m fer``: predict, video, evaluate, train. Errors are one line on stderr, exit 2
(``video`` also exits 1 after a fault part-way, having written what was analysed)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .analyzer import get_analyzer
from .config import MIN_FACE, SMOOTHING, AnalysisConfig
from .errors import FerError, ModelNotFoundError
from .inputs import annotated_photo_path as _out_path
from .inputs import expand_images as _expand_paths
from .progress import ProgressBar as _ProgressBar
from .progress import add_progress_options

TRAINING_COMMANDS = {
    "train": "train a model on FER2013 and write it with its model card",
    "card": "write the model card of a model trained elsewhere (e.g. on a GPU with the JAX "
    "backend) from its run's state",
    "ensemble": "average trained models into one model, with its card",
    "precise-bn": "re-estimate a trained model's batch-norm statistics on the clean training "
    "images (and refresh its card)",
    "export": "write a model's serving file (.tflite) and refresh its card",
}
"""The commands that need TensorFlow (:mod:`fer.training.commands`); their options are only
built when one of them runs, so the serving commands never import the training package."""


def _add_analyzer_options(p) -> None:
    """The options of an Analyzer, shared by predict and video."""
    p.add_argument("--model", default=None, help="shallow (default), deep, or a .keras file")
    p.add_argument("--detector", default="auto", choices=["auto", "yunet", "haar"])
    _add_tta(p)
    p.add_argument("--min-face", type=int, default=MIN_FACE, help="smallest face side in pixels")


def _add_tta(p) -> None:
    group = p.add_mutually_exclusive_group()
    group.add_argument(
        "--tta",
        dest="tta",
        action="store_const",
        const="shift",
        default="off",
        help="test-time augmentation: average the mirrored face and 2-pixel "
        "shifts of both (10 views; about a point more accurate)",
    )
    group.add_argument(
        "--flip-tta",
        dest="tta",
        action="store_const",
        const="flip",
        help="cheaper test-time augmentation: average the mirrored face only",
    )


def _add_predict(sub) -> None:
    p = sub.add_parser("predict", help="find faces and their expressions in photos")
    p.add_argument("paths", nargs="+", metavar="PATH", help="image files or folders of images")
    _add_analyzer_options(p)
    p.add_argument("--json", action="store_true", help="print JSON instead of lines")
    p.add_argument(
        "--out", default=None, help="write annotated images: a file (one input) or a folder"
    )
    p.add_argument("--csv", default=None, help="write one row per face to this CSV file")
    p.add_argument(
        "--explain",
        default=None,
        metavar="DIR",
        help="write a Grad-CAM heatmap overlay of each face to DIR "
        "(<image stem>_face<i>_<label>.png)",
    )
    from .distributed import add_archive_options  # --ray, --resume (Ray itself loads on use)

    add_archive_options(p, video=False)
    p.set_defaults(func=_cmd_predict)


def _add_video(sub) -> None:
    p = sub.add_parser(
        "video",
        help="expressions over a video: one row per frame and face, "
        "stable face IDs, an annotated copy",
    )
    p.add_argument(
        "inputs",
        nargs="+",
        metavar="VIDEO",
        help="a video file (mp4, mov, avi, mkv, webm, ...); several, or folders of "
        "videos, give one CSV with a video column",
    )
    p.add_argument(
        "--every",
        type=int,
        default=None,
        metavar="N",
        help="analyse every N-th frame (default: about 5 frames per second of video)",
    )
    p.add_argument(
        "--out", default=None, metavar="FILE.mp4", help="write an annotated copy of the video (MP4)"
    )
    p.add_argument("--csv", default=None, help="write one row per analysed frame and face")
    p.add_argument(
        "--json",
        action="store_true",
        help="print the rows and per-face summaries as JSON instead of lines",
    )
    _add_analyzer_options(p)
    p.add_argument(
        "--no-smoothing",
        action="store_true",
        help="raw per-frame probabilities (default: smoothed over time)",
    )
    p.add_argument(
        "--smoothing",
        type=float,
        default=SMOOTHING,
        help=f"weight of the past in the smoothing, 0 to <1 (default {SMOOTHING})",
    )
    add_progress_options(p)
    from .distributed import add_archive_options

    add_archive_options(p, video=True)
    p.set_defaults(func=_cmd_video)


def _add_evaluate(sub) -> None:
    p = sub.add_parser("evaluate", help="accuracy, per-class metrics and confusion matrix")
    p.add_argument("--data", default=None, help="FER2013 root (Kaggle layout) or fer2013.csv")
    p.add_argument("--split", default="test", choices=["train", "test", "private"])
    p.add_argument("--model", default=None)
    _add_tta(p)
    p.add_argument("--limit", type=int, default=None, help="evaluate a fixed sample of N images")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_evaluate)


def build_parser(training: bool = False) -> argparse.ArgumentParser:
    """The CLI's parser; ``training`` adds the options of the TensorFlow commands (else they
    are listed by name and help only)."""
    parser = argparse.ArgumentParser(
        prog="python -m fer", description="Facial expression recognition"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    _add_predict(sub)
    _add_video(sub)
    _add_evaluate(sub)
    from .quality_commands import add_quality_commands  # robustness, calibrate (issue 11)

    add_quality_commands(sub, _add_tta)
    if training:
        from .training.commands import add_training_commands

        add_training_commands(sub, TRAINING_COMMANDS)
    else:
        for name, text in TRAINING_COMMANDS.items():
            sub.add_parser(name, help=text, add_help=False)
    return parser


def analysis_config(args) -> AnalysisConfig:
    """The configuration the analyzer options ask for."""
    smoothing = getattr(args, "smoothing", SMOOTHING)
    return AnalysisConfig(
        model=args.model,
        detector=args.detector,
        tta=args.tta,
        min_face=args.min_face,
        smoothing=0.0 if getattr(args, "no_smoothing", False) else smoothing,
    )


def _announced(analyzer):
    """``analyzer``, its fallback notice (if any) said on stderr."""
    if analyzer.notice:
        print(f"note: {analyzer.notice}", file=sys.stderr)
    return analyzer


def _cmd_predict(args) -> int:
    if args.ray is not None or args.resume:
        from .distributed import run_predict_command

        return run_predict_command(args, _ProgressBar)
    from .drawing import annotate
    from .image_io import load_image, save_image
    from .results import Results

    files = _expand_paths(args.paths)
    analyzer = None  # loaded at the first readable image: a bad file's error comes at once
    results, failures = [], 0
    for file in files:
        try:
            image = load_image(file)
            if analyzer is None:
                analyzer = _announced(get_analyzer(analysis_config(args)))
            faces = analyzer.analyze(image)
        except ModelNotFoundError:
            raise  # no model: one line for the whole command, not one per file
        except FerError as exc:
            failures += 1
            print(f"error: {exc}", file=sys.stderr)
            results.append({"image": str(file), "error": str(exc), "faces": []})
            continue
        results.append({"image": str(file), "faces": [f.to_dict() for f in faces]})
        if args.out:
            save_image(annotate(image, faces), _out_path(args.out, file, len(files)))
        if args.explain and faces:
            _write_explanations(analyzer, image, faces, file, Path(args.explain))
        if not args.json:
            if not faces:
                print(f"{file}: no face found")
            for i, face in enumerate(faces, start=1):
                x, y, w, h = face.box
                print(
                    f"{file}: face {i} at x={x} y={y} w={w} h={h}: {face.label} "
                    f"{100 * face.confidence:.1f}%"
                )
    if args.json:
        print(json.dumps(results, indent=1))
    if args.csv:
        Results.from_images(results).to_csv(args.csv)
    return 1 if failures else 0


def _write_explanations(analyzer, image, faces, file: Path, folder: Path) -> None:
    """Grad-CAM overlays, one PNG per face, named ``<stem>_face<i>_<label>.png``."""
    import cv2

    from .explain import explain_analysis
    from .image_io import save_image

    folder.mkdir(parents=True, exist_ok=True)
    for i, (face, (_, overlay)) in enumerate(
        zip(faces, explain_analysis(analyzer, image, faces)), start=1
    ):
        side = min(overlay.shape[:2])
        if side < 160:  # small faces: enlarge so the map can be read
            factor = -(-160 // side)
            overlay = cv2.resize(
                overlay, None, fx=factor, fy=factor, interpolation=cv2.INTER_NEAREST
            )
        save_image(overlay, folder / f"{file.stem}_face{i}_{face.label}.png")


def _cmd_video(args) -> int:
    from .video import analyze_video, probe_video

    config = analysis_config(args)  # checks --smoothing
    if args.every is not None and args.every < 1:
        raise FerError(f"--every must be a positive number of frames, not {args.every}")
    if (
        args.ray is not None
        or args.resume
        or args.out_dir
        or len(args.inputs) > 1
        or Path(args.inputs[0]).is_dir()
    ):
        from .distributed import run_video_command

        return run_video_command(args, _ProgressBar)
    source = _video_source(args)
    info = probe_video(source)  # a file that is not a video fails here, before the model loads
    every = info.every(args.every)
    analyzer = _announced(get_analyzer(config))
    show_bar = sys.stderr.isatty() if args.progress is None else args.progress
    bar = _ProgressBar(every=every) if show_bar else None
    try:
        result = _interruptible(
            lambda cancelled: analyze_video(
                source,
                analyzer,
                every=every,
                smoothing=config.smoothing,
                out_path=args.out,
                progress=bar,
                should_cancel=cancelled,
            )
        )
    finally:
        if bar is not None:
            bar.finish()
    _report_video(result, args, bar)
    if result.error:
        print(
            f"error: {result.error} (kept the {len(result.rows)} rows analysed before)",
            file=sys.stderr,
        )
        return 1
    if result.cancelled:
        print(f"interrupted: kept the {len(result.rows)} rows analysed before", file=sys.stderr)
        return 130
    return 0


def _video_source(args) -> Path:
    """The one input video, checked along with ``--out`` before anything is decoded."""
    source = Path(args.inputs[0])
    if not source.exists():
        raise FerError(f"{source} does not exist")
    if args.out:
        out = Path(args.out)
        if out.suffix.lower() not in {".mp4", ".m4v", ".mov"}:
            raise FerError(f"--out {out} must name an .mp4 file (the annotated video is MP4)")
        if out.exists() and out.resolve() == source.resolve():
            raise FerError(f"--out {out} would overwrite the input video")
    return source


def _interruptible(work):
    """``work(cancelled)`` where the first Ctrl-C makes ``cancelled()`` true (the analysis
    stops and keeps what it has) and a second one stops at once."""
    import signal

    interrupted = []

    def on_interrupt(signum, frame):
        if interrupted:
            raise KeyboardInterrupt
        interrupted.append(signum)

    try:
        previous = signal.signal(signal.SIGINT, on_interrupt)
    except ValueError:  # not the main thread
        previous = None
    try:
        return work(lambda: bool(interrupted))
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)


def _report_video(result, args, bar) -> None:
    """The CSV, and the JSON or the per-face summary lines on stdout."""
    from .results import Results
    from .video import result_to_json

    if args.csv:
        Results.from_video(result).to_csv(args.csv)
    if args.json:
        print(result_to_json(result))
        return
    for line in result.summary_lines():
        print(line)
    if bar is not None:
        print(
            f"analysed {result.frames_analyzed} frames in {result.elapsed_s:.1f} s "
            f"({result.analysed_fps:.1f} analysed frames/s)",
            file=sys.stderr,
        )


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
    probs = classifier.predict_batched(
        to_model_input(split.images, classifier.input_size), tta=args.tta
    )
    report = classification_report(split.labels, probs.argmax(1))
    report = {"model": info.name, "split": args.split, "tta": args.tta, **report}
    if args.json:
        print(json.dumps(report, indent=1))
    else:
        tta = f" with {args.tta} TTA" if args.tta != "off" else ""
        print(f"model {info.name}, split {args.split}{tta}")
        print(format_report(report))
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(training=bool(argv) and argv[0] in TRAINING_COMMANDS)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except FerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
