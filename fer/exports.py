"""The results table's columns and writers under their first names, for the callers written
before :mod:`fer.results` (the Ray runs in :mod:`fer.distributed`). New code uses
:mod:`fer.results` and its :class:`~fer.results.Results`."""

from __future__ import annotations

from .results import IMAGE_COLUMNS as ROW_FIELDS
from .results import VIDEO_COLUMNS as VIDEO_FIELDS
from .results import image_rows as results_to_rows
from .results import rows_to_csv, rows_to_json, write_csv

__all__ = ["ROW_FIELDS", "VIDEO_FIELDS", "results_to_rows", "rows_to_csv", "rows_to_json",
           "write_csv"]
