"""fer.output.results: one table for photos, batches, videos and the live history, and its
DataFrame, CSV and JSON forms (the CSV byte for byte what the CLI and the pages wrote before)."""

import json
from types import SimpleNamespace

import numpy as np
import pytest

from fer.emotions import EMOTIONS
from fer.jobs.live import LiveSample
from fer.output.results import (
    ALL_COLUMNS,
    IMAGE_COLUMNS,
    LIVE_COLUMNS,
    VIDEO_COLUMNS,
    VIDEOS_COLUMNS,
    Results,
    image_rows,
    named_video_rows,
    rows_to_csv,
    summarize_faces,
    video_row,
    write_csv,
)
from fer.serving.analyzer import FaceResult


def _probs(main: str, p: float = 0.7) -> np.ndarray:
    rest = (1 - p) / (len(EMOTIONS) - 1)
    return np.array([p if e == main else rest for e in EMOTIONS], np.float32)


def _faces() -> list[FaceResult]:
    return [
        FaceResult((10, 20, 30, 40), 0.9, _probs("happy", 0.8)),
        FaceResult((100, 20, 30, 40), 0.8, _probs("sad", 0.6)),
    ]


def _track(track_id: int, main: str):
    probs = _probs(main)
    return SimpleNamespace(
        track_id=track_id, label=main, confidence=float(probs.max()), probabilities=probs
    )


def _video_rows() -> list[dict]:
    face = SimpleNamespace(box=(5, 6, 50, 60))
    return [
        video_row(0.0, 0, face, _track(1, "happy")),
        video_row(0.0, 0, face, _track(2, "sad")),
        video_row(0.5, 5, face, _track(1, "happy")),
        video_row(1.0, 10, face, _track(1, "fear")),
    ]


def _is_in_order(columns: list[str]) -> bool:
    positions = [ALL_COLUMNS.index(c) for c in columns]
    return positions == sorted(positions)


def test_every_table_takes_its_columns_from_the_one_schema_in_its_order():
    for columns in (IMAGE_COLUMNS, VIDEO_COLUMNS, VIDEOS_COLUMNS, LIVE_COLUMNS):
        assert set(columns) <= set(ALL_COLUMNS) and _is_in_order(columns), columns
    assert len(set(ALL_COLUMNS)) == len(ALL_COLUMNS)
    assert VIDEOS_COLUMNS == ["video", *VIDEO_COLUMNS, "error"]
    with pytest.raises(ValueError, match="speed"):
        Results([], ["image", "speed"])


def test_photo_table_csv_is_the_one_the_cli_writes(tmp_path):
    import fer

    assert fer.Results is Results  # from fer import Results
    table = Results.from_faces(_faces(), image="group.jpg")
    assert len(table) == 2 and table.labels == ["happy", "sad"]
    text = table.to_csv()
    lines = text.split("\r\n")
    assert lines[0] == ",".join(IMAGE_COLUMNS)
    assert lines[1].startswith("group.jpg,1,10,20,30,40,happy,0.8,0.0333,")
    assert lines[1].endswith(",0.0333,")  # neutral, then an empty error
    assert lines[2].startswith("group.jpg,2,100,20,30,40,sad,0.6,")
    assert table.to_csv(tmp_path / "faces.csv") is None
    assert (tmp_path / "faces.csv").read_bytes() == text.encode()
    # the same bytes as the batch/CLI path: results dicts, and the rows written by hand
    as_dicts = [{"image": "group.jpg", "faces": [f.to_dict() for f in _faces()]}]
    assert Results.from_images(as_dicts).to_csv() == text
    assert rows_to_csv(image_rows(as_dicts), IMAGE_COLUMNS) == text
    written = tmp_path / "rows.csv"
    write_csv(image_rows(as_dicts), written)
    assert written.read_bytes() == text.encode()


def test_batch_table_rows_for_errors_and_photos_without_faces():
    results = [
        {"image": "a.jpg", "faces": [f.to_dict() for f in _faces()]},
        {"image": "b.jpg", "faces": [], "error": "b.jpg is truncated"},
        {"image": "c.jpg", "faces": []},
    ]
    table = Results.from_images(results)
    assert [r["face"] for r in table] == [1, 2, 0, 0]
    assert [r["error"] for r in table] == ["", "", "b.jpg is truncated", "no face found"]
    assert table.distribution() == {**dict.fromkeys(EMOTIONS, 0), "happy": 1, "sad": 1}
    assert list(table.distribution()) == list(EMOTIONS)
    emotions = table.emotions
    assert list(emotions.columns) == list(EMOTIONS) and emotions.shape == (2, 7)
    assert emotions["happy"].tolist() == pytest.approx([0.8, 0.0667], abs=1e-4)
    assert table.boxes.values.tolist() == [[10, 20, 30, 40], [100, 20, 30, 40]]
    frame = table.to_dataframe()
    assert list(frame.columns) == IMAGE_COLUMNS and len(frame) == 4
    for_people = table.to_dataframe(display=True)
    assert "Happy" in for_people.columns and "happy" not in for_people.columns
    assert for_people["label"].tolist()[:2] == ["Happy", "Sad"] and for_people["face"].tolist() == [
        1,
        2,
        0,
        0,
    ]
    data = json.loads(table.to_json())
    assert data[0]["label"] == "happy" and data[0]["x"] == 10
    assert data[2] == {"image": "b.jpg", "face": 0, "error": "b.jpg is truncated"}
    summary = table.summary()
    assert summary.to_dict("records") == [
        {"image": "a.jpg", "faces": 2, "dominant": "happy", "error": ""},
        {"image": "b.jpg", "faces": 0, "dominant": "", "error": "b.jpg is truncated"},
        {"image": "c.jpg", "faces": 0, "dominant": "", "error": ""},
    ]


def test_video_table_summary_timeline_and_several_videos():
    rows = _video_rows()
    table = Results.from_video(SimpleNamespace(rows=rows))
    assert table.columns == VIDEO_COLUMNS and list(rows[0]) == VIDEO_COLUMNS
    assert table.to_csv().split("\r\n")[1].startswith("0.0,0,1,5,6,50,60,happy,0.7,")
    assert table.summary().to_dict("records") == summarize_faces(rows)
    face1 = table.summary().iloc[0]
    assert face1["face_id"] == 1 and face1["frames"] == 3 and face1["dominant"] == "happy"
    for_people = table.summary(display=True)
    assert list(for_people.columns)[:5] == [
        "face",
        "first seen (s)",
        "last seen (s)",
        "frames",
        "dominant",
    ]
    assert for_people["dominant"].tolist() == ["Happy", "Sad"]
    assert for_people["Happy"].tolist() == [pytest.approx(66.7), 0.0]
    long = table.timeline(face_id=1)
    assert list(long.columns) == ["time", "face_id", "emotion", "probability"]
    assert len(long) == 3 * 7 and set(long["face_id"]) == {1}
    assert sorted(set(long["time"])) == [0.0, 0.5, 1.0]
    empty = Results.from_video([]).timeline()
    assert list(empty.columns) == ["time", "face_id", "emotion", "probability"] and empty.empty

    a = named_video_rows("a.mp4", SimpleNamespace(rows=rows, error=None))
    assert a == [{"video": "a.mp4", **r, "error": ""} for r in rows]
    broken = named_video_rows("b.mp4", SimpleNamespace(rows=rows[:1], error="truncated"))
    assert broken[-1] == {"video": "b.mp4", "error": "truncated"} and len(broken) == 2
    faceless = named_video_rows("c.mp4", SimpleNamespace(rows=[], error=None))
    assert faceless == [{"video": "c.mp4", "error": "no face found"}]
    several = Results(a + broken + faceless, VIDEOS_COLUMNS)
    assert several.to_csv().split("\r\n")[0] == ",".join(VIDEOS_COLUMNS)
    summary = several.summary()
    assert list(zip(summary["video"], summary["face_id"])) == [
        ("a.mp4", 1),
        ("a.mp4", 2),
        ("b.mp4", 1),
    ]


def test_live_history_table():
    samples = [
        LiveSample(
            time=10.0,
            probabilities=_probs("happy"),
            label="happy",
            faces=1,
            fps=20,
            latency_ms=30,
            model="shallow",
        ),
        LiveSample(
            time=10.5,
            probabilities=None,
            label=None,
            faces=0,
            fps=20,
            latency_ms=30,
            model="shallow",
        ),
        LiveSample(
            time=10.7,
            probabilities=None,
            label=None,
            faces=0,
            fps=0,
            latency_ms=0,
            model="",
            error="camera gone",
        ),
        LiveSample(
            time=11.0,
            probabilities=_probs("surprise"),
            label="surprise",
            faces=2,
            fps=20,
            latency_ms=30,
            model="shallow",
        ),
    ]
    table = Results.from_live(samples)
    assert table.columns == LIVE_COLUMNS and len(table) == 3  # the error is not a row
    assert table.labels == ["happy", "surprise"]
    lines = table.to_csv().split("\r\n")
    assert lines[2] == "10.5,0,,," + "," * (len(EMOTIONS) - 1)  # a frame without a face
    assert lines[3].startswith("11.0,2,surprise,0.7,")
    long = table.timeline(origin=11.0)
    assert list(long.columns) == ["time", "emotion", "probability"]
    assert sorted(set(long["time"])) == [-1.0, 0.0]
    summary = table.summary()
    assert len(summary) == 1 and summary["frames"][0] == 2 and "face_id" not in summary
    assert summary["first_seen"][0] == 10.0 and summary["last_seen"][0] == 11.0
