"""One results table for every job: a photo, a batch, a video and the live webcam's history.

Every job's output becomes a :class:`Results`: rows of the columns below, each with one meaning
in every table, in this order. A job's table takes the columns that apply to it
(:data:`IMAGE_COLUMNS`, :data:`VIDEO_COLUMNS`, :data:`VIDEOS_COLUMNS`, :data:`LIVE_COLUMNS`),
and :class:`Results` turns any of them into a pandas DataFrame, CSV and JSON::

    from fer import AnalysisConfig, get_analyzer
    from fer.output.results import Results

    faces = get_analyzer(AnalysisConfig()).analyze("group.jpg")
    table = Results.from_faces(faces, image="group.jpg")
    table.to_csv("faces.csv")       # the CSV `python -m fer predict --csv` writes
    table.emotions.mean()           # mean probability of each emotion over the faces
    table.to_dataframe(display=True)

=============== ==============================================================================
``video``       the video's name (tables of several videos)
``image``       the photo's name: its path, upload name or ``archive.zip/member``
``time``        seconds from the video's start (live: from the stream's start)
``frame``       0-based index of the video frame
``face_id``     a tracked face's ID, the same from frame to frame
``face``        the face's number in its photo, 1 from the left (0: a photo without a face row)
``faces``       how many faces the frame holds (live: the row is its largest face's)
``x y w h``     the face box, in pixels of the original image or frame
``label``       the most likely expression (one of :data:`fer.emotions.EMOTIONS`)
``confidence``  its probability
``angry`` …     the seven probabilities, in :data:`~fer.emotions.EMOTIONS` order
``error``       why a photo or video has no face rows (``""`` on a face row)
=============== ==============================================================================

The CSV text is the one the CLI, the pages and the Ray runs (:mod:`fer.archive`) write:
``csv.DictWriter`` over the rows, a value missing from a row left empty.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from ..emotions import DISPLAY_NAMES, EMOTIONS

ALL_COLUMNS = [
    "video",
    "image",
    "time",
    "frame",
    "face_id",
    "face",
    "faces",
    "x",
    "y",
    "w",
    "h",
    "label",
    "confidence",
    *EMOTIONS,
    "error",
]
"""Every column of every table, in the order tables keep them."""

IMAGE_COLUMNS = ["image", "face", "x", "y", "w", "h", "label", "confidence", *EMOTIONS, "error"]
"""Photos (the Photo and Batch pages, ``python -m fer predict --csv``): a row per face, and one
row (``face`` 0, ``error`` saying why) for a photo with no face or that could not be read."""

VIDEO_COLUMNS = ["time", "frame", "face_id", "x", "y", "w", "h", "label", "confidence", *EMOTIONS]
"""One video (the Video page, ``python -m fer video --csv``): a row per analysed frame and face;
``label``, ``confidence`` and the probabilities are the track's (smoothed unless smoothing is 0)."""

VIDEOS_COLUMNS = ["video", *VIDEO_COLUMNS, "error"]
"""Several videos in one table (``python -m fer video`` with several inputs or ``--ray``); a
video that cannot be read or has no face gets one row with its ``error``."""

LIVE_COLUMNS = ["time", "faces", "label", "confidence", *EMOTIONS]
"""The live webcam's history: a row per analysed frame for its largest face (the label and
probabilities empty when the frame had no face)."""

NO_FACE = "no face found"


# --------------------------------------------------------------------------------------------
# rows


def image_rows(results: Iterable[Mapping]) -> list[dict]:
    """``[{"image", "faces": [FaceResult.to_dict()...], "error"?}]`` (batch results, the
    CLI's) -> rows of :data:`IMAGE_COLUMNS`: a row per face; a photo with no face or an error
    gets one row saying so."""
    rows = []
    for result in results:
        faces = result.get("faces") or []
        if not faces:
            rows.append(
                {"image": result["image"], "face": 0, "error": result.get("error") or NO_FACE}
            )
        for i, face in enumerate(faces, start=1):
            x, y, w, h = face["box"]
            rows.append(
                {
                    "image": result["image"],
                    "face": i,
                    "x": x,
                    "y": y,
                    "w": w,
                    "h": h,
                    "label": face["label"],
                    "confidence": face["confidence"],
                    **face["scores"],
                    "error": "",
                }
            )
    return rows


def video_row(t: float, index: int, face, track) -> dict:
    """One row of :data:`VIDEO_COLUMNS`: the face's box, its track's ID and (smoothed) scores."""
    x, y, w, h = (int(v) for v in face.box)
    return {
        "time": round(float(t), 3),
        "frame": index,
        "face_id": track.track_id,
        "x": x,
        "y": y,
        "w": w,
        "h": h,
        "label": track.label,
        "confidence": round(track.confidence, 4),
        **{e: round(float(v), 4) for e, v in zip(EMOTIONS, track.probabilities)},
    }


def named_video_rows(video: str, result) -> list[dict]:
    """One video's rows of :data:`VIDEOS_COLUMNS` (a :class:`fer.jobs.video.VideoResult`): its rows
    under its name, then, when it stopped with an error or found no face, a row saying so."""
    rows = [{"video": video, **row, "error": ""} for row in result.rows]
    if result.error or not result.rows:
        rows.append({"video": video, "error": result.error or NO_FACE})
    return rows


def live_row(sample) -> dict:
    """One row of :data:`LIVE_COLUMNS` from a :class:`fer.jobs.live.LiveSample`."""
    row: dict[str, Any] = {"time": round(float(sample.time), 3), "faces": int(sample.faces)}
    if sample.probabilities is not None:
        probs = np.asarray(sample.probabilities, dtype=np.float64)
        row.update(
            label=EMOTIONS[int(np.argmax(probs))],
            confidence=round(float(probs.max()), 4),
            **{e: round(float(p), 4) for e, p in zip(EMOTIONS, probs)},
        )
    return row


# --------------------------------------------------------------------------------------------
# text


def rows_to_csv(rows: Iterable[Mapping], columns: Sequence[str] = IMAGE_COLUMNS) -> str:
    """CSV text with a header of ``columns``; keys outside them are left out, missing ones
    left empty."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def write_csv(
    rows: Iterable[Mapping], path: str | os.PathLike, columns: Sequence[str] = IMAGE_COLUMNS
) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        fh.write(rows_to_csv(rows, columns))


def rows_to_json(data: Any, indent: int | None = 1) -> str:
    """Rows (or any JSON-ready results) as JSON text; numpy scalars become plain numbers."""
    return json.dumps(data, indent=indent, default=_plain)


def _plain(value):
    if hasattr(value, "item"):  # numpy scalar
        return value.item()
    if hasattr(value, "tolist"):  # numpy array
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


# --------------------------------------------------------------------------------------------
# summaries


def summarize_faces(rows: Iterable[Mapping]) -> list[dict]:
    """Per face ID: analysed frames it was seen in, first and last time seen (s), the dominant
    emotion and its share, the share of time in each emotion (one key per emotion, 0..1, by the
    row labels) and the mean confidence. Sorted by face ID."""
    by_id: dict[int, list[Mapping]] = {}
    for row in rows:
        by_id.setdefault(int(row["face_id"]), []).append(row)
    out = []
    for face_id in sorted(by_id):
        face_rows = by_id[face_id]
        n = len(face_rows)
        counts = Counter(r["label"] for r in face_rows)
        mean = {e: float(np.mean([r[e] for r in face_rows])) for e in EMOTIONS}
        # the most frequent label; ties go to the higher mean probability
        dominant = max(EMOTIONS, key=lambda e: (counts.get(e, 0), mean[e]))
        times = [float(r["time"]) for r in face_rows]
        out.append(
            {
                "face_id": face_id,
                "frames": n,
                "first_seen": round(min(times), 3),
                "last_seen": round(max(times), 3),
                "dominant": dominant,
                "dominant_share": round(counts[dominant] / n, 4),
                **{e: round(counts.get(e, 0) / n, 4) for e in EMOTIONS},
                "mean_confidence": round(float(np.mean([r["confidence"] for r in face_rows])), 4),
            }
        )
    return out


def _summarize_images(rows: Iterable[Mapping]) -> list[dict]:
    """Per photo, in order: its faces, their most frequent label and the error (if any)."""
    by_image: dict[str, list[Mapping]] = {}
    for row in rows:
        by_image.setdefault(row["image"], []).append(row)
    out = []
    for image, photo_rows in by_image.items():
        labels = [r["label"] for r in photo_rows if r.get("label")]
        counts = Counter(labels)
        dominant = max(EMOTIONS, key=lambda e: counts.get(e, 0)) if labels else ""
        errors = [r["error"] for r in photo_rows if r.get("error") and r["error"] != NO_FACE]
        out.append(
            {
                "image": image,
                "faces": len(labels),
                "dominant": dominant,
                "error": errors[0] if errors else "",
            }
        )
    return out


SUMMARY_DISPLAY_COLUMNS = {
    "face_id": "face",
    "first_seen": "first seen (s)",
    "last_seen": "last seen (s)",
    "frames": "frames",
    "dominant": "dominant",
}
"""The face summary's columns a page shows, and their headings (then one per emotion, in %)."""


def _display_face(face: Mapping) -> dict:
    """A face summary as a page shows it: headings, display names, shares in percent."""
    return {
        **{heading: face[key] for key, heading in SUMMARY_DISPLAY_COLUMNS.items()},
        "dominant": DISPLAY_NAMES[face["dominant"]],
        **{DISPLAY_NAMES[e]: round(100 * face[e], 1) for e in EMOTIONS},
    }


# --------------------------------------------------------------------------------------------
# the table


class Results:
    """A results table: ``rows`` (dicts) of ``columns`` (a sub-list of :data:`ALL_COLUMNS`).

    Build one with :meth:`from_faces` (one photo), :meth:`from_images` (a batch, the CLI's
    results), :meth:`from_video` (a :class:`fer.jobs.video.VideoResult` or its rows) or
    :meth:`from_live` (the webcam's samples); turn it into a DataFrame, CSV or JSON with
    :meth:`to_dataframe`, :meth:`to_csv` and :meth:`to_json`."""

    def __init__(self, rows: Iterable[Mapping], columns: Sequence[str] = IMAGE_COLUMNS):
        unknown = [c for c in columns if c not in ALL_COLUMNS]
        if unknown:
            raise ValueError(f"not columns of a results table: {', '.join(unknown)}")
        self.rows: list[dict] = [dict(r) for r in rows]
        self.columns: list[str] = list(columns)

    # ---- building

    @classmethod
    def from_faces(cls, faces: Iterable, image: str = "image") -> Results:
        """One photo's faces (:class:`fer.serving.analyzer.FaceResult`, left to right)."""
        return cls.from_images([{"image": image, "faces": [f.to_dict() for f in faces]}])

    @classmethod
    def from_images(cls, results: Iterable[Mapping]) -> Results:
        """Photos' results, ``{"image", "faces": [face dicts], "error"?}`` each (what
        :func:`fer.jobs.batch.analyze_batch` and ``python -m fer predict --json`` give)."""
        return cls(image_rows(results), IMAGE_COLUMNS)

    @classmethod
    def from_video(cls, result: Any) -> Results:
        """A :class:`fer.jobs.video.VideoResult` (or its ``rows``)."""
        return cls(getattr(result, "rows", result), VIDEO_COLUMNS)

    @classmethod
    def from_live(cls, samples: Iterable) -> Results:
        """The live webcam's :class:`fer.jobs.live.LiveSample` history (error samples left out)."""
        return cls(
            (live_row(s) for s in samples if getattr(s, "error", None) is None), LIVE_COLUMNS
        )

    # ---- reading

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self):
        return iter(self.rows)

    def __repr__(self) -> str:
        return f"Results({len(self.rows)} rows of {', '.join(self.columns)})"

    @property
    def face_rows(self) -> list[dict]:
        """The rows that describe a face (not a photo's error or a frame without a face)."""
        return [r for r in self.rows if r.get("label")]

    @property
    def emotions(self):
        """The seven probabilities of each face row, as a float DataFrame."""
        import pandas as pd

        return pd.DataFrame(self.face_rows, columns=list(EMOTIONS), dtype=float)

    @property
    def boxes(self):
        """``x, y, w, h`` of each face row, as a DataFrame (live tables have none)."""
        import pandas as pd

        return pd.DataFrame(self.face_rows, columns=["x", "y", "w", "h"])

    @property
    def labels(self) -> list[str]:
        """The label of each face row."""
        return [r["label"] for r in self.face_rows]

    def distribution(self) -> dict[str, int]:
        """How many face rows got each label, all seven emotions in canonical order."""
        counts = Counter(self.labels)
        return {e: int(counts.get(e, 0)) for e in EMOTIONS}

    # ---- converting

    def to_dataframe(self, display: bool = False):
        """The table as a DataFrame with its columns (also when empty). ``display``: for
        people, labels and emotion columns by their display names (``Happy``)."""
        import pandas as pd

        frame = pd.DataFrame(self.rows, columns=self.columns)
        if not display:
            return frame
        if "label" in frame:
            frame["label"] = frame["label"].map(
                lambda v: DISPLAY_NAMES.get(v, v) if isinstance(v, str) else v
            )
        return frame.rename(columns=DISPLAY_NAMES)

    def to_csv(self, path: str | os.PathLike | None = None) -> str | None:
        """CSV text, or (with ``path``) written to that file and None."""
        if path is None:
            return rows_to_csv(self.rows, self.columns)
        write_csv(self.rows, path, self.columns)
        return None

    def to_json(self, path: str | os.PathLike | None = None, indent: int | None = 1) -> str | None:
        """The rows as a JSON list of objects (a row's missing values left out), or (with
        ``path``) written to that file and None."""
        text = rows_to_json(
            [{c: r[c] for c in self.columns if c in r} for r in self.rows], indent=indent
        )
        if path is None:
            return text
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text)
        return None

    def timeline(self, face_id: int | None = None, origin: float = 0.0):
        """Long format for :func:`fer.output.charts.timeline_chart`: ``time`` (minus ``origin``),
        ``face_id`` (tables that track faces), ``emotion`` and ``probability``, one row per face
        row and emotion; ``face_id`` keeps one face."""
        import pandas as pd

        keys = ["time", "face_id"] if "face_id" in self.columns else ["time"]
        rows = self.face_rows
        if face_id is not None:
            rows = [r for r in rows if r.get("face_id") == face_id]
        wide = pd.DataFrame(rows, columns=[*keys, *EMOTIONS])
        wide["time"] = wide["time"].astype(float) - origin
        long = wide.melt(
            id_vars=keys, value_vars=list(EMOTIONS), var_name="emotion", value_name="probability"
        )
        long["probability"] = long["probability"].astype(float)
        return long.reset_index(drop=True)

    def _by_video(self) -> list[tuple[str | None, list[dict]]]:
        """The face rows per video, in order (one group without a ``video`` column)."""
        if "video" not in self.columns:
            return [(None, self.face_rows)]
        groups: dict[str, list[dict]] = {}
        for row in self.face_rows:
            groups.setdefault(row["video"], []).append(row)
        return list(groups.items())

    def summary(self, display: bool = False):
        """A DataFrame with one row per face ID (videos: :func:`summarize_faces`; per video and
        face ID in a table of several videos), per photo
        (its faces, their most frequent label, its error) or, for the live history, one row
        for the main face over the whole history. ``display`` (face IDs): the columns a page
        shows, the emotions' shares in percent."""
        import pandas as pd

        if "face_id" in self.columns:
            faces = [
                {"video": video, **face} if "video" in self.columns else face
                for video, rows in self._by_video()
                for face in summarize_faces(rows)
            ]
            return pd.DataFrame([_display_face(f) for f in faces] if display else faces)
        if "image" in self.columns:
            return pd.DataFrame(_summarize_images(self.rows))
        main_face = summarize_faces({**r, "face_id": 0} for r in self.face_rows)
        return pd.DataFrame(main_face).drop(columns="face_id", errors="ignore")
