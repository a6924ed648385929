"""Photo: every face in an uploaded photo or a camera snapshot, boxed, labelled and scored."""

from __future__ import annotations

import json

import numpy as np
import streamlit as st

from fer.emotions import DISPLAY_NAMES
from fer.errors import ModelNotFoundError
from fer.output import explain
from fer.output.charts import probability_bar_chart
from fer.output.drawing import annotate
from fer.output.results import Results
from fer.serving.analyzer import get_analyzer
from fer.vision.image_io import image_to_png_bytes
from pages._common import (
    FAILED,
    download_row,
    face_crop,
    for_display,
    get_config,
    memo,
    photo_input,
    require_model,
    run_or_report,
    show_model_missing,
    stem,
)


def show_explanations(analyzer, image: np.ndarray, faces, key: tuple) -> None:
    """Heatmaps of what the model looked at, one per face (fer.output.explain)."""
    try:
        with st.spinner("Computing heatmaps (a worker process loads the Keras model)…"):
            explained = memo(
                "photo_explain", key, lambda: explain.explain_analysis(analyzer, image, faces)
            )
    except ModelNotFoundError as exc:
        show_model_missing(exc)
        return
    except Exception as exc:  # an optional view must never take the page down
        st.warning(f"Could not compute the heatmaps: {exc}")
        return
    st.caption("Warmer areas weighed more in the predicted label.")
    columns = st.columns(min(4, max(1, len(explained))))
    for i, (face, (crop, overlay)) in enumerate(zip(faces, explained)):
        with columns[i % len(columns)]:
            st.image(
                [crop, overlay],
                width=120,
                caption=[f"Face {i + 1}", f"{DISPLAY_NAMES[face.label]}: heatmap"],
            )


def show_faces(photo, faces) -> None:
    """One card per face: its crop, label, confidence and probability chart; then the table."""
    for i, face in enumerate(faces, start=1):
        with st.container(border=True):
            left, right = st.columns([1, 3], vertical_alignment="center")
            with left:
                st.image(face_crop(photo.image, face.box), width=110)
                st.markdown(
                    f"**{i}. {DISPLAY_NAMES[face.label]}**  \n"
                    f"{100 * face.confidence:.0f}% confidence"
                )
            with right:
                st.altair_chart(probability_bar_chart(face.scores), width="stretch")
    st.subheader("All faces")
    table = Results.from_faces(faces, image=photo.name).to_dataframe(display=True)
    st.dataframe(table.drop(columns=["image", "error"]), hide_index=True)


def downloads(photo, faces, annotated_image: np.ndarray, config) -> None:
    result = {
        "image": photo.name,
        "model": config.model,
        "detector": config.detector,
        "tta": config.tta,
        "faces": [f.to_dict() for f in faces],
    }
    base = stem(photo.name)
    download_row(
        [
            (
                "Annotated image (PNG)",
                lambda: image_to_png_bytes(annotated_image),
                f"{base}-annotated.png",
                "image/png",
            ),
            (
                "Results (JSON)",
                json.dumps(result, indent=1),
                f"{base}-faces.json",
                "application/json",
            ),
            (
                "Results (CSV)",
                Results.from_images([result]).to_csv(),
                f"{base}-faces.csv",
                "text/csv",
            ),
        ]
    )


def main() -> None:
    st.title("Photo")
    st.caption("Upload a photo or take a snapshot; every face is found and its expression scored.")
    config = get_config()
    photo = photo_input("photo")
    if photo is None:
        st.info(
            "Choose a photo to analyse: JPEG, PNG, WebP, BMP or TIFF.", icon=":material/upload:"
        )
        return
    if not require_model(config):
        st.image(for_display(photo.image), caption=photo.name)
        return
    key = (photo.digest, config)
    analyzer = run_or_report("Loading the model…", lambda: get_analyzer(config))
    faces = (
        FAILED
        if analyzer is FAILED
        else run_or_report(
            "Analysing…", lambda: memo("photo", key, lambda: analyzer.analyze(photo.image))
        )
    )
    if faces is FAILED:
        return
    if analyzer.notice:
        st.caption(analyzer.notice)
    if not faces:
        st.warning(
            f"No face found in {photo.name}. Try a larger or sharper photo, a lower "
            "minimum face size or the other face detector.",
            icon=":material/search_off:",
        )
        st.image(for_display(photo.image), caption=photo.name)
        return
    annotated_image = annotate(photo.image, faces, numbered=True)
    n = len(faces)
    st.image(
        for_display(annotated_image),
        caption=f"{photo.name}: {n} face{'s' if n != 1 else ''} ({config.model} model)",
    )
    show_faces(photo, faces)
    downloads(photo, faces, annotated_image, config)
    if st.checkbox(
        "Why this label?",
        key="photo_explain",
        help="Show, for each face, which parts of the face drove the prediction.",
    ):
        show_explanations(analyzer, photo.image, faces, key)


main()
