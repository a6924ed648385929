"""Video archives: one unit of work per video, or per segment of a long one.

A video longer than ``segment_seconds`` is split into time segments (:func:`plan_segments`),
each analysed by :func:`fer.jobs.video.analyze_segment`: the tracker first runs over the analysed
frames before the segment's start, so smoothing and the tracker's state match a run from the
start, and the faces tracked there are matched, by frame and box, to the previous segment's
rows (:func:`join_segments`), so a face keeps one ID across the cut.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from ..config import AnalysisConfig
from ..errors import VideoError
from ..jobs.inputs import expand_videos
from ..jobs.video import WARMUP_ANALYSED, Segment, VideoResult, analyze_segment, analyze_video
from ..output.progress import ProgressFn
from ..output.results import VIDEO_COLUMNS, VIDEOS_COLUMNS, named_video_rows
from .cluster import ArchiveRun, Meter, RunOptions, WorkerSpec, run_units, worker_spec
from .spool import Spool, read_csv_groups, spooled, write_rows

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
"""The :class:`fer.jobs.video.VideoResult` fields a segment's payload carries besides its rows."""

Task = tuple[str, int, int, "int | None"]
"""``(video, segment number, start frame, end frame or None)``."""


def analyze_video_task(analyzer, spec: WorkerSpec, task: Task) -> dict:
    """A worker's job: one video (``start == 0 and end is None``: the whole file, its annotated
    copy written into ``spec.out``) or one segment, as a payload for the spool; a video that
    cannot be read becomes ``{"fatal": message}``."""
    path, _, start, end = task
    every, smoothing = spec.config.every, spec.config.smoothing
    try:
        if start == 0 and end is None:
            out = str(Path(spec.out) / f"{Path(path).stem}_annotated.mp4") if spec.out else None
            result = analyze_video(path, analyzer, every, smoothing, out)
        else:
            result = analyze_segment(path, analyzer, Segment(start, end), every, smoothing)
    except VideoError as exc:
        return {"fatal": str(exc)}
    return {
        **{k: getattr(result, k) for k in RESULT_FIELDS},
        "rows": result.rows,
        "overlap": result.overlap,
        "start": start,
    }


def analyze_videos(
    paths: Iterable[str | os.PathLike],
    csv_path: str | os.PathLike | None = None,
    config: AnalysisConfig | None = None,
    options: RunOptions | None = None,
    *,
    out_dir: str | os.PathLike | None = None,
    progress: ProgressFn | None = None,
    emit: Callable[[str, Any], None] | None = None,
    notice: Callable[[str], None] | None = None,
) -> ArchiveRun:
    """Expressions over videos (files or folders), one unit per video or per segment of a
    long one (``options.segment_seconds``; ``out_dir`` writes each video's annotated MP4 in
    its unit, so those videos are not split), on Ray workers or, with ``options.address``
    None, in this process.

    ``csv_path``: with one video, the rows of ``python -m fer video FILE --csv`` (same columns,
    same order); with several, :data:`fer.output.results.VIDEOS_COLUMNS`. ``emit(video, result)``
    gets each video's :class:`fer.jobs.video.VideoResult` in input order at the end (or, for a
    video kept from the earlier output, ``{"kept": True, "rows"}``)."""
    config, options = config or AnalysisConfig(), options or RunOptions()
    files = [str(p) for p in expand_videos(paths)]
    single = len(files) == 1
    segment_seconds = options.segment_seconds
    if out_dir:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        out_dir, segment_seconds = Path(out_dir).resolve(), None
    spec = worker_spec(config, notice, out=out_dir)
    settings = spec.settings() | {
        "every": config.every,
        "smoothing": config.smoothing,
        "segment_seconds": segment_seconds,
    }
    run = ArchiveRun(inputs=len(files), output=str(csv_path) if csv_path else None)
    with spooled(csv_path, settings, options.resume) as spool:
        if options.resume and csv_path and Path(csv_path).exists():
            _keep_earlier_videos(spool, files, Path(csv_path), single)
        plans, tasks = _plan_videos(run, spool, files, config.every, segment_seconds)
        if run.kept and notice:
            notice(f"resuming: {run.kept} of {len(files)} videos were done before")
        run.units = len(tasks)
        meter = Meter(progress, len(tasks))

        def finished(task: Task, who: dict, payload: dict) -> None:
            spool.put_many([(f"{task[0]}#{task[1]}", payload)])
            run.saw(who)
            run.frames += payload.get("frames_read", 0)
            meter.add(1)

        def failed(task: Task, reason: str) -> None:
            finished(task, {"pid": 0, "node": None}, {"fatal": reason})

        run.workers = run_units(spec, analyze_video_task, tasks, options, finished, failed)
        run.elapsed_s = meter.elapsed
        rows = _video_rows(run, spool, files, plans, emit)
        write_rows(csv_path, VIDEO_COLUMNS if single else VIDEOS_COLUMNS, rows)
    return run


def _keep_earlier_videos(spool: Spool, files: list[str], earlier: Path, single: bool) -> None:
    """Spool the videos the ``earlier`` output holds as kept (``{"kept": True, "rows"}``); with
    one video, all of that output is its rows."""
    done = spool.keys()

    def key(name: str | None) -> str:
        return f"{files[0] if single else name}#kept"

    groups = read_csv_groups(earlier, None if single else "video")
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
) -> tuple[dict, list[Task]]:
    """Each video's segments (planned once, kept in the spool) and the
    ``(video, segment, start, end)`` tasks no earlier run finished; counts the kept videos."""
    done = spool.keys()
    plans: dict[str, list[tuple]] = {}
    tasks: list[Task] = []
    for name in files:
        if f"{name}#kept" in done:
            run.kept += 1
            continue
        if f"{name}#plan" not in done:
            _plan_video(spool, name, every, segment_seconds, len(files) == 1)
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
    from ..jobs.video_io import probe_video

    try:
        info = probe_video(name)
    except VideoError as exc:
        if single:
            raise
        spool.put_many([(f"{name}#plan", [[0, None]]), (f"{name}#0", {"fatal": str(exc)})])
        return
    plan = plan_segments(info, every, segment_seconds)
    spool.put_many([(f"{name}#plan", [list(p) for p in plan])])


def _video_rows(
    run: ArchiveRun,
    spool: Spool,
    files: list[str],
    plans: dict,
    emit: Callable[[str, Any], None] | None,
) -> Iterator[dict]:
    """Every video's rows in input order, its segments joined (with several videos, a
    ``video`` column and one error row for a video that failed or has no face); emits each
    video's result after its rows and counts the analysed and failed ones."""
    single = len(files) == 1
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
        result.name = result.name or Path(name).name
        if result.error:
            run.failed += 1
        if single:
            yield from result.rows
        else:
            yield from named_video_rows(name, result)
        if emit:
            emit(name, result)


def plan_segments(info, every: int | None, segment_seconds: float | None) -> list[tuple]:
    """``[(start_frame, end_frame_or_None), ...]`` for a video (one item: not split); an
    ``every`` that is not a positive frame count raises FerError."""
    step = info.every(every)
    if (
        not segment_seconds
        or not info.frames_total
        or not info.duration
        or info.duration <= segment_seconds
    ):
        return [(0, None)]
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
        mapping, next_id = _global_ids(part, tail, next_id)
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


def _global_ids(part: dict, tail: dict[tuple, int], next_id: int) -> tuple[dict[int, int], int]:
    """A segment's face IDs -> the video's: each takes the ID most of its warm-up boxes had in
    the previous segment's ``tail`` (``(frame, x, y, w, h) -> ID``), else a new one."""
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
    return mapping, next_id


def payload_to_result(payload: dict) -> VideoResult:
    """A joined payload as :class:`fer.jobs.video.VideoResult` (summaries, JSON, lines)."""
    result = VideoResult()
    for key in (*RESULT_FIELDS, "rows"):
        if key in payload and payload[key] is not None:
            setattr(result, key, payload[key])
    result.error = payload.get("error")
    return result
