"""Finished work on disk: the SQLite spool a run writes each finished batch or segment to, and
the atomic CSV that is written from it at the end, in input order."""

from __future__ import annotations

import csv
import json
import os
import sqlite3
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..errors import FerError


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


def write_atomically(path: str | os.PathLike, fields: list[str], rows: Iterable[dict]) -> int:
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
def spooled(csv_path, settings: dict, resume: bool) -> Iterator[Spool]:
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


def write_rows(csv_path, fields: list[str], rows: Iterator[dict]) -> None:
    """The rows into ``csv_path``; without one, just gone through (for what they emit)."""
    if csv_path:
        write_atomically(csv_path, fields, rows)
    else:
        for _ in rows:
            pass


def read_csv_groups(path: Path, key: str | None) -> Iterator[tuple[str | None, list[dict]]]:
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
