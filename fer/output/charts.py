"""Altair charts for the dashboard: expression probabilities, model comparisons, timelines and
model-card figures. Pure functions (no Streamlit) that return altair charts, so they can be
tested through ``chart.to_dict()`` and shown with ``st.altair_chart``.

Emotions are shown by their display names (``Happy``) in canonical order, each in its colour
from :mod:`fer.emotions`; inputs may use either the keys (``happy``) or the display names.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import altair as alt
import numpy as np
import pandas as pd

from ..emotions import DISPLAY_NAMES, EMOTIONS, color_hex

#: Display names in canonical order: the sort order of every emotion axis.
EMOTION_ORDER: list[str] = [DISPLAY_NAMES[e] for e in EMOTIONS]

_KEY_FROM_NAME = {DISPLAY_NAMES[e]: e for e in EMOTIONS}


def emotion_color_scale() -> alt.Scale:
    """Colour scale mapping each display name to its emotion's colour."""
    return alt.Scale(domain=EMOTION_ORDER, range=[color_hex(e) for e in EMOTIONS])


#: Colours for models / series (not emotions): Tableau blue, orange, green, purple.
SERIES_COLORS = ["#4c78a8", "#f58518", "#54a24b", "#b279a2"]


def _series_color(field: str, names: list[str]) -> alt.Color:
    """One colour per named series, in that order, the legend below the chart."""
    return alt.Color(
        field,
        sort=names,
        scale=_series_scale(names),
        title=None,
        legend=alt.Legend(orient="bottom"),
    )


def _series_scale(names: Sequence[str]) -> alt.Scale:
    if 0 < len(names) <= len(SERIES_COLORS):
        return alt.Scale(domain=list(names), range=SERIES_COLORS[: len(names)])
    return alt.Scale(scheme="tableau10")


def _display(emotion: str) -> str:
    """``happy`` or ``Happy`` -> ``Happy``; unknown names pass through unchanged."""
    if emotion in DISPLAY_NAMES:
        return DISPLAY_NAMES[emotion]
    return emotion


def _ordered_scores(scores: Mapping[str, float]) -> list[tuple[str, float]]:
    """``(display name, value)`` for the seven emotions in canonical order (missing -> 0)."""
    by_key = {_KEY_FROM_NAME.get(k, k): float(v) for k, v in scores.items()}
    return [(DISPLAY_NAMES[e], by_key.get(e, 0.0)) for e in EMOTIONS]


def probability_bar_chart(
    scores: Mapping[str, float], title: str | None = None, height: int = 220
) -> alt.LayerChart:
    """Horizontal bars of one face's seven probabilities, in the emotion colours, with the
    percentage written beside each bar."""
    data = pd.DataFrame(
        [
            {"emotion": name, "probability": value, "label": f"{100 * value:.0f}%"}
            for name, value in _ordered_scores(scores)
        ]
    )
    base = alt.Chart(data).encode(
        y=alt.Y("emotion:N", sort=EMOTION_ORDER, title=None, axis=alt.Axis(labelOverlap=False)),
        x=alt.X(
            "probability:Q",
            scale=alt.Scale(domain=[0, 1]),
            axis=alt.Axis(format="%", tickCount=5),
            title=None,
        ),
        tooltip=[alt.Tooltip("emotion:N"), alt.Tooltip("probability:Q", format=".1%")],
    )
    bars = base.mark_bar().encode(
        color=alt.Color("emotion:N", scale=emotion_color_scale(), legend=None)
    )
    text = base.mark_text(align="left", dx=3).encode(text="label:N")
    chart = alt.layer(bars, text).properties(height=height)
    return chart.properties(title=title) if title else chart


def comparison_bar_chart(
    scores_by_model: Mapping[str, Mapping[str, float]], title: str | None = None, height: int = 300
) -> alt.Chart:
    """Grouped horizontal bars: for each emotion, one bar per model (colour = model)."""
    rows = [
        {"model": model, "emotion": name, "probability": value}
        for model, scores in scores_by_model.items()
        for name, value in _ordered_scores(scores)
    ]
    models = list(scores_by_model)
    data = pd.DataFrame(rows, columns=["model", "emotion", "probability"])
    chart = (
        alt.Chart(data)
        .mark_bar()
        .encode(
            y=alt.Y("emotion:N", sort=EMOTION_ORDER, title=None),
            yOffset=alt.YOffset("model:N", sort=models),
            x=alt.X(
                "probability:Q",
                scale=alt.Scale(domain=[0, 1]),
                axis=alt.Axis(format="%", tickCount=5),
                title="probability",
            ),
            color=alt.Color(
                "model:N",
                sort=models,
                title="model",
                scale=_series_scale(models),
                legend=alt.Legend(orient="bottom"),
            ),
            tooltip=[
                alt.Tooltip("model:N"),
                alt.Tooltip("emotion:N"),
                alt.Tooltip("probability:Q", format=".1%"),
            ],
        )
        .properties(height=height)
    )
    return chart.properties(title=title) if title else chart


def distribution_chart(counts: Mapping[str, int], height: int = 240) -> alt.Chart:
    """Vertical bars of how many faces got each label (``{emotion: count}``, keys or display
    names), in the emotion colours and canonical order (the Batch page's mix of expressions)."""
    data = pd.DataFrame(
        [{"emotion": name, "faces": int(value)} for name, value in _ordered_scores(counts)],
        columns=["emotion", "faces"],
    )
    return (
        alt.Chart(data)
        .mark_bar()
        .encode(
            x=alt.X("emotion:N", sort=EMOTION_ORDER, title=None, axis=alt.Axis(labelAngle=0)),
            y=alt.Y("faces:Q", title="faces", axis=alt.Axis(tickMinStep=1)),
            color=alt.Color("emotion:N", scale=emotion_color_scale(), legend=None),
            tooltip=["emotion", "faces"],
        )
        .properties(height=height)
    )


def timeline_chart(
    df: pd.DataFrame, title: str | None = None, height: int = 300, time_title: str = "time (s)"
) -> alt.Chart:
    """Probabilities over time, one line per emotion in its colour. ``df`` is long-format with
    columns ``time`` (seconds), ``emotion`` and ``probability``; with a ``face_id`` column holding
    more than one face, one row of the chart per face. ``height`` is the whole chart's: under
    ``st.altair_chart`` the axes and the legend fit inside it."""
    data = df.copy()
    data["emotion"] = data["emotion"].map(_display)
    data["probability"] = data["probability"].astype(float)
    span = float(data["time"].max() - data["time"].min()) if len(data) else 0.0
    # whole seconds would repeat on a short span ("0 0 0 1 1 ..."): tenths below 20 s
    time_format = ".1f" if span < 20 else ".0f"
    chart = (
        alt.Chart(data)
        .mark_line(interpolate="monotone", clip=True)
        .encode(
            x=alt.X("time:Q", title=time_title, axis=alt.Axis(format=time_format)),
            y=alt.Y(
                "probability:Q",
                scale=alt.Scale(domain=[0, 1]),
                axis=alt.Axis(format="%"),
                title="probability",
            ),
            color=alt.Color(
                "emotion:N",
                scale=emotion_color_scale(),
                sort=EMOTION_ORDER,
                legend=alt.Legend(orient="bottom", title=None),
            ),
            tooltip=[
                alt.Tooltip("time:Q", format=".1f"),
                alt.Tooltip("emotion:N"),
                alt.Tooltip("probability:Q", format=".1%"),
            ],
        )
        .properties(height=height)
    )
    if "face_id" in data.columns and data["face_id"].nunique() > 1:
        chart = chart.facet(row=alt.Row("face_id:N", title="face"))
    return chart.properties(title=title) if title else chart


def confusion_matrix_chart(
    matrix: Sequence[Sequence[int]] | np.ndarray,
    labels: Sequence[str] | None = None,
    title: str | None = None,
    size: int = 320,
) -> alt.LayerChart:
    """Heatmap of a confusion matrix (rows: true label, columns: prediction) with the counts
    written in the cells; colour is the share of the true class (row-normalised), so rare
    classes read as clearly as common ones."""
    cm = np.asarray(matrix, dtype=np.int64)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1]:
        raise ValueError(f"confusion matrix must be square, got shape {cm.shape}")
    names = [
        _display(str(lb)) for lb in (labels if labels is not None else EMOTIONS[: cm.shape[0]])
    ]
    if len(names) != cm.shape[0]:
        raise ValueError(f"{len(names)} labels for a {cm.shape[0]}x{cm.shape[0]} matrix")
    totals = cm.sum(axis=1, keepdims=True)
    share = np.divide(cm, totals, out=np.zeros(cm.shape, np.float64), where=totals > 0)
    data = pd.DataFrame(
        [
            {
                "true": names[i],
                "predicted": names[j],
                "count": int(cm[i, j]),
                "share": float(share[i, j]),
            }
            for i in range(cm.shape[0])
            for j in range(cm.shape[1])
        ]
    )
    base = alt.Chart(data).encode(
        x=alt.X(
            "predicted:N",
            sort=names,
            title="predicted",
            axis=alt.Axis(labelAngle=-40, labelOverlap=False),
        ),
        y=alt.Y("true:N", sort=names, title="true", axis=alt.Axis(labelOverlap=False)),
    )
    cells = base.mark_rect().encode(
        color=alt.Color(
            "share:Q",
            scale=alt.Scale(scheme="blues", domain=[0, 1]),
            legend=alt.Legend(title="share of row", format="%"),
        ),
        tooltip=[
            alt.Tooltip("true:N"),
            alt.Tooltip("predicted:N"),
            alt.Tooltip("count:Q"),
            alt.Tooltip("share:Q", format=".1%"),
        ],
    )
    text = base.mark_text(fontSize=11).encode(
        text="count:Q",
        color=alt.condition(alt.datum.share > 0.5, alt.value("white"), alt.value("black")),
    )
    chart = alt.layer(cells, text).properties(width=size, height=size)
    return chart.properties(title=title) if title else chart


def per_class_f1_chart(
    per_class: Mapping[str, Mapping],
    metric: str = "f1",
    title: str | None = None,
    height: int = 220,
) -> alt.Chart:
    """Bars of a per-class metric (default F1) from a classification report's ``per_class``
    (``{emotion: {precision, recall, f1, support}}``). Pass ``{series: per_class, ...}`` (e.g.
    ``{"plain": ..., "flip TTA": ...}``) for grouped bars, one colour per series."""
    keys = set(per_class)
    single = bool(keys) and all(_KEY_FROM_NAME.get(k, k) in EMOTIONS for k in keys)
    series = {"": per_class} if single else dict(per_class)
    rows = []
    for name, report in series.items():
        by_key = {_KEY_FROM_NAME.get(k, k): v for k, v in report.items()}
        for e in EMOTIONS:
            values = by_key.get(e) or {}
            rows.append(
                {
                    "series": name,
                    "emotion": DISPLAY_NAMES[e],
                    metric: float(values.get(metric, 0.0)),
                    "support": int(values.get("support", 0)),
                }
            )
    data = pd.DataFrame(rows, columns=["series", "emotion", metric, "support"])
    enc = {
        "x": alt.X("emotion:N", sort=EMOTION_ORDER, title=None, axis=alt.Axis(labelAngle=0)),
        "y": alt.Y(
            f"{metric}:Q",
            scale=alt.Scale(domain=[0, 1]),
            title=metric.upper() if metric == "f1" else metric,
        ),
        "tooltip": [
            alt.Tooltip("emotion:N"),
            alt.Tooltip(f"{metric}:Q", format=".3f"),
            alt.Tooltip("support:Q"),
        ],
    }
    if single:
        enc["color"] = alt.Color("emotion:N", scale=emotion_color_scale(), legend=None)
    else:
        names = list(series)
        enc["xOffset"] = alt.XOffset("series:N", sort=names)
        enc["color"] = alt.Color(
            "series:N",
            sort=names,
            title=None,
            scale=_series_scale(names),
            legend=alt.Legend(orient="bottom"),
        )
        enc["tooltip"] = [alt.Tooltip("series:N"), *enc["tooltip"]]
    chart = alt.Chart(data).mark_bar().encode(**enc).properties(height=height)
    return chart.properties(title=title) if title else chart


def training_history_chart(history: Sequence[Mapping], height: int = 220) -> alt.Chart:
    """Training and validation accuracy per epoch from a model card's ``training.history``."""
    rows = []
    for h in history:
        for key, name in (("accuracy", "training"), ("val_accuracy", "validation")):
            if key in h:
                rows.append({"epoch": int(h["epoch"]), "split": name, "accuracy": float(h[key])})
    data = pd.DataFrame(rows, columns=["epoch", "split", "accuracy"])
    names = ["training", "validation"]
    return (
        alt.Chart(data)
        .mark_line(point=len(history) <= 40)
        .encode(
            x=alt.X("epoch:Q", axis=alt.Axis(tickMinStep=1)),
            y=alt.Y("accuracy:Q", axis=alt.Axis(format="%"), scale=alt.Scale(zero=False)),
            color=_series_color("split:N", names),
            tooltip=["epoch:Q", "split:N", alt.Tooltip("accuracy:Q", format=".2%")],
        )
        .properties(height=height)
    )


def reliability_chart(series: Mapping[str, Sequence[Mapping]], height: int = 260) -> alt.LayerChart:
    """Reliability diagram: accuracy against mean confidence per confidence bin (the bins of
    :func:`fer.quality.calibration.reliability_bins`), one line per series (e.g. uncalibrated and
    with a temperature), point size by the faces in the bin, and the diagonal of perfect
    calibration."""
    rows = [
        {
            "series": name,
            "confidence": float(b["confidence"]),
            "accuracy": float(b["accuracy"]),
            "faces": int(b["count"]),
        }
        for name, bins in series.items()
        for b in bins
    ]
    data = pd.DataFrame(rows, columns=["series", "confidence", "accuracy", "faces"])
    names = list(series)
    axis = alt.Axis(format="%", tickCount=5)
    diagonal = (
        alt.Chart(pd.DataFrame({"confidence": [0.0, 1.0], "accuracy": [0.0, 1.0]}))
        .mark_line(strokeDash=[4, 4], color="gray")
        .encode(x="confidence:Q", y="accuracy:Q")
    )
    lines = (
        alt.Chart(data)
        .mark_line(point=False)
        .encode(
            x=alt.X(
                "confidence:Q",
                scale=alt.Scale(domain=[0, 1]),
                axis=axis,
                title="confidence (mean of the bin)",
            ),
            y=alt.Y("accuracy:Q", scale=alt.Scale(domain=[0, 1]), axis=axis, title="accuracy"),
            color=_series_color("series:N", names),
        )
    )
    points = lines.mark_circle().encode(
        size=alt.Size("faces:Q", legend=None),
        tooltip=[
            alt.Tooltip("series:N"),
            alt.Tooltip("confidence:Q", format=".1%"),
            alt.Tooltip("accuracy:Q", format=".1%"),
            alt.Tooltip("faces:Q"),
        ],
    )
    return alt.layer(diagonal, lines, points).properties(height=height)


def robustness_chart(rows: Sequence[Mapping], height: int = 300) -> alt.LayerChart:
    """Accuracy per shift of the robustness suite (rows of
    :func:`fer.quality.robustness.robustness_rows`), a bar per shift and a rule at the clean
    accuracy."""
    data = pd.DataFrame(
        [
            {"shift": r["shift"], "accuracy": float(r["accuracy"]), "drop": float(r["drop"])}
            for r in rows
            if r["shift"] != "clean"
        ],
        columns=["shift", "accuracy", "drop"],
    )
    clean = [float(r["accuracy"]) for r in rows if r["shift"] == "clean"]
    bars = (
        alt.Chart(data)
        .mark_bar(color=SERIES_COLORS[0])
        .encode(
            y=alt.Y("shift:N", sort=list(data["shift"]), title=None),
            x=alt.X(
                "accuracy:Q",
                scale=alt.Scale(domain=[0, 1]),
                axis=alt.Axis(format="%"),
                title="accuracy",
            ),
            tooltip=[
                "shift:N",
                alt.Tooltip("accuracy:Q", format=".1%"),
                alt.Tooltip("drop:Q", format=".1%", title="drop from clean"),
            ],
        )
    )
    layers = [bars]
    if clean:
        layers.append(
            alt.Chart(pd.DataFrame({"clean": clean}))
            .mark_rule(color=SERIES_COLORS[1], strokeWidth=2)
            .encode(x="clean:Q")
        )
    return alt.layer(*layers).properties(height=height)
