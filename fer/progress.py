"""The command line's progress bar on stderr, and the ``--progress``/``--no-progress``
switches that show or hide it."""

from __future__ import annotations

import sys


def add_progress_options(p) -> None:
    """``--progress`` and ``--no-progress`` (default: a bar when stderr is a terminal)."""
    bar = p.add_mutually_exclusive_group()
    bar.add_argument("--progress", dest="progress", action="store_true", default=None,
                     help="show the progress bar on stderr even when it is not a terminal")
    bar.add_argument("--no-progress", dest="progress", action="store_false",
                     help="no progress bar")


def wants_progress(args) -> bool:
    """Whether the switches (or, without them, a terminal on stderr) ask for the bar."""
    chosen = getattr(args, "progress", None)
    return sys.stderr.isatty() if chosen is None else chosen


class ProgressBar:
    """``[#####.....] 45/150 frames  9.1 analysed/s  ETA 0:04`` on one line of stderr,
    rewritten in place with a carriage return (``every``: one frame in so many is analysed)."""

    WIDTH = 28

    def __init__(self, every: int = 1, stream=None, interval_s: float = 0.1,
                 unit: str = "frames"):
        self.every = max(1, int(every))
        self.unit = unit
        self.stream = stream or sys.stderr
        self.interval_s = interval_s
        self.last = -1.0
        self.shown = False

    def __call__(self, done: int, total, elapsed: float) -> None:
        if elapsed - self.last < self.interval_s and (total is None or done < total):
            return
        self.last = elapsed
        rate = done / elapsed if elapsed > 0 else 0.0
        analysed = -(-done // self.every) / elapsed if elapsed > 0 else 0.0
        if total:
            frac = min(1.0, done / total)
            filled = int(round(frac * self.WIDTH))
            eta = (total - done) / rate if rate > 0 and done < total else 0.0
            text = (f"[{'#' * filled}{'.' * (self.WIDTH - filled)}] {done}/{total} {self.unit}  "
                    f"{analysed:.1f} analysed/s  ETA {int(eta // 60)}:{int(eta % 60):02d}")
        else:
            text = f"{done} {self.unit}  {analysed:.1f} analysed/s  {elapsed:.0f} s"
        self.stream.write("\r" + text.ljust(78))
        self.stream.flush()
        self.shown = True

    def finish(self) -> None:
        if self.shown:
            self.stream.write("\n")
            self.stream.flush()
            self.shown = False
