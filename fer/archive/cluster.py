"""Where an archive's work runs: in this process, or on a pool of Ray actors.

Ray does the scheduling: :class:`ray.util.ActorPool` keeps each actor busy with one unit of work
at a time and hands the next one to whichever actor is free; an actor killed mid-unit is
restarted by Ray (``max_restarts``) and the unit retried (``max_task_retries``). The workers get
the driver's ``FER_*`` settings through the actors' ``runtime_env``. Ray is imported only here,
and only when a run asks for it.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import PHOTO_BATCH, SEGMENT_SECONDS, AnalysisConfig
from ..errors import FerError
from ..output.progress import ProgressFn

Job = Callable[[Any, "WorkerSpec", Any], Any]
"""``job(analyzer, spec, unit)``: one unit of work (a batch of photos, a video segment) in a
worker; returns what goes into the spool."""


@dataclass(frozen=True)
class RunOptions:
    """How an archive run goes. ``address``: ``"auto"`` starts a local Ray instance,
    ``"host:port"`` joins a running cluster, None runs in this process. ``workers``: actors to
    start (default one per CPU of the cluster); ``num_cpus``: the CPUs of a local instance;
    ``resume``: keep what an earlier run with the same output finished; ``batch_size``: photos
    per unit; ``segment_seconds``: split longer videos (None: never)."""

    address: str | None = "auto"
    workers: int | None = None
    num_cpus: int | None = None
    resume: bool = False
    batch_size: int = PHOTO_BATCH
    segment_seconds: float | None = SEGMENT_SECONDS


@dataclass(frozen=True)
class WorkerSpec:
    """What a worker needs to analyse as the driver would: ``config`` with the model as its
    serving file and the detector the driver resolved (so every worker uses the same files),
    ``env`` the ``FER_*`` settings (models folder, YuNet file, cache, limits) for the workers'
    ``runtime_env``, ``out`` where annotated copies go and ``inputs`` how many photos the run
    has (``--out`` names a file for one)."""

    config: AnalysisConfig
    model_name: str
    env: tuple[tuple[str, str], ...] = ()
    out: str | None = None
    inputs: int = 0

    def settings(self) -> dict[str, Any]:
        """What a resumed run must share with the run it resumes."""
        c = self.config
        return {"model": c.model, "detector": c.detector, "tta": c.tta, "min_face": c.min_face}


def worker_spec(
    config: AnalysisConfig,
    notice: Callable[[str], None] | None = None,
    out: str | os.PathLike | None = None,
    inputs: int = 0,
) -> WorkerSpec:
    """Resolve the model and detector here, once; the detector's one-line notice (a
    fallback) goes to ``notice``. Raises ModelNotFoundError before any work starts."""
    from ..serving.models import load_model
    from ..serving.registry import get_model_info
    from ..vision.detection import create_detector, yunet_model_path

    info = get_model_info(config.model)
    if not info.serving_path.exists():
        load_model(info)  # raises the serving file's ModelNotFoundError
    detector, detector_notice = create_detector(config.detector)
    if detector_notice and notice:
        notice(detector_notice)
    env = {"FER_THREADS": "1"} | {k: v for k, v in os.environ.items() if k.startswith("FER_")}
    if detector.name == "yunet":
        env["FER_YUNET_MODEL"] = str(Path(yunet_model_path(download=False)).resolve())
    resolved = config.with_(model=str(info.serving_path.resolve()), detector=detector.name)
    return WorkerSpec(resolved, info.name, tuple(sorted(env.items())), out and str(out), inputs)


@dataclass
class ArchiveRun:
    """A summary of :func:`fer.archive.predict_images` or :func:`fer.archive.analyze_videos`."""

    inputs: int = 0
    kept: int = 0  # finished by an earlier run (resume)
    analysed: int = 0  # inputs analysed by this run
    failed: int = 0  # inputs with an error
    units: int = 0  # units of work: photos, or video segments
    frames: int = 0  # video frames gone through by this run
    elapsed_s: float = 0.0
    workers: int = 0
    nodes: set = field(default_factory=set)
    worker_pids: set = field(default_factory=set)
    output: str | None = None

    def saw(self, who: dict) -> None:
        """Note the node and the process a unit of work ran on."""
        self.nodes.add(who["node"])
        self.worker_pids.add(who["pid"])


class Meter:
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


class ArchiveWorker:
    """One process's analyzer (one model load) for every unit of work it is given; on Ray an
    actor, with one thread per CPU it holds."""

    def __init__(self, spec: WorkerSpec, job: Job, on_ray: bool = False):
        from ..serving.analyzer import get_analyzer

        if on_ray:
            import cv2

            from ..serving.runtime import runtime_threads

            cv2.setNumThreads(runtime_threads())
        self.spec, self.job = spec, job
        self.analyzer = get_analyzer(spec.config)

    def run(self, tagged: tuple[int, Any]) -> tuple[int, dict, Any]:
        """``(tag, where it ran, the job's result)`` for a ``(tag, unit)``."""
        tag, unit = tagged
        return tag, _whoami(), self.job(self.analyzer, self.spec, unit)


def _whoami() -> dict:
    try:
        import ray

        node = ray.get_runtime_context().get_node_id() if ray.is_initialized() else "local"
    except ImportError:
        node = "local"
    return {"pid": os.getpid(), "node": node}


def run_units(
    spec: WorkerSpec,
    job: Job,
    units: list,
    options: RunOptions,
    finished: Callable[[Any, dict, Any], None],
    failed: Callable[[Any, str], None],
) -> int:
    """Each unit through ``job`` in this process (``options.address`` None) or on Ray actors;
    ``finished(unit, who, result)`` as each one ends (in the order they end), then
    ``failed(unit, reason)`` for each that Ray could not finish. Returns the workers used."""
    if not units:
        return 0
    if options.address is None:
        worker = ArchiveWorker(spec, job)
        for tag, unit in enumerate(units):
            finished(unit, *worker.run((tag, unit))[1:])
        return 1
    with Cluster(options.address, options.num_cpus) as cluster:
        return cluster.run(spec, job, units, options.workers, (finished, failed))


def fer_package() -> str:
    """The ``fer`` folder, shipped to the workers as a ``py_modules`` entry."""
    return str(Path(__file__).resolve().parents[1])


class Cluster:
    """``ray.init`` for a run (and ``ray.shutdown`` after, if this run started it); a local
    instance listens on the loopback only."""

    def __init__(self, address: str, num_cpus: int | None = None):
        local = address in ("auto", "local")
        if local and "ray" not in sys.modules:  # Ray's switch for a one-machine instance
            os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        try:
            import ray
        except ImportError:
            raise FerError("--ray needs Ray: pip install -r requirements-ray.txt") from None
        import logging

        self.ray, self.started = ray, False
        if ray.is_initialized():
            return
        kwargs = dict(
            include_dashboard=False,
            log_to_driver=False,
            logging_level=logging.ERROR,
            runtime_env={"py_modules": [fer_package()]},
        )
        try:
            if local:
                ray.init(address="local", num_cpus=num_cpus, **kwargs)
            else:
                ray.init(address=address, **kwargs)
        except (ConnectionError, ValueError, RuntimeError) as exc:
            raise FerError(f"cannot join the Ray cluster at {address} ({exc})") from None
        self.started = True

    def cpus(self) -> int:
        return max(1, int(self.ray.cluster_resources().get("CPU", 1)))

    def run(self, spec: WorkerSpec, job: Job, units: list, workers: int | None, calls) -> int:
        """The units on an ActorPool of ``workers`` actors (default: one per CPU); ``calls``
        are :func:`run_units`' ``finished`` and ``failed``. Returns the actors used."""
        from ray.util import ActorPool

        ray, (finished, failed) = self.ray, calls
        n = max(1, min(workers or self.cpus(), len(units)))
        remote = ray.remote(num_cpus=1, max_restarts=4, max_task_retries=4)(ArchiveWorker)
        env = {"env_vars": dict(spec.env)}
        actors = [remote.options(runtime_env=env).remote(spec, job, True) for _ in range(n)]
        pool = ActorPool(actors)
        try:
            for tagged in enumerate(units):
                pool.submit(lambda actor, value: actor.run.remote(value), tagged)
            done, reason = set(), "no worker was left"
            while pool.has_next():
                try:
                    tag, who, result = pool.get_next_unordered()
                except ray.exceptions.RayError as exc:
                    reason = f"the task failed ({exc})"
                    continue
                done.add(tag)
                finished(units[tag], who, result)
            for tag in sorted(set(range(len(units))) - done):
                failed(units[tag], reason)
        finally:
            for actor in actors:
                ray.kill(actor)
        return n

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc) -> None:
        if self.started:
            self.ray.shutdown()
