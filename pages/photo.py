"""Photo: every face in an uploaded photo or a camera snapshot, boxed, labelled and scored."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import streamlit as st

from fer import explain
from fer.charts import probability_bar_chart
from fer.drawing import annotate
from fer.emotions import DISPLAY_NAMES, EMOTIONS
from fer.errors import FerError, ModelNotFoundError
from fer.exports import ROW_FIELDS, results_to_rows, rows_to_csv
from fer.image_io import image_to_png_bytes
from fer.preprocessing import margin_for
from pages._common import (
    FAILED,
    download_row,
    face_crop,
    for_display,
    get_analyzer,
    get_classifier,
    get_settings,
    memo,
    photo_input,
    require_model,
    run_or_report,
    show_model_missing,
    stem,
)


def faces_table(faces) -> pd.DataFrame:
    """One row per face: number, box, label, confidence and the seven probabilities."""
    rows = []
    for i, face in enumerate(faces, start=1):
        x, y, w, h = face.box
        rows.append({"face": i, "label": DISPLAY_NAMES[face.label],
                     "confidence": round(face.confidence, 3), "x": x, "y": y, "w": w, "h": h,
                     **{DISPLAY_NAMES[e]: round(float(p), 3)
                        for e, p in zip(EMOTIONS, face.probabilities)}})
    return pd.DataFrame(rows)


def show_explanations(settings, image: np.ndarray, faces, key: tuple, margin) -> None:
    """Heatmaps of what the model looked at, one per face (fer.explain)."""
    try:
        info, _ = get_classifier(settings.model)
        boxes = [f.box for f in faces]
        # explain the label shown (with TTA it may differ from the plain top class)
        with st.spinner("Computing heatmaps (a worker process loads the Keras model)…"):
            heatmaps = memo("photo_explain", key,
                            lambda: explain.explain_faces(info, image, boxes,
                                                          target=[f.label for f in faces],
                                                          margin=margin))
            crops = explain.face_crops(image, boxes, margin=margin)
            overlays = [explain.overlay_heatmap(c, h) for c, h in zip(crops, heatmaps)]
    except ModelNotFoundError as exc:
        show_model_missing(exc)
        return
    except FerError as exc:
        st.warning(f"Could not compute the heatmaps: {exc}")
        return
    except Exception as exc:  # an optional view must never take the page down
        st.warning(f"Could not compute the heatmaps: {exc}")
        return
    st.caption("Warmer areas weighed more in the predicted label.")
    columns = st.columns(min(4, max(1, len(overlays))))
    for i, (face, crop, overlay) in enumerate(zip(faces, crops, overlays)):
        with columns[i % len(columns)]:
            st.image([crop, overlay], width=120,
                     caption=[f"Face {i + 1}", f"{DISPLAY_NAMES[face.label]}: heatmap"])


def main() -> None:
    st.title("Photo")
    st.caption("Upload a photo or take a snapshot; every face is found and its expression "
               "scored.")
    settings = get_settings()
    photo = photo_input("photo")
    if photo is None:
        st.info("Choose a photo to analyse: JPEG, PNG, WebP, BMP or TIFF.",
                icon=":material/upload:")
        return
    if not require_model(settings):
        st.image(for_display(photo.image), caption=photo.name)
        return

    key = (photo.digest, settings.model, settings.detector, settings.tta, settings.min_face)
    analyzer = run_or_report("Loading the model…", lambda: get_analyzer(
        settings.model, settings.detector, settings.tta, settings.min_face))
    if analyzer is FAILED:
        return
    faces = run_or_report("Analysing…", lambda: memo("photo", key, lambda: analyzer.analyze(photo.image)))
    if faces is FAILED:
        return
    if analyzer.notice:
        st.caption(analyzer.notice)

    if not faces:
        st.warning(f"No face found in {photo.name}. Try a larger or sharper photo, a lower "
                   "minimum face size or the other face detector.", icon=":material/search_off:")
        st.image(for_display(photo.image), caption=photo.name)
        return

    annotated = annotate(photo.image, faces, numbered=True)
    n = len(faces)
    st.image(for_display(annotated), caption=f"{photo.name}: {n} face{'s' if n != 1 else ''} "
                                             f"({settings.model} model)")

    for i, face in enumerate(faces, start=1):
        with st.container(border=True):
            left, right = st.columns([1, 3], vertical_alignment="center")
            with left:
                st.image(face_crop(photo.image, face.box), width=110)
                st.markdown(f"**{i}. {DISPLAY_NAMES[face.label]}**  \n"
                            f"{100 * face.confidence:.0f}% confidence")
            with right:
                st.altair_chart(probability_bar_chart(face.scores), width="stretch")

    st.subheader("All faces")
    st.dataframe(faces_table(faces), hide_index=True)

    result = {"image": photo.name, "model": settings.model, "detector": settings.detector,
              "tta": settings.tta, "faces": [f.to_dict() for f in faces]}
    base = stem(photo.name)
    download_row([
        ("Annotated image (PNG)", lambda: image_to_png_bytes(annotated), f"{base}-annotated.png",
         "image/png"),
        ("Results (JSON)", json.dumps(result, indent=1), f"{base}-faces.json", "application/json"),
        ("Results (CSV)", rows_to_csv(results_to_rows([result]), ROW_FIELDS), f"{base}-faces.csv",
         "text/csv"),
    ])

    if st.checkbox("Why this label?", key="photo_explain",
                   help="Show, for each face, which parts of the face drove the prediction."):
        # the crops the model classified: the detector's FER2013-framing margin
        show_explanations(settings, photo.image, faces, key,
                          margin_for(getattr(analyzer.detector, "name", None)))


main()
