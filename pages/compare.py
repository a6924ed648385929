"""Compare: one photo through the shallow and the deep model side by side. Faces are detected
once and both models classify the same boxes, so only the models differ."""

from __future__ import annotations

import streamlit as st

from fer.emotions import DISPLAY_NAMES
from fer.jobs.comparison import Comparison, compare_models
from fer.output.charts import comparison_bar_chart
from fer.output.drawing import annotate
from fer.serving.registry import MODEL_NAMES, available_models
from fer.serving.tta import TTA_LABELS
from pages._common import (
    FAILED,
    for_display,
    get_config,
    memo,
    photo_input,
    run_or_report,
    show_model_missing,
)


def installed_names() -> list[str]:
    """The models to compare, in canonical order; a missing one is said in a warning."""
    installed = [m.name for m in available_models()]
    names = [n for n in MODEL_NAMES if n in installed]
    missing = [n for n in MODEL_NAMES if n not in installed]
    if names and missing:
        st.warning(
            f"The {' and '.join(missing)} model is not installed, so only "
            f"{' and '.join(names)} is shown. Train it with `python -m fer train --arch "
            f"{missing[0]} --data ../shared/datasets/fer2013`."
        )
    return names


def show_models(photo, result: Comparison) -> None:
    """Each model's annotated photo and latency, side by side."""
    n = len(result.boxes)
    for column, (name, run) in zip(st.columns(len(result.models)), result.models.items()):
        with column:
            st.subheader(name)
            st.image(for_display(annotate(photo.image, run.faces, numbered=True)))
            st.metric(
                f"{name} latency on this photo",
                f"{run.ms:.1f} ms",
                help=f"Classifying all {n} face(s) in one batch (detection excluded).",
            )


def show_face(result: Comparison, i: int) -> None:
    """Face ``i``: whether the models agree, and their probabilities as grouped bars."""
    faces = result.face(i)
    with st.container(border=True):
        st.markdown(f"**Face {i + 1}**")
        if len(faces) < 2:
            ((name, face),) = faces.items()
            st.info(
                f"{name}: {DISPLAY_NAMES[face.label]} ({100 * face.confidence:.0f}%); "
                "no second model to compare with."
            )
        elif result.agree(i):
            st.success(
                "Both models agree: "
                + ", ".join(
                    f"{name} {DISPLAY_NAMES[f.label]} {100 * f.confidence:.0f}%"
                    for name, f in faces.items()
                ),
                icon=":material/check_circle:",
            )
        else:
            st.warning(
                "The models disagree: "
                + ", ".join(
                    f"{name} says {DISPLAY_NAMES[f.label]} ({100 * f.confidence:.0f}%)"
                    for name, f in faces.items()
                ),
                icon=":material/compare_arrows:",
            )
        st.altair_chart(
            comparison_bar_chart({name: f.scores for name, f in faces.items()}), width="stretch"
        )


def main() -> None:
    st.title("Compare models")
    st.caption("The same photo and the same face boxes through both models.")
    config = get_config()
    names = installed_names()
    if not names:
        show_model_missing(name=None)
        return
    photo = photo_input("compare")
    if photo is None:
        st.info("Choose a photo to compare the models on.", icon=":material/upload:")
        return
    key = (photo.digest, tuple(names), config.with_(model=names[0]))
    result = run_or_report(
        "Running both models…",
        lambda: memo("compare", key, lambda: compare_models(photo.image, config, names)),
    )
    if result is FAILED:
        return
    n = len(result.boxes)
    if n == 0:
        st.warning(
            f"No face found in {photo.name}. Try a lower minimum face size or the other "
            "face detector.",
            icon=":material/search_off:",
        )
        st.image(for_display(photo.image), caption=photo.name)
        return
    st.caption(
        f"{n} face{'s' if n != 1 else ''} found by {config.detector} in "
        f"{result.detect_ms:.0f} ms"
        + (f" · TTA: {TTA_LABELS[config.tta].lower()}" if config.tta != "off" else "")
    )
    show_models(photo, result)
    for i in range(n):
        show_face(result, i)


main()
