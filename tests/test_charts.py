"""fer.output.charts: the altair specs carry the right data and encodings."""

import numpy as np
import pytest

from fer.emotions import DISPLAY_NAMES, EMOTIONS, color_hex
from fer.output import charts
from fer.output.results import LIVE_COLUMNS, VIDEO_COLUMNS, Results

SCORES = dict(zip(EMOTIONS, [0.1, 0.0, 0.05, 0.6, 0.1, 0.05, 0.1]))
ORDER = [DISPLAY_NAMES[e] for e in EMOTIONS]


def _rows(spec):
    """The rows of the chart's (single) inline dataset."""
    (rows,) = spec["datasets"].values()
    return rows


def _encodings(spec):
    if "layer" in spec:
        return [layer["encoding"] for layer in spec["layer"]]
    if "spec" in spec:
        return [spec["spec"]["encoding"]]
    return [spec["encoding"]]


def test_probability_bar_chart():
    spec = charts.probability_bar_chart(SCORES).to_dict()
    rows = _rows(spec)
    assert [r["emotion"] for r in rows] == ORDER
    assert [r["probability"] for r in rows] == pytest.approx(list(SCORES.values()))
    assert rows[3]["label"] == "60%"
    bars = spec["layer"][0]
    assert bars["mark"]["type"] == "bar"
    enc = {**spec.get("encoding", {}), **bars["encoding"]}
    assert enc["x"]["field"] == "probability" and enc["y"]["field"] == "emotion"  # horizontal
    assert enc["y"]["sort"] == ORDER
    assert enc["color"]["scale"]["domain"] == ORDER
    assert enc["color"]["scale"]["range"] == [color_hex(e) for e in EMOTIONS]


def test_probability_bar_chart_accepts_display_names_and_missing():
    rows = _rows(charts.probability_bar_chart({"Happy": 0.9, "sad": 0.1}).to_dict())
    values = {r["emotion"]: r["probability"] for r in rows}
    assert values["Happy"] == pytest.approx(0.9) and values["Sad"] == pytest.approx(0.1)
    assert values["Angry"] == 0 and len(rows) == 7


def test_comparison_bar_chart_groups_models():
    other = dict(zip(EMOTIONS, [0.0, 0.0, 0.0, 0.2, 0.0, 0.0, 0.8]))
    spec = charts.comparison_bar_chart({"shallow": SCORES, "deep": other}).to_dict()
    rows = _rows(spec)
    assert len(rows) == 14
    assert {r["model"] for r in rows} == {"shallow", "deep"}
    deep = {r["emotion"]: r["probability"] for r in rows if r["model"] == "deep"}
    assert deep["Neutral"] == pytest.approx(0.8)
    enc = spec["encoding"]
    assert spec["mark"]["type"] == "bar"
    assert enc["yOffset"]["field"] == "model" and enc["color"]["field"] == "model"
    assert enc["y"]["field"] == "emotion" and enc["x"]["field"] == "probability"


def _timeline(times, probabilities, face_ids=None):
    """The long frame fer.output.results.Results.timeline() gives for these samples."""
    rows = [
        {
            "time": t,
            "face_id": face_ids[i] if face_ids else 0,
            "label": EMOTIONS[int(np.argmax(p))],
            **dict(zip(EMOTIONS, p)),
        }
        for i, (t, p) in enumerate(zip(times, probabilities))
    ]
    return Results(rows, VIDEO_COLUMNS if face_ids else LIVE_COLUMNS).timeline()


def test_timeline_chart_from_long_frame():
    df = _timeline([0.0, 0.5, 1.0], np.tile(list(SCORES.values()), (3, 1)))
    assert list(df.columns) == ["time", "emotion", "probability"] and len(df) == 21
    spec = charts.timeline_chart(df).to_dict()
    rows = _rows(spec)
    assert len(rows) == 21 and {r["emotion"] for r in rows} == set(ORDER)
    enc = spec["encoding"]
    assert spec["mark"]["type"] == "line"
    assert enc["x"]["field"] == "time" and enc["y"]["field"] == "probability"
    assert enc["color"]["field"] == "emotion"
    assert enc["color"]["scale"]["range"] == [color_hex(e) for e in EMOTIONS]
    assert enc["x"]["axis"]["format"] == ".1f"  # a 1 s span: tenths, not repeated whole seconds
    long = _timeline([0.0, 60.0], np.tile(list(SCORES.values()), (2, 1)))
    assert charts.timeline_chart(long).to_dict()["encoding"]["x"]["axis"]["format"] == ".0f"


def test_timeline_chart_keys_and_faces():
    import pandas as pd

    df = pd.DataFrame(
        {
            "time": [0, 0, 1, 1],
            "emotion": ["happy", "sad", "happy", "sad"],
            "probability": [0.7, 0.3, 0.6, 0.4],
            "face_id": [1, 1, 1, 1],
        }
    )
    spec = charts.timeline_chart(df).to_dict()
    assert {r["emotion"] for r in _rows(spec)} == {"Happy", "Sad"}  # keys shown as names
    assert "facet" not in spec  # one face: no facet
    two = _timeline([0, 0], np.full((2, 7), 1 / 7), face_ids=[1, 2])
    spec = charts.timeline_chart(two).to_dict()
    assert spec["facet"]["row"]["field"] == "face_id"


def test_confusion_matrix_chart():
    cm = np.arange(49).reshape(7, 7)
    spec = charts.confusion_matrix_chart(cm, list(EMOTIONS)).to_dict()
    rows = _rows(spec)
    assert len(rows) == 49
    cell = next(r for r in rows if r["true"] == "Disgust" and r["predicted"] == "Happy")
    assert cell["count"] == cm[1, 3]
    assert cell["share"] == pytest.approx(cm[1, 3] / cm[1].sum())
    rect, text = spec["layer"]
    assert rect["mark"]["type"] == "rect" and text["mark"]["type"] == "text"
    assert text["encoding"]["text"]["field"] == "count"
    assert rect["encoding"]["color"]["field"] == "share"
    with pytest.raises(ValueError):
        charts.confusion_matrix_chart(np.zeros((2, 3)))


def test_per_class_f1_chart_single_and_grouped():
    per_class = {
        e: {"precision": 0.5, "recall": 0.5, "f1": i / 10, "support": 10 * i}
        for i, e in enumerate(EMOTIONS)
    }
    spec = charts.per_class_f1_chart(per_class).to_dict()
    rows = _rows(spec)
    assert [r["emotion"] for r in rows] == ORDER
    assert [r["f1"] for r in rows] == pytest.approx([i / 10 for i in range(7)])
    assert spec["encoding"]["color"]["scale"]["range"] == [color_hex(e) for e in EMOTIONS]
    spec = charts.per_class_f1_chart({"plain": per_class, "flip TTA": per_class}).to_dict()
    assert len(_rows(spec)) == 14 and spec["encoding"]["xOffset"]["field"] == "series"


def test_training_history_chart():
    history = [
        {"epoch": 1, "accuracy": 0.3, "val_accuracy": 0.35, "loss": 1.7},
        {"epoch": 2, "accuracy": 0.5, "val_accuracy": 0.52, "loss": 1.3},
    ]
    spec = charts.training_history_chart(history).to_dict()
    rows = _rows(spec)
    assert len(rows) == 4 and {r["split"] for r in rows} == {"training", "validation"}
    assert (
        spec["encoding"]["x"]["field"] == "epoch" and spec["encoding"]["y"]["field"] == "accuracy"
    )


def test_distribution_chart():
    counts = {"happy": 3, "Sad": 1}  # keys or display names; the missing emotions are 0
    spec = charts.distribution_chart(counts).to_dict()
    rows = _rows(spec)
    assert [r["emotion"] for r in rows] == ORDER
    assert {r["emotion"]: r["faces"] for r in rows} == {
        **dict.fromkeys(ORDER, 0),
        "Happy": 3,
        "Sad": 1,
    }
    (enc,) = _encodings(spec)
    assert enc["x"]["sort"] == ORDER and enc["y"]["field"] == "faces"
    assert enc["color"]["scale"]["range"] == [color_hex(e) for e in EMOTIONS]
    assert spec["mark"]["type"] == "bar" and spec["height"] == 240
