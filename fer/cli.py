"""``python -m fer``: predict, video, evaluate, train. Errors are one line on stderr, exit 2
(``video`` also exits 1 after a fault part-way, having written what was analysed)."""

from __future__ import annotations

import argparse
import json
import sys
from contextlib import contextmanager
from functools import partial
from pathlib import Path

from .config import (
    DEFAULT_DETECTOR,
    MIN_FACE,
    PHOTO_BATCH,
    SEGMENT_SECONDS,
    SMOOTHING,
    AnalysisConfig,
)
from .errors import FerError
from .jobs.inputs import expand_images, expand_videos
from .output.progress import ProgressBar, add_progress_options, wants_progress
from .serving.analyzer import get_analyzer
from .vision.detection import DETECTOR_CHOICES

TRAINING_COMMANDS = {
    "train": "train a model on FER2013 and write it with its model card",
    "card": "write the model card of a model trained elsewhere (e.g. on a GPU with the JAX "
    "backend) from its run's state",
    "ensemble": "average trained models into one model, with its card",
    "precise-bn": "re-estimate a trained model's batch-norm statistics on the clean training "
    "images (and refresh its card)",
    "export": "write a model's serving file (.tflite) and refresh its card",
    "interpolate": "mix a model's weights with its fine-tune's (WiSE-FT), with its card",
}
"""The commands that need TensorFlow (:mod:`fer.training.commands`); their options are only
built when one of them runs, so the serving commands never import the training package."""


def _add_analyzer_options(p) -> None:
    """The options of an Analyzer, shared by predict and video."""
    p.add_argument("--model", default=None, help="shallow (default), deep, or a .keras file")
    p.add_argument("--detector", default=DEFAULT_DETECTOR, choices=DETECTOR_CHOICES)
    p.add_argument(
        "--retry-download",
        action="store_true",
        help="try the YuNet download now, even if one failed less than a day ago",
    )
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
    _add_archive_options(p, video=False)
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
    _add_archive_options(p, video=True)
    p.set_defaults(func=_cmd_video)


def _add_archive_options(p, video: bool) -> None:
    """--ray, --resume (and for videos --segment-seconds, --out-dir; for photos --batch-size
    and the progress-bar switches the video command already has)."""
    p.add_argument(
        "--ray",
        nargs="?",
        const="auto",
        default=None,
        metavar="auto|ADDRESS",
        help="run on Ray (pip install -r requirements-ray.txt): auto starts a local "
        "instance, an address (host:port) joins a running cluster",
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="keep the inputs an earlier run with the same --csv finished and analyse the rest",
    )
    if video:
        p.add_argument(
            "--segment-seconds",
            type=float,
            default=SEGMENT_SECONDS,
            metavar="S",
            help="with --ray, split videos longer than S seconds into "
            f"segments analysed in parallel (default {SEGMENT_SECONDS:g})",
        )
        p.add_argument(
            "--out-dir",
            default=None,
            metavar="DIR",
            help="write each video's annotated copy to DIR/<name>_annotated.mp4",
        )
    else:
        p.add_argument(
            "--batch-size",
            type=int,
            default=PHOTO_BATCH,
            metavar="N",
            help=f"with --ray, photos per task (default {PHOTO_BATCH})",
        )
        add_progress_options(p)


def build_parser(training: bool = False) -> argparse.ArgumentParser:
    """The CLI's parser; ``training`` adds the options of the TensorFlow commands (else they
    are listed by name and help only)."""
    parser = argparse.ArgumentParser(
        prog="python -m fer", description="Facial expression recognition"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    _add_predict(sub)
    _add_video(sub)
    from .quality.commands import add_quality_commands  # evaluate, robustness, calibrate

    add_quality_commands(sub, _add_tta)
    if training:
        from .training.commands import add_training_commands

        add_training_commands(sub, TRAINING_COMMANDS)
    else:
        for name, text in TRAINING_COMMANDS.items():
            sub.add_parser(name, help=text, add_help=False)
    return parser


def analysis_config(args) -> AnalysisConfig:
    """The configuration the analyzer options ask for (``--retry-download`` takes effect here)."""
    if getattr(args, "retry_download", False):
        from .vision.yunet_file import forget_download_failure

        forget_download_failure()
    smoothing = getattr(args, "smoothing", SMOOTHING)
    return AnalysisConfig(
        model=args.model,
        detector=args.detector,
        tta=args.tta,
        min_face=args.min_face,
        smoothing=0.0 if getattr(args, "no_smoothing", False) else smoothing,
        every=getattr(args, "every", None),
    )


def _announced(analyzer):
    """``analyzer``, its fallback notice (if any) said on stderr."""
    if analyzer.notice:
        print(f"note: {analyzer.notice}", file=sys.stderr)
    return analyzer


class _FirstUse:
    """The analyzer, loaded when the first readable photo needs it: a bad file's error comes
    at once, and without a model the command says so once, not once per file."""

    def __init__(self, config: AnalysisConfig):
        self.config, self.loaded = config, None

    def get(self):
        if self.loaded is None:
            self.loaded = _announced(get_analyzer(self.config))
        return self.loaded

    def analyze(self, image):
        return self.get().analyze(image)


def _cmd_predict(args) -> int:
    if args.ray is not None or args.resume:
        return _predict_archive(args)
    from .jobs.photo import analyze_photo
    from .output.results import Results

    files = expand_images(args.paths)
    analyzer = _FirstUse(analysis_config(args))
    show = _PhotoPrinter(args.json)
    results = []
    for file in files:
        photo = analyze_photo(analyzer, file)
        if photo.error is None and args.out:
            photo.write_annotated(args.out, len(files))
        if photo.faces and args.explain:
            _write_explanations(analyzer.get(), photo, Path(args.explain))
        results.append(photo.to_dict())
        show(results[-1])
    show.close()
    if args.csv:
        Results.from_images(results).to_csv(args.csv)
    return 1 if show.failures else 0


def _predict_archive(args) -> int:
    """``predict ... --ray`` (or ``--resume``): the rows, lines and JSON of the single-process
    command, from :func:`fer.archive.predict_images`."""
    from .archive import RunOptions, predict_images

    if args.explain:
        raise FerError("--explain needs TensorFlow and runs in one process: leave out --ray")
    options = RunOptions(address=args.ray, resume=args.resume, batch_size=args.batch_size)
    job = partial(
        predict_images, args.paths, args.csv, analysis_config(args), options, out=args.out
    )
    run = _archive_run(args, "photos", job, _PhotoPrinter(args.json))
    _ray_line(run, "photos", args.ray)
    return 1 if run.failed else 0


class _JsonList:
    """Items printed as one JSON list (as ``json.dumps(items, indent=1)``), one at a time."""

    def __init__(self):
        self.first = True

    def add(self, item: dict) -> None:
        text = "\n".join(" " + line for line in json.dumps(item, indent=1).splitlines())
        sys.stdout.write(("[\n" if self.first else ",\n") + text)
        self.first = False

    def close(self) -> None:
        sys.stdout.write("[]\n" if self.first else "\n]\n")


class _PhotoPrinter:
    """What ``predict`` shows of each photo's result (its JSON form): an item of the JSON list
    (``--json``) or a line per face; errors go to stderr as they come."""

    def __init__(self, as_json: bool):
        self.listing = _JsonList() if as_json else None
        self.failures = 0

    def __call__(self, result: dict) -> None:
        if result.get("kept"):  # from the earlier output of a resumed run
            if self.listing:
                self.listing.add({"image": result["image"], "kept": True})
            return
        if result.get("error"):
            self.failures += 1
            print(f"error: {result['error']}", file=sys.stderr)
        if self.listing:
            self.listing.add(result)
        elif not result.get("error"):
            if not result["faces"]:
                print(f"{result['image']}: no face found")
            for i, face in enumerate(result["faces"], start=1):
                x, y, w, h = face["box"]
                print(
                    f"{result['image']}: face {i} at x={x} y={y} w={w} h={h}: "
                    f"{face['label']} {100 * face['confidence']:.1f}%"
                )

    def close(self) -> None:
        if self.listing:
            self.listing.close()


@contextmanager
def _progress_bar(args, unit: str, every: int = 1):
    """The progress bar the switches ask for (or None), finished after."""
    bar = ProgressBar(every=every, unit=unit) if wants_progress(args) else None
    try:
        yield bar
    finally:
        if bar is not None:
            bar.finish()


def _archive_run(args, unit: str, job, show):
    """``job(progress=, emit=, notice=)`` (an archive run) with the progress bar the switches
    ask for, each input's result shown by ``show``; returns the run's summary."""
    with _progress_bar(args, unit) as bar:
        run = job(progress=bar, emit=show, notice=_note)
    show.close()
    return run


def _note(text: str) -> None:
    print(f"note: {text}", file=sys.stderr)


def _ray_line(run, unit: str, address: str | None) -> None:
    """``ray: 8 photos in 3.1 s (2.6/s) on 2 workers, 1 node`` on stderr (runs on Ray only)."""
    if address is None:
        return
    nodes = len(run.nodes)
    print(
        f"ray: {run.units} {unit} in {run.elapsed_s:.1f} s "
        f"({run.units / run.elapsed_s if run.elapsed_s > 0 else 0:.1f}/s) on {run.workers} "
        f"worker{'s' * (run.workers != 1)}, {nodes} node{'s' * (nodes != 1)}",
        file=sys.stderr,
    )


def _write_explanations(analyzer, photo, folder: Path) -> None:
    """Grad-CAM overlays, one PNG per face, named ``<stem>_face<i>_<label>.png``."""
    import cv2

    from .output.explain import explain_analysis
    from .vision.image_io import save_image

    folder.mkdir(parents=True, exist_ok=True)
    for i, (face, (_, overlay)) in enumerate(
        zip(photo.faces, explain_analysis(analyzer, photo.image, photo.faces)), start=1
    ):
        side = min(overlay.shape[:2])
        if side < 160:  # small faces: enlarge so the map can be read
            factor = -(-160 // side)
            overlay = cv2.resize(
                overlay, None, fx=factor, fy=factor, interpolation=cv2.INTER_NEAREST
            )
        save_image(overlay, folder / f"{Path(photo.name).stem}_face{i}_{face.label}.png")


def _cmd_video(args) -> int:
    from .jobs.video import analyze_video
    from .jobs.video_io import probe_video
    from .output.results import Results

    config = analysis_config(args)  # checks --smoothing and --every
    if (
        args.ray is not None
        or args.resume
        or args.out_dir
        or len(args.inputs) > 1
        or Path(args.inputs[0]).is_dir()
    ):
        return _video_archive(args, config)
    source = _video_source(args)
    info = probe_video(source)  # a file that is not a video fails here, before the model loads
    analyzer = _announced(get_analyzer(config))
    with _progress_bar(args, "frames", every=info.every(config.every)) as bar:
        result = _interruptible(
            lambda cancelled: analyze_video(
                source, analyzer, config.every, config.smoothing, args.out, bar, cancelled
            )
        )
    if args.csv:
        Results.from_video(result).to_csv(args.csv)
    if bar is not None and not args.json:
        print(
            f"analysed {result.frames_analyzed} frames in {result.elapsed_s:.1f} s "
            f"({result.analysed_fps:.1f} analysed frames/s)",
            file=sys.stderr,
        )
    show = _VideoPrinter(args, single=True)
    show(source.name, result)
    if show.failures:
        return 1
    if result.cancelled:
        print(f"interrupted: kept the {len(result.rows)} rows analysed before", file=sys.stderr)
        return 130
    return 0


def _video_archive(args, config: AnalysisConfig) -> int:
    """``video FILES_OR_DIR...`` with ``--ray``, ``--resume``, ``--out-dir`` or several videos:
    each video's rows as the single-file command gives them, from
    :func:`fer.archive.analyze_videos`."""
    from .archive import RunOptions, analyze_videos

    if args.out:
        raise FerError(
            "--out names one annotated video; with --ray or several videos use --out-dir DIR"
        )
    if args.segment_seconds is not None and args.segment_seconds <= 0:
        raise FerError(f"--segment-seconds must be positive, not {args.segment_seconds}")
    files = expand_videos(args.inputs)
    segments = args.segment_seconds if args.ray else None
    options = RunOptions(address=args.ray, resume=args.resume, segment_seconds=segments)
    show = _VideoPrinter(args, single=len(files) == 1)
    job = partial(analyze_videos, files, args.csv, config, options, out_dir=args.out_dir)
    run = _archive_run(args, "videos", job, show)
    _ray_line(run, "videos" if run.units == run.inputs - run.kept else "segments", args.ray)
    return 1 if show.failures else 0


class _VideoPrinter:
    """What ``video`` shows of each video: its JSON (an item of the list with several videos)
    or its summary lines; errors go to stderr."""

    def __init__(self, args, single: bool):
        self.args, self.single = args, single
        self.listing = _JsonList() if args.json and not single else None
        self.failures = 0

    def __call__(self, name: str, result) -> None:
        from .jobs.video import result_to_json

        if isinstance(result, dict):  # kept from the earlier output of a resumed run
            if self.listing:
                self.listing.add({"video": name, "kept": True})
            elif not self.args.json:
                print(f"{name}: kept from {self.args.csv}")
            return
        if self.listing:
            self.listing.add({**result.to_dict(), "video": name})
        elif self.args.json:
            print(result_to_json(result))
        else:
            for line in result.summary_lines():
                print(line)
        if result.error:
            self.failures += 1
            where = f"{result.error} (kept the {len(result.rows)} rows analysed before)"
            print(f"error: {where if self.single else f'{name}: {result.error}'}", file=sys.stderr)

    def close(self) -> None:
        if self.listing:
            self.listing.close()


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
