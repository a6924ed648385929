"""Progress of long jobs: the figures (:class:`Progress`: rate, time left), the command line's
bar on stderr and its ``--progress``/``--no-progress`` switches; the Video page words the same
figures as a sentence."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass

ProgressFn = Callable[[int, "int | None", float], None]
"""``progress(done, total_or_None, elapsed_s)``: what every long job reports as it goes (the
CLI's :class:`ProgressBar` is one)."""


def add_progress_options(p) -> None:
    """``--progress`` and ``--no-progress`` (default: a bar when stderr is a terminal)."""
    bar = p.add_mutually_exclusive_group()
    bar.add_argument(
        "--progress",
        dest="progress",
        action="store_true",
        default=None,
        help="show the progress bar on stderr even when it is not a terminal",
    )
    bar.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")


def wants_progress(args) -> bool:
    """Whether the switches (or, without them, a terminal on stderr) ask for the bar."""
    chosen = getattr(args, "progress", None)
    return sys.stderr.isatty() if chosen is None else chosen


class Throttle:
    """Lets a progress report through at most every ``interval_s`` seconds of elapsed time,
    and always at the end (``done >= total``)."""

    def __init__(self, interval_s: float):
        self.interval_s = interval_s
        self.last = -1.0

    def due(self, done: int, total: int | None, elapsed: float) -> bool:
        if elapsed - self.last < self.interval_s and (total is None or done < total):
            return False
        self.last = elapsed
        return True


def format_clock(seconds: float) -> str:
    """``m:ss`` for a number of seconds (``65.4`` -> ``1:05``; below 0 counts as 0)."""
    seconds = max(0, int(round(seconds)))
    return f"{seconds // 60}:{seconds % 60:02d}"


@dataclass(frozen=True)
class Progress:
    """Where a job stands: ``done`` of ``total`` units gone through (None: unknown) after
    ``elapsed`` seconds, ``analysed`` of them analysed (one frame in ``every``, for videos)."""

    done: int
    total: int | None
    elapsed: float
    analysed: int

    @property
    def fraction(self) -> float:
        return min(1.0, self.done / self.total) if self.total else 0.0

    @property
    def analysed_per_s(self) -> float:
        return self.analysed / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def eta_s(self) -> float:
        """Seconds left at the rate so far (0 when unknown or done)."""
        if not self.total or not self.done or self.done >= self.total:
            return 0.0
        return (self.total - self.done) * self.elapsed / self.done

    def sentence(self, unit: str = "frames") -> str:
        """``45 / 150 frames · 9.1 analysed frames/s · about 0:14 left`` (the Video page's)."""
        rate = f"{self.analysed_per_s:.1f} analysed {unit}/s"
        if not self.total:
            return f"{self.done} {unit} · {rate}"
        return f"{self.done} / {self.total} {unit} · {rate} · about {format_clock(self.eta_s)} left"


class ProgressBar:
    """``[#####.....] 45/150 frames  9.1 analysed/s  ETA 0:14`` on one line of stderr,
    rewritten in place with a carriage return (``every``: one frame in so many is analysed)."""

    WIDTH = 28

    def __init__(self, every: int = 1, stream=None, interval_s: float = 0.1, unit: str = "frames"):
        self.every = max(1, int(every))
        self.unit = unit
        self.stream = stream or sys.stderr
        self.throttle = Throttle(interval_s)
        self.on_screen = False

    def __call__(self, done: int, total, elapsed: float) -> None:
        if not self.throttle.due(done, total, elapsed):
            return
        progress = Progress(done, total, elapsed, analysed=-(-done // self.every))
        rate = f"{progress.analysed_per_s:.1f} analysed/s"
        if total:
            filled = int(round(progress.fraction * self.WIDTH))
            text = (
                f"[{'#' * filled}{'.' * (self.WIDTH - filled)}] {done}/{total} {self.unit}  "
                f"{rate}  ETA {format_clock(progress.eta_s)}"
            )
        else:
            text = f"{done} {self.unit}  {rate}  {elapsed:.0f} s"
        self.stream.write("\r" + text.ljust(78))
        self.stream.flush()
        self.on_screen = True

    def finish(self) -> None:
        if self.on_screen:
            self.stream.write("\n")
            self.stream.flush()
            self.on_screen = False
