"""Archives past one machine: photo folders and videos analysed on a Ray cluster.

``python -m fer predict DIR --ray [auto|ADDRESS]`` and ``python -m fer video FILES_OR_DIR --ray``
run :func:`predict_images` and :func:`analyze_videos`; a notebook can call them as they are.
``address``: ``"auto"`` starts a local Ray instance, ``"host:port"`` joins a running cluster
(``ray start --head`` elsewhere); ``None`` runs everything in this process (no Ray at all).
Ray is imported only here, and only when a run asks for it.

How the work is split:
- photos go in batches to actors (:class:`PhotoWorker`), one per worker CPU, each loading the
  model once; a killed actor is restarted by Ray and its batch retried;
- videos go one per task; a video longer than ``segment_seconds`` is split into time segments.
  Each segment task first runs the tracker over :data:`WARMUP_ANALYSED` analysed frames before
  its start (frames the previous segment owns) without emitting rows, so smoothing and the
  tracker's state match a run from the start; the faces it tracked there are matched, by frame
  and box, to the previous segment's rows, so a face keeps one ID across the cut.

Results come back to the driver as each batch or segment finishes and go straight into a
SQLite file beside the output (``OUT.fer-parts.sqlite``): the driver never holds the archive's
rows. At the end the rows are written in input order to a temporary file that replaces the
output in one step, and the SQLite file is removed. ``resume=True`` keeps the inputs that an
earlier run finished: those in that SQLite file (a run that stopped part-way) and those in the
output (a finished run over an archive that has grown since).
"""

from __future__ import annotations

import csv
import json
import os
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import MIN_FACE, SMOOTHING, AnalysisConfig
from .errors import FerError, VideoError
from .inputs import annotated_photo_path, expand_videos
from .inputs import expand_images as expand_photos
from .progress import ProgressBar, add_progress_options, wants_progress
from .results import IMAGE_COLUMNS, VIDEO_COLUMNS, VIDEOS_COLUMNS, image_rows, named_video_rows

DEFAULT_SEGMENT_SECONDS = 60.0
"""Videos longer than this are split into segments of this length."""

WARMUP_ANALYSED = 12
"""Analysed frames a segment runs the tracker over before its start (more than the tracker's
``max_missed`` + 1, and enough for the smoothing's memory to fade: 0.6 ** 12 < 0.3 %)."""

PHOTO_BATCH = 16
"""Photos per task sent to a worker."""

FORWARDED_ENV = (
    "FER_MODELS_DIR",
    "FER_YUNET_MODEL",
    "FER_NO_DOWNLOAD",
    "FER_CACHE_DIR",
    "FER_MAX_PIXELS",
)

ProgressFn = Callable[[int, "int | None", float], None]


# --------------------------------------------------------------------------------------------
# What a run did


@dataclass
class ArchiveRun:
    """A summary of :func:`predict_images` or :func:`analyze_videos`."""

    inputs: int = 0
    kept: int = 0  # finished by an earlier run (resume)
    analysed: int = 0  # inputs analysed by this run
    failed: int = 0  # inputs with an error
    units: int = 0  # tasks of work: photos, or video segments
    frames: int = 0  # video frames gone through by this run
    elapsed_s: float = 0.0
    workers: int = 0
    nodes: set = field(default_factory=set)
    worker_pids: set = field(default_factory=set)
    output: str | None = None

    @property
    def per_second(self) -> float:
        return self.analysed / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def saw(self, who: dict) -> None:
        """Note the node and the process a piece of work ran on."""
        self.nodes.add(who["node"])
        self.worker_pids.add(who["pid"])


class _Meter:
    """Units of work finished, reported to ``progress(done, total, seconds since start)``."""

    def __init__(self, progress: ProgressFn | None, total: int):
        self.progress, self.total, self.done = progress, total, 0
        self.started = time.perf_counter()
        if progress:
            progress(0, total, 0.0)

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def add(self, n: int) -> None:
        self.done += n
        if self.progress:
            self.progress(self.done, self.total, self.elapsed)


# --------------------------------------------------------------------------------------------
# The spool: finished work on disk, keyed by input (and segment)


class Spool:
    """Finished work as JSON in a SQLite file, one committed row per batch or segment, so a
    crash loses at most the work in flight. ``path=None``: a temporary file."""

    def __init__(self, path: str | os.PathLike | None, settings: dict, resume: bool):
        self.temporary = path is None
        if path is None:
            fd, path = tempfile.mkstemp(prefix="fer-parts-", suffix=".sqlite")
            os.close(fd)
            os.unlink(path)
        self.path = Path(path)
        if self.path.exists() and not resume:
            self.path.unlink()
        self.db = sqlite3.connect(str(self.path))
        self.db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
        self.db.execute("CREATE TABLE IF NOT EXISTS done (key TEXT PRIMARY KEY, value TEXT)")
        wanted = json.dumps(settings, sort_keys=True)
        row = self.db.execute("SELECT value FROM meta WHERE key = 'settings'").fetchone()
        if row is not None and row[0] != wanted:
            self.db.close()
            raise FerError(
                f"{self.path} holds an earlier run with other options "
                f"({row[0]}); run with the same options, or without --resume"
            )
        self.db.execute("INSERT OR REPLACE INTO meta VALUES ('settings', ?)", (wanted,))
        self.db.commit()

    def keys(self) -> set[str]:
        return {k for (k,) in self.db.execute("SELECT key FROM done")}

    def put_many(self, items: Iterable[tuple[str, Any]]) -> None:
        with self.db:
            self.db.executemany(
                "INSERT OR REPLACE INTO done VALUES (?, ?)", ((k, json.dumps(v)) for k, v in items)
            )

    def get(self, key: str) -> Any:
        row = self.db.execute("SELECT value FROM done WHERE key = ?", (key,)).fetchone()
        return None if row is None else json.loads(row[0])

    def close(self, remove: bool) -> None:
        """Close; the file goes when ``remove``, when temporary, or when it holds no work."""
        empty = self.db.execute("SELECT COUNT(*) FROM done").fetchone()[0] == 0
        remove = remove or empty
        self.db.close()
        if remove or self.temporary:
            self.path.unlink(missing_ok=True)


def spool_path(output: str | os.PathLike | None) -> Path | None:
    """Where the finished work of a run writing ``output`` is kept until it ends."""
    return None if output is None else Path(f"{output}.fer-parts.sqlite")


def _write_atomically(path: str | os.PathLike, fields: list[str], rows: Iterable[dict]) -> int:
    """Stream ``rows`` to a temporary file beside ``path`` and move it into place; a crash
    leaves the old file (or none), never half a file. Returns the row count."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
    n = 0
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=fields, extrasaction="ignore")
            writer.writeheader()
            for row in rows:
                writer.writerow(row)
                n += 1
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return n


@contextmanager
def _spooled(csv_path, settings: dict, resume: bool) -> Iterator[Spool]:
    """The run's spool: removed when the run ends well, kept for ``--resume`` when it fails."""
    if resume and csv_path is None:
        raise FerError("--resume needs --csv: it keeps the inputs already in that file")
    spool = Spool(spool_path(csv_path), settings, resume)
    ok = False
    try:
        yield spool
        ok = True
    finally:
        spool.close(remove=ok)


def _write_rows(csv_path, fields: list[str], rows: Iterator[dict]) -> None:
    """The rows into ``csv_path``; without one, just gone through (for what they emit)."""
    if csv_path:
        _write_atomically(csv_path, fields, rows)
    else:
        for _ in rows:
            pass


def _read_csv_groups(path: Path, key: str | None) -> Iterator[tuple[str | None, list[dict]]]:
    """An earlier output's rows grouped by consecutive ``key`` values (one group when None)."""
    with open(path, newline="", encoding="utf-8") as fh:
        current, group = None, []
        for row in csv.DictReader(fh):
            value = row.get(key) if key else None
            if group and value != current:
                yield current, group
                group = []
            current = value
            group.append(row)
        if group:
            yield current, group


# --------------------------------------------------------------------------------------------
# Ray: connecting, and running tasks with a bounded number in flight


def _fer_package() -> str:
    return str(Path(__file__).resolve().parent)


class _Cluster:
    """``ray.init`` for a run (and ``ray.shutdown`` after, if this run started it)."""

    def __init__(self, address: str, num_cpus: int | None = None):
        try:
            import ray
        except ImportError:
            raise FerError("--ray needs Ray: pip install -r requirements-ray.txt") from None
        import logging

        self.ray = ray
        self.started = False
        if not ray.is_initialized():
            kwargs = dict(
                include_dashboard=False,
                log_to_driver=False,
                logging_level=logging.ERROR,
                runtime_env={"py_modules": [_fer_package()]},
            )
            os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
            try:
                if address in ("auto", "local"):
                    ray.init(
                        address="local", num_cpus=num_cpus, _node_ip_address="127.0.0.1", **kwargs
                    )
                else:
                    ray.init(address=address, **kwargs)
            except (ConnectionError, ValueError, RuntimeError) as exc:
                raise FerError(f"cannot join the Ray cluster at {address} ({exc})") from None
            self.started = True

    def cpus(self) -> int:
        return max(1, int(self.ray.cluster_resources().get("CPU", 1)))

    def close(self) -> None:
        if self.started:
            self.ray.shutdown()

    def __enter__(self) -> _Cluster:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _as_finished(ray, in_flight: dict) -> Iterator[tuple[Any, Any, Exception | None]]:
    """``(tag, result, None)`` or ``(tag, None, RayError)`` for each task of ``in_flight``
    (``{object_ref: tag}``) as it finishes; the caller may add tasks between items."""
    while in_flight:
        ready, _ = ray.wait(list(in_flight), num_returns=1)
        tag = in_flight.pop(ready[0])
        try:
            result, error = ray.get(ready[0]), None
        except ray.exceptions.RayError as exc:
            result, error = None, exc
        yield tag, result, error


def _worker_setup(env: dict) -> None:
    """In a worker: the driver's FER_* settings, and one thread per CPU the task holds."""
    os.environ.update(env)
    threads = "1"
    try:
        import ray

        threads = str(max(1, int(ray.get_runtime_context().get_assigned_resources().get("CPU", 1))))
    except Exception:  # not in a Ray worker
        pass
    os.environ.setdefault("FER_THREADS", threads)
    import cv2

    cv2.setNumThreads(int(os.environ["FER_THREADS"]))


def _whoami() -> dict:
    try:
        import ray

        node = ray.get_runtime_context().get_node_id()
    except Exception:
        node = "local"
    return {"pid": os.getpid(), "node": node}


def _new_analyzer(options: dict):
    """The worker process's shared Analyzer for the options (the model and detector resolved
    by the driver): one per configuration per process, as everywhere (fer.get_analyzer)."""
    from .analyzer import get_analyzer

    return get_analyzer(
        AnalysisConfig(
            model=options["model"],
            detector=options["detector"],
            tta=options["tta"],
            min_face=options["min_face"],
        )
    )


def _analyzer_options(
    model, detector, tta, min_face, notice: Callable[[str], None] | None = None
) -> dict:
    """Resolve the model and detector here, once, so every worker uses the same files, and
    return the options for the workers; the detector's one-line notice goes to ``notice``."""
    from .detection import create_detector, yunet_model_path
    from .registry import get_model_info

    info = get_model_info(model)
    if not info.serving_path.exists():
        from .models import load_model

        load_model(info)  # raises the serving file's ModelNotFoundError
    det, detector_notice = create_detector(detector)
    if detector_notice and notice:
        notice(detector_notice)
    env = {k: os.environ[k] for k in FORWARDED_ENV if os.environ.get(k)}
    if det.name == "yunet":
        env["FER_YUNET_MODEL"] = str(Path(yunet_model_path(download=False)).resolve())
    return {
        "model": str(info.serving_path.resolve()),
        "detector": det.name,
        "tta": tta,
        "min_face": int(min_face),
        "env": env,
        "model_name": info.name,
    }


# --------------------------------------------------------------------------------------------
# Photos


def analyze_photo_batch(
    analyzer, paths: list[str], out: str | None = None, n_inputs: int = 0
) -> list[dict]:
    """``{"image", "faces"[, "error"]}`` per photo, as ``python -m fer predict --json``."""
    from .drawing import annotate
    from .image_io import load_image, save_image

    results = []
    for name in paths:
        try:
            image = load_image(Path(name))
            faces = analyzer.analyze(image)
        except FerError as exc:
            results.append({"image": name, "error": str(exc), "faces": []})
            continue
        results.append({"image": name, "faces": [f.to_dict() for f in faces]})
        if out:
            save_image(annotate(image, faces), annotated_photo_path(out, Path(name), n_inputs))
    return results


class PhotoWorker:
    """A Ray actor: one Analyzer (one model load) for all the batches it is given."""

    def __init__(self, options: dict):
        _worker_setup(options["env"])
        self.analyzer = _new_analyzer(options)
        self.out = options.get("out")
        self.n_inputs = options.get("n_inputs", 0)

    def analyze(self, paths: list[str]) -> tuple[dict, list[dict]]:
        return _whoami(), analyze_photo_batch(self.analyzer, paths, self.out, self.n_inputs)


def predict_images(
    paths: Iterable[str | os.PathLike],
    csv_path: str | os.PathLike | None = None,
    *,
    address: str | None = "auto",
    model: str | None = None,
    detector: str = "auto",
    tta: str = "off",
    min_face: int = MIN_FACE,
    out: str | None = None,
    resume: bool = False,
    batch_size: int = PHOTO_BATCH,
    workers: int | None = None,
    num_cpus: int | None = None,
    progress: ProgressFn | None = None,
    emit: Callable[[dict], None] | None = None,
    notice: Callable[[str], None] | None = None,
) -> ArchiveRun:
    """Find faces and expressions in photos (files or folders) across Ray workers.

    ``csv_path``: the rows of ``python -m fer predict --csv`` (same columns and order), written
    atomically. ``emit(result)`` is called with each photo's result in input order at the end
    (``{"image", "faces"[, "error"]}``; ``{"image", "kept": True, "rows"}`` for a photo kept
    from the earlier output). ``workers``: actors to start (default: one per CPU of the
    cluster). ``address=None`` runs in this process."""
    files = [str(p) for p in expand_photos(paths)]
    options = _analyzer_options(model, detector, tta, min_face, notice)
    options.update(out=out, n_inputs=len(files))
    settings = {k: options[k] for k in ("model", "detector", "tta", "min_face")}
    run = ArchiveRun(inputs=len(files), output=str(csv_path) if csv_path else None)
    with _spooled(csv_path, settings, resume) as spool:
        pending = _photos_to_do(spool, files, csv_path if resume else None)
        run.kept = len(files) - len(pending)
        if run.kept and notice:
            notice(
                f"resuming: {run.kept} of {len(files)} photos were done before, "
                f"{len(pending)} to analyse"
            )
        batches = [pending[i : i + batch_size] for i in range(0, len(pending), batch_size)]
        _analyse_photos(
            run, spool, options, batches, address, workers, num_cpus, _Meter(progress, len(pending))
        )
        run.units = len(files)
        _write_rows(csv_path, IMAGE_COLUMNS, _photo_rows(run, spool, files, emit))
    return run


def _photos_to_do(spool: Spool, files: list[str], earlier: str | os.PathLike | None) -> list[str]:
    """The photos no earlier run finished; those in the ``earlier`` output are spooled as
    kept (``{"image", "kept": True, "rows"}``)."""
    done = spool.keys()
    if earlier and Path(earlier).exists():
        wanted = set(files)
        spool.put_many(
            (img, {"image": img, "kept": True, "rows": rows})
            for img, rows in _read_csv_groups(Path(earlier), "image")
            if img in wanted and img not in done
        )
        done = spool.keys()
    return [f for f in files if f not in done]


def _analyse_photos(
    run: ArchiveRun,
    spool: Spool,
    options: dict,
    batches: list[list[str]],
    address: str | None,
    workers: int | None,
    num_cpus: int | None,
    meter: _Meter,
) -> None:
    """Each batch analysed, in this process (``address=None``) or by Ray actors, and spooled
    as it finishes."""

    def finished(who: dict, results: list[dict]) -> None:
        spool.put_many((r["image"], r) for r in results)
        run.saw(who)
        run.analysed += len(results)
        meter.add(len(results))

    if batches and address is None:
        analyzer = _new_analyzer(options)
        run.workers = 1
        for batch in batches:
            finished(
                _whoami(), analyze_photo_batch(analyzer, batch, options["out"], options["n_inputs"])
            )
    elif batches:
        with _Cluster(address, num_cpus) as cluster:
            run.workers = _run_photo_actors(cluster, options, batches, workers, finished)
    run.elapsed_s = meter.elapsed


def _photo_rows(
    run: ArchiveRun, spool: Spool, files: list[str], emit: Callable[[dict], None] | None
) -> Iterator[dict]:
    """The CSV rows of every photo in input order (counting the failed ones), emitting each
    photo's result after its rows."""
    for img in files:
        result = spool.get(img)
        if result.get("kept"):
            yield from result["rows"]
        else:
            run.failed += bool(result.get("error"))
            yield from image_rows([result])
        if emit:
            emit(result)


def _run_photo_actors(
    cluster: _Cluster, options: dict, batches: list[list[str]], workers: int | None, finished
) -> int:
    """The batches across ``workers`` actors, two queued per actor; returns the actors used."""
    ray = cluster.ray
    n = max(1, min(workers or cluster.cpus(), len(batches)))
    actor_cls = ray.remote(num_cpus=1, max_restarts=4, max_task_retries=4)(PhotoWorker)
    actors = [actor_cls.remote(options) for _ in range(n)]
    queue = iter(batches)
    in_flight: dict = {}

    def submit(actor) -> None:
        batch = next(queue, None)
        if batch is not None:
            in_flight[actor.analyze.remote(batch)] = actor

    for actor in actors:  # two batches per actor: one running, one waiting
        submit(actor)
        submit(actor)
    try:
        for actor, result, error in _as_finished(ray, in_flight):
            if error is not None:
                raise FerError(f"a Ray worker failed for good: {error}") from None
            finished(*result)
            submit(actor)
    finally:
        for actor in actors:
            ray.kill(actor)
    return n


# --------------------------------------------------------------------------------------------
# Videos


RESULT_FIELDS = (
    "fps",
    "frames_total",
    "duration",
    "every",
    "smoothing",
    "width",
    "height",
    "name",
    "model",
    "frames_read",
    "frames_analyzed",
    "error",
)
"""The :class:`fer.video.VideoResult` fields a segment's payload carries besides its rows."""


def _meta(result) -> dict:
    return {k: getattr(result, k) for k in RESULT_FIELDS}


def _payload(result, overlap: list, start: int, warm_start: int) -> dict:
    """What a video task sends back: the result's facts, its rows and the warm-up's tracks."""
    return {
        **_meta(result),
        "rows": result.rows,
        "overlap": overlap,
        "start": start,
        "warm_start": warm_start,
    }


def analyze_segment(
    path: str | os.PathLike,
    analyzer,
    start: int,
    end: int | None,
    every: int | None = None,
    smoothing: float = SMOOTHING,
    warmup: int = WARMUP_ANALYSED,
) -> dict:
    """Frames ``start`` to ``end`` (exclusive; None: to the end) of a video, analysed as
    :func:`fer.video.analyze_video` would analyse them in a run from the start: the tracker
    first runs over ``warmup`` analysed frames before ``start``, whose tracks come back as
    ``overlap`` (``[frame, face_id, x, y, w, h]``) for joining to the previous segment.
    Frame numbers after the seek come from the first frame's timestamp."""
    from .tracking import FaceTracker
    from .video import VideoResult, _open_input, _stream_facts, analysis_step

    video_name = Path(path).name
    container, stream = _open_input(path, video_name)
    result = VideoResult(
        name=video_name,
        model=getattr(analyzer, "model_name", ""),
        smoothing=float(smoothing or 0.0),
    )
    overlap: list[list[int]] = []
    try:
        fps, _, duration, frames_total, exact = _stream_facts(container, stream)
        step = analysis_step(every, fps)
        result.fps, result.frames_total, result.duration, result.every = (
            fps,
            frames_total,
            duration,
            step,
        )
        warm_start = max(0, start - warmup * step)
        origin = _seek_before(container, stream, warm_start, fps, video_name)
        tracker = FaceTracker(smoothing=result.smoothing)
        last_t, last_index = 0.0, -1
        for index, t, frame in _segment_frames(
            container.decode(stream), origin, warm_start, end, result
        ):
            last_t, last_index = t, index
            if index >= start:
                result.frames_read += 1
            if index % step == 0:
                _analyse_segment_frame(analyzer, tracker, frame, index, t, start, result, overlap)
        _segment_ending(result, start, end, last_index, last_t, exact)
    finally:
        container.close()
    return _payload(result, overlap, start, warm_start)


def _seek_before(container, stream, warm_start: int, fps: float, video_name: str) -> float:
    """Seek to the key frame before frame ``warm_start``; returns the first frame's time,
    from which frame numbers after the seek are counted."""
    first = next(container.decode(stream))
    origin = first.time
    if origin is None:
        raise VideoError(f"{video_name} has no frame timestamps; it cannot be split")
    if warm_start == 0:
        container.seek(0, stream=stream, backward=True, any_frame=False)
    else:  # the key frame before warm_start (half a frame early against rounding)
        target = origin + (warm_start - 0.5) / fps
        container.seek(int(target / stream.time_base), stream=stream, backward=True)
    return origin


def _segment_frames(
    frames: Iterator, origin: float, warm_start: int, end: int | None, result
) -> Iterator[tuple[int, float, Any]]:
    """``(index, time, frame)`` from frame ``warm_start`` up to ``end``; a decoding fault
    ends them with ``result.error``. Raises :class:`_SeekMissed` when the seek went past
    ``warm_start``."""
    import av

    from .video import _ffmpeg_message

    fps = result.fps
    index = None
    while True:
        try:
            frame = next(frames)
        except StopIteration:
            return
        except av.FFmpegError as exc:
            result.error = f"the video could not be decoded further ({_ffmpeg_message(exc)})"
            return
        if index is None:
            if frame.time is None:
                continue
            index = round((frame.time - origin) * fps)
            if index > warm_start:  # the seek went past: decode from the start instead
                raise _SeekMissed
        else:
            index += 1
        if index < warm_start:
            continue
        if end is not None and index >= end:
            return
        yield index, (frame.time - origin) if frame.time is not None else index / fps, frame


def _analyse_segment_frame(
    analyzer, tracker, frame, index: int, t: float, start: int, result, overlap: list
) -> None:
    """Track the frame's faces; before ``start`` (the warm-up) they go to ``overlap``, from
    it on into ``result.rows``."""
    from .video import frame_rgb, track_faces, video_row

    rgb = frame_rgb(frame)
    if index == 0:
        result.height, result.width = rgb.shape[:2]
    faces = analyzer.analyze(rgb)
    tracks = track_faces(tracker, faces)
    if index < start:
        overlap.extend(
            [index, tr.track_id, *(int(v) for v in f.box)] for f, tr in zip(faces, tracks)
        )
        return
    result.frames_analyzed += 1
    result.rows.extend(video_row(t, index, f, tr) for f, tr in zip(faces, tracks))


def _segment_ending(
    result, start: int, end: int | None, last_index: int, last_t: float, exact: bool
) -> None:
    """The last segment's frame count, and ``result.error`` when the video ended before its
    headers (or, for a middle segment, the segment's end) said it would."""
    from .video import VideoResult, _truncation

    if result.error is None and end is None and last_index >= 0:
        result.frames_read = last_index + 1 - start if last_index >= start else 0
        whole = VideoResult(frames_read=last_index + 1, duration=result.duration)
        result.error = _truncation(whole, result.frames_total, exact, last_t)
    elif result.error is None and end is not None and last_index < end - 1:
        result.error = (
            f"the video ended at {last_t:.1f} s, before the "
            f"{end / result.fps:.1f} s its headers promise (the file looks "
            "truncated)"
        )


class _SeekMissed(Exception):
    pass


def _video_task(path: str, start: int, end: int | None, options: dict) -> tuple[dict, dict]:
    """One video (``start == 0 and end is None``: the whole file, as ``analyze_video``) or one
    segment; any failure to read becomes ``{"fatal": message}``."""
    from .video import analyze_video

    if options.get("in_ray", True):
        _worker_setup(options["env"])
    analyzer = _new_analyzer(options)
    try:
        if start == 0 and end is None:
            out = options.get("out_dir")
            out_path = str(Path(out) / f"{Path(path).stem}_annotated.mp4") if out else None
            result = analyze_video(
                path,
                analyzer,
                every=options["every"],
                smoothing=options["smoothing"],
                out_path=out_path,
            )
            payload = _payload(result, [], 0, 0)
        else:
            try:
                payload = analyze_segment(
                    path, analyzer, start, end, options["every"], options["smoothing"]
                )
            except _SeekMissed:
                payload = analyze_segment(
                    path, analyzer, start, end, options["every"], options["smoothing"], warmup=10**9
                )
    except VideoError as exc:
        payload = {"fatal": str(exc)}
    return _whoami(), payload


def plan_segments(info, every: int | None, segment_seconds: float | None) -> list[tuple]:
    """``[(start_frame, end_frame_or_None), ...]`` for a video (one item: not split)."""
    if (
        not segment_seconds
        or not info.frames_total
        or not info.duration
        or info.duration <= segment_seconds
    ):
        return [(0, None)]
    step = info.every(every)
    length = max(step, round(segment_seconds * info.fps / step) * step)
    length = max(length, 2 * WARMUP_ANALYSED * step)
    starts = list(range(0, info.frames_total, length))
    if len(starts) > 1 and info.frames_total - starts[-1] < length // 2:
        starts.pop()  # no short last segment: the one before runs to the end
    if len(starts) == 1:
        return [(0, None)]
    return [(s, e) for s, e in zip(starts, starts[1:])] + [(starts[-1], None)]


def join_segments(payloads: list[dict]) -> dict:
    """One video's segment results joined into one (global face IDs, summed counts); stops at
    the first segment that failed, as a run from the start would."""
    joined = {
        **{k: v for k, v in payloads[0].items() if k not in ("rows", "overlap")},
        "rows": [],
        "frames_read": 0,
        "frames_analyzed": 0,
        "error": None,
    }
    tail: dict[tuple, int] = {}
    next_id = 1
    for k, part in enumerate(payloads):
        if part.get("fatal"):
            joined["error"] = (
                part["fatal"]
                if k == 0
                else f"the video could not be read past {part.get('start', 0)} ({part['fatal']})"
            )
            break
        votes: dict[int, Counter] = {}
        for frame, local, x, y, w, h in part["overlap"]:
            gid = tail.get((frame, x, y, w, h))
            if gid is not None:
                votes.setdefault(local, Counter())[gid] += 1
        mapping: dict[int, int] = {}
        taken: set[int] = set()
        for local in sorted({r["face_id"] for r in part["rows"]}):
            choice = next(
                (g for g, _ in votes.get(local, Counter()).most_common() if g not in taken), None
            )
            if choice is None:
                choice, next_id = next_id, next_id + 1
            mapping[local] = choice
            taken.add(choice)
        rows = [{**r, "face_id": mapping[r["face_id"]]} for r in part["rows"]]
        joined["rows"].extend(rows)
        if rows:
            next_id = max(next_id, max(r["face_id"] for r in rows) + 1)
        joined["frames_read"] += part["frames_read"]
        joined["frames_analyzed"] += part["frames_analyzed"]
        if part.get("width"):
            joined["width"], joined["height"] = part["width"], part["height"]
        tail = {(r["frame"], r["x"], r["y"], r["w"], r["h"]): r["face_id"] for r in rows}
        if part.get("error"):
            joined["error"] = part["error"]
            break
    return joined


def payload_to_result(payload: dict):
    """A joined payload as :class:`fer.video.VideoResult` (summaries, JSON, lines)."""
    from .video import VideoResult

    result = VideoResult()
    for key in (*RESULT_FIELDS, "rows"):
        if key in payload and payload[key] is not None:
            setattr(result, key, payload[key])
    result.error = payload.get("error")
    return result


def analyze_videos(
    paths: Iterable[str | os.PathLike],
    csv_path: str | os.PathLike | None = None,
    *,
    address: str | None = "auto",
    model: str | None = None,
    detector: str = "auto",
    tta: str = "off",
    min_face: int = MIN_FACE,
    every: int | None = None,
    smoothing: float = SMOOTHING,
    segment_seconds: float | None = DEFAULT_SEGMENT_SECONDS,
    out_dir: str | os.PathLike | None = None,
    resume: bool = False,
    num_cpus: int | None = None,
    max_in_flight: int | None = None,
    progress: ProgressFn | None = None,
    emit: Callable[[str, Any], None] | None = None,
    notice: Callable[[str], None] | None = None,
) -> ArchiveRun:
    """Expressions over videos (files or folders), one task per video or per segment of a
    long one (``segment_seconds``; None: never split; ``out_dir`` writes each video's
    annotated MP4 in its task, so those videos are not split).

    ``csv_path``: with one video, the rows of ``python -m fer video FILE --csv`` (same columns,
    same order); with several, :data:`fer.results.VIDEOS_COLUMNS`. ``emit(video, result)`` gets each
    video's :class:`fer.video.VideoResult` in input order at the end (or, for a video kept
    from the earlier output, its rows)."""
    files = [str(p) for p in expand_videos(paths)]
    single = len(files) == 1
    options = _analyzer_options(model, detector, tta, min_face, notice)
    if out_dir:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        segment_seconds = None
    options.update(
        every=every,
        smoothing=float(smoothing or 0.0),
        out_dir=str(Path(out_dir).resolve()) if out_dir else None,
    )
    settings = {
        k: options[k] for k in ("model", "detector", "tta", "min_face", "every", "smoothing")
    }
    settings["segment_seconds"] = segment_seconds
    run = ArchiveRun(inputs=len(files), output=str(csv_path) if csv_path else None)
    with _spooled(csv_path, settings, resume) as spool:
        if resume and csv_path and Path(csv_path).exists():
            _keep_earlier_videos(spool, files, Path(csv_path), single)
        plans, tasks = _plan_videos(run, spool, files, every, segment_seconds, single)
        if run.kept and notice:
            notice(f"resuming: {run.kept} of {len(files)} videos were done before")
        run.units = len(tasks)
        _analyse_video_tasks(
            run,
            spool,
            options,
            tasks,
            address,
            num_cpus,
            max_in_flight,
            _Meter(progress, len(tasks)),
        )
        _write_rows(
            csv_path,
            VIDEO_COLUMNS if single else VIDEOS_COLUMNS,
            _video_rows(run, spool, files, plans, single, emit),
        )
    return run


def _keep_earlier_videos(spool: Spool, files: list[str], earlier: Path, single: bool) -> None:
    """Spool the videos the ``earlier`` output holds as kept (``{"kept": True, "rows"}``); with
    one video, all of that output is its rows."""
    done = spool.keys()

    def key(name: str | None) -> str:
        return f"{files[0] if single else name}#kept"

    groups = _read_csv_groups(earlier, None if single else "video")
    spool.put_many(
        (key(name), {"kept": True, "rows": rows})
        for name, rows in groups
        if (single or name in files) and key(name) not in done
    )


def _plan_videos(
    run: ArchiveRun,
    spool: Spool,
    files: list[str],
    every: int | None,
    segment_seconds: float | None,
    single: bool,
) -> tuple[dict, list[tuple]]:
    """Each video's segments (planned once, kept in the spool) and the
    ``(video, segment, start, end)`` tasks no earlier run finished; counts the kept videos."""
    done = spool.keys()
    plans: dict[str, list[tuple]] = {}
    tasks: list[tuple[str, int, int, int | None]] = []
    for name in files:
        if f"{name}#kept" in done:
            run.kept += 1
            continue
        if f"{name}#plan" not in done:
            _plan_video(spool, name, every, segment_seconds, single)
            done.add(f"{name}#plan")
        plans[name] = [tuple(p) for p in spool.get(f"{name}#plan")]
        tasks.extend(
            (name, k, s, e) for k, (s, e) in enumerate(plans[name]) if f"{name}#{k}" not in done
        )
    return plans, tasks


def _plan_video(
    spool: Spool, name: str, every: int | None, segment_seconds: float | None, single: bool
) -> None:
    """Probe a video and spool its segments; one that cannot be read gets one segment that
    failed (a lone video raises instead)."""
    from .video import probe_video

    try:
        info = probe_video(name)
    except VideoError as exc:
        if single:
            raise
        spool.put_many([(f"{name}#plan", [[0, None]]), (f"{name}#0", {"fatal": str(exc)})])
        return
    plan = plan_segments(info, every, segment_seconds)
    spool.put_many([(f"{name}#plan", [list(p) for p in plan])])


def _analyse_video_tasks(
    run: ArchiveRun,
    spool: Spool,
    options: dict,
    tasks: list[tuple],
    address: str | None,
    num_cpus: int | None,
    max_in_flight: int | None,
    meter: _Meter,
) -> None:
    """Each task run, in this process (``address=None``) or as Ray tasks, and spooled as it
    finishes."""

    def finished(task, who: dict, payload: dict) -> None:
        spool.put_many([(f"{task[0]}#{task[1]}", payload)])
        run.saw(who)
        run.frames += payload.get("frames_read", 0)
        meter.add(1)

    if tasks and address is None:
        run.workers = 1
        local = {**options, "in_ray": False}
        for task in tasks:
            finished(task, *_video_task(task[0], task[2], task[3], local))
    elif tasks:
        with _Cluster(address, num_cpus) as cluster:
            run.workers = _run_video_tasks(cluster, options, tasks, finished, max_in_flight)
    run.elapsed_s = meter.elapsed


def _video_rows(
    run: ArchiveRun,
    spool: Spool,
    files: list[str],
    plans: dict,
    single: bool,
    emit: Callable[[str, Any], None] | None,
) -> Iterator[dict]:
    """Every video's rows in input order, its segments joined (with several videos, a
    ``video`` column and one error row for a video that failed or has no face); emits each
    video's result after its rows and counts the analysed and failed ones."""
    for name in files:
        kept = spool.get(f"{name}#kept")
        if kept is not None:
            yield from kept["rows"]
            if emit:
                emit(name, kept)
            continue
        run.analysed += 1
        result = payload_to_result(
            join_segments([spool.get(f"{name}#{k}") for k in range(len(plans[name]))])
        )
        if result.error:
            run.failed += 1
        if single:
            yield from result.rows
        else:
            yield from named_video_rows(name, result)
        if emit:
            emit(name, result)


def _run_video_tasks(
    cluster: _Cluster, options: dict, tasks: list, finished, max_in_flight: int | None
) -> int:
    """The tasks as Ray tasks, at most ``max_in_flight`` (default two per CPU) at a time; a
    task that fails for good becomes ``{"fatal": ...}``. Returns the workers used."""
    ray = cluster.ray
    remote = ray.remote(num_cpus=1, max_retries=4)(_video_task)
    cpus = cluster.cpus()
    limit = max_in_flight or 2 * cpus
    queue = iter(tasks)
    in_flight: dict = {}

    def submit() -> None:
        task = next(queue, None)
        if task is not None:
            in_flight[remote.remote(task[0], task[2], task[3], options)] = task

    for _ in range(limit):
        submit()
    for task, result, error in _as_finished(ray, in_flight):
        if error is not None:
            result = {"pid": 0, "node": None}, {"fatal": f"the task failed ({error})"}
        finished(task, *result)
        submit()
    return min(cpus, len(tasks))


# --------------------------------------------------------------------------------------------
# The CLI's side: ``python -m fer predict|video ... --ray``


def add_archive_options(p, video: bool) -> None:
    """--ray, --resume (and for videos --segment-seconds, --out-dir; for photos the
    progress-bar switches the video command already has)."""
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
            default=DEFAULT_SEGMENT_SECONDS,
            metavar="S",
            help="with --ray, split videos longer than S seconds into "
            "segments analysed in parallel (default 60)",
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


class _JsonList:
    """Items printed as one JSON list, one at a time."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stdout
        self.first = True

    def add(self, item: dict) -> None:
        text = "\n".join(" " + line for line in json.dumps(item, indent=1).splitlines())
        self.stream.write(("[\n" if self.first else ",\n") + text)
        self.first = False

    def close(self) -> None:
        self.stream.write("[]\n" if self.first else "\n]\n")


def _ray_line(run: ArchiveRun, unit: str, address) -> None:
    if address is None:
        return
    nodes = len(run.nodes)
    print(
        f"ray: {run.units} {unit} in {run.elapsed_s:.1f} s "
        f"({run.units / run.elapsed_s if run.elapsed_s > 0 else 0:.1f}/s) on {run.workers} "
        f"worker{'s' * (run.workers != 1)}, {nodes} node{'s' * (nodes != 1)}",
        file=sys.stderr,
    )


def _note(text: str) -> None:
    print(f"note: {text}", file=sys.stderr)


def _with_bar(args, bar_cls, unit: str, call: Callable[[Any], ArchiveRun]) -> ArchiveRun:
    """``call(bar)`` with the progress bar the options ask for (or None), finished after."""
    bar = bar_cls(unit=unit) if wants_progress(args) else None
    try:
        return call(bar)
    finally:
        if bar is not None:
            bar.finish()


def _close_listing(listing: _JsonList | None, errors: list[str]) -> None:
    """End the JSON list, then print the errors collected on the way to stderr."""
    if listing:
        listing.close()
    for message in errors:
        print(f"error: {message}", file=sys.stderr)


def run_predict_command(args, bar_cls=ProgressBar) -> int:
    """``python -m fer predict ... --ray`` (or ``--resume``): the rows, lines and JSON of the
    single-process command, from :func:`predict_images`."""
    if args.explain:
        raise FerError("--explain needs TensorFlow and runs in one process: leave out --ray")
    listing = _JsonList() if args.json else None
    errors: list[str] = []
    emit = _photo_emitter(listing, None if args.json else sys.stdout, errors)
    run = _with_bar(
        args,
        bar_cls,
        "photos",
        lambda bar: predict_images(
            args.paths,
            args.csv,
            address=args.ray,
            model=args.model,
            detector=args.detector,
            tta=args.tta,
            min_face=args.min_face,
            out=args.out,
            resume=args.resume,
            progress=bar,
            emit=emit,
            batch_size=max(1, args.batch_size),
            notice=_note,
        ),
    )
    _close_listing(listing, errors)
    _ray_line(run, "photos", args.ray)
    return 1 if run.failed else 0


def _photo_emitter(listing: _JsonList | None, lines, errors: list[str]) -> Callable[[dict], None]:
    """What ``predict --ray`` shows of each photo's result: an item of the JSON list, or a
    line per face (as the single-process command); errors are collected for the end."""

    def emit(result: dict) -> None:
        if result.get("kept"):
            if listing:
                listing.add({"image": result["image"], "kept": True})
            return
        if result.get("error"):
            errors.append(result["error"])
        if listing:
            listing.add(result)
        elif lines is not None and not result.get("error"):
            faces = result["faces"]
            if not faces:
                print(f"{result['image']}: no face found")
            for i, face in enumerate(faces, start=1):
                x, y, w, h = face["box"]
                print(
                    f"{result['image']}: face {i} at x={x} y={y} w={w} h={h}: "
                    f"{face['label']} {100 * face['confidence']:.1f}%"
                )

    return emit


def run_video_command(args, bar_cls=ProgressBar) -> int:
    """``python -m fer video FILES_OR_DIR... [--ray]``: each video's rows as the single-file
    command gives them, from :func:`analyze_videos`."""
    _check_video_args(args)
    files = expand_videos(args.inputs)
    single = len(files) == 1
    listing = _JsonList() if args.json and not single else None
    errors: list[str] = []
    emit = _video_emitter(args, listing, single, errors)
    run = _with_bar(
        args,
        bar_cls,
        "videos",
        lambda bar: analyze_videos(
            files,
            args.csv,
            address=args.ray,
            model=args.model,
            detector=args.detector,
            tta=args.tta,
            min_face=args.min_face,
            every=args.every,
            smoothing=0.0 if args.no_smoothing else args.smoothing,
            segment_seconds=args.segment_seconds if args.ray else None,
            out_dir=args.out_dir,
            resume=args.resume,
            progress=bar,
            emit=emit,
            notice=_note,
        ),
    )
    _close_listing(listing, errors)
    _ray_line(run, "videos" if run.units == run.inputs - run.kept else "segments", args.ray)
    return 1 if errors else 0


def _check_video_args(args) -> None:
    """One line for options that cannot work, before anything is read."""
    if not 0 <= args.smoothing < 1:
        raise FerError(f"--smoothing must be at least 0 and below 1, not {args.smoothing}")
    if args.every is not None and args.every < 1:
        raise FerError(f"--every must be a positive number of frames, not {args.every}")
    if args.out:
        raise FerError(
            "--out names one annotated video; with --ray or several videos use --out-dir DIR"
        )
    if args.segment_seconds is not None and args.segment_seconds <= 0:
        raise FerError(f"--segment-seconds must be positive, not {args.segment_seconds}")


def _video_emitter(
    args, listing: _JsonList | None, single: bool, errors: list[str]
) -> Callable[[str, Any], None]:
    """What ``video`` over an archive shows of each video: its JSON (an item of the list with
    several videos) or its summary lines; errors are collected for the end."""
    from .video import result_to_json

    def emit(name: str, result) -> None:
        if isinstance(result, dict):  # kept from the earlier output
            if listing:
                listing.add({"video": name, "kept": True})
            elif not args.json:
                print(f"{name}: kept from {args.csv}")
            return
        if listing:
            listing.add({**result.to_dict(), "video": name})
        elif args.json:
            print(result_to_json(result))
        else:
            for line in result.summary_lines():
                print(line)
        if result.error:
            errors.append(
                f"{result.error} (kept the {len(result.rows)} rows analysed before)"
                if single
                else f"{name}: {result.error}"
            )

    return emit
