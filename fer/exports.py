"""Results as tables: one row per face, for CSV and JSON downloads and the CLI."""

from __future__ import annotations

import csv
import io
import json
import os

from .emotions import EMOTIONS

ROW_FIELDS = ["image", "face", "x", "y", "w", "h", "label", "confidence", *EMOTIONS, "error"]

VIDEO_FIELDS = ["time", "frame", "face_id", "x", "y", "w", "h", "label", "confidence", *EMOTIONS]
"""Columns of a video row (``fer.video``): one row per analysed frame and face; ``time`` in
seconds from the start, ``frame`` the 0-based frame index, ``face_id`` stable across frames."""


def results_to_rows(results: list[dict]) -> list[dict]:
    """``[{"image", "faces": [face dicts], "error"?}]`` -> flat rows (a row per face; an image
    with no face or an error gets one row saying so)."""
    rows = []
    for result in results:
        faces = result.get("faces") or []
        if not faces:
            rows.append({"image": result["image"], "face": 0,
                         "error": result.get("error", "no face found")})
        for i, face in enumerate(faces, start=1):
            x, y, w, h = face["box"]
            rows.append({"image": result["image"], "face": i, "x": x, "y": y, "w": w, "h": h,
                         "label": face["label"], "confidence": face["confidence"],
                         **face["scores"], "error": ""})
    return rows


def rows_to_csv(rows: list[dict], fields: list[str] | None = None) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fields or ROW_FIELDS, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def rows_to_json(rows: list[dict], indent: int | None = 1) -> str:
    """Rows (or any JSON-ready results) as JSON text; numpy scalars become plain numbers."""
    return json.dumps(rows, indent=indent, default=_plain)


def _plain(value):
    if hasattr(value, "item"):  # numpy scalar
        return value.item()
    if hasattr(value, "tolist"):  # numpy array
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def write_csv(rows: list[dict], path: str | os.PathLike, fields: list[str] | None = None) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        fh.write(rows_to_csv(rows, fields))
