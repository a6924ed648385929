"""fer-dashboard: facial expression recognition in the browser. Run with

    streamlit run streamlit_app.py

This entry point sets the page up, draws the navigation and the shared sidebar (model, face
detector, minimum face size, test-time augmentation) and runs the chosen page from ``pages/``.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
if str(ROOT) not in sys.path:  # `streamlit run` adds it; other launchers may not
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

st.set_page_config(
    page_title="FER dashboard",
    page_icon=":material/mood:",
    layout="wide",
    menu_items={
        "About": "Facial expression recognition (FER2013's seven "
        "expressions). Everything runs locally."
    },
)

from fer.serving.runtime import configure_opencv_threads  # noqa: E402
from pages._common import sidebar  # noqa: E402

configure_opencv_threads()  # the server's frames are small and its cores shared: see there

PAGES_DIR = ROOT / "pages"

# (file, title, icon, description for the home page)
PAGE_SPECS = [
    (
        "photo.py",
        "Photo",
        ":material/photo_camera:",
        "Upload a photo or take a snapshot: every face boxed, labelled and scored; downloads as "
        "PNG, JSON and CSV; an optional heatmap of what the model looked at.",
    ),
    (
        "live.py",
        "Live",
        ":material/videocam:",
        "Your webcam, analysed frame by frame with smoothed labels, FPS and a rolling chart.",
    ),
    (
        "video.py",
        "Video",
        ":material/movie:",
        "A recorded video: faces followed over time, an annotated copy and a timeline.",
    ),
    (
        "batch.py",
        "Batch",
        ":material/photo_library:",
        "Many photos at once, summarised in one table.",
    ),
    (
        "compare.py",
        "Compare",
        ":material/compare:",
        "The shallow and the deep model side by side on one photo, with their timings.",
    ),
    (
        "models.py",
        "Models",
        ":material/model_training:",
        "Model cards: accuracy, per-class F1, confusion matrices, speed, size and training recipe.",
    ),
]


PAGES = [
    (st.Page(PAGES_DIR / file, title=title, icon=icon, url_path=Path(file).stem), text)
    for file, title, icon, text in PAGE_SPECS
]


def home() -> None:
    st.title("Facial expression recognition")
    st.write(
        "Find the faces in a photo, a video or your webcam and tell which of seven expressions "
        "each one shows: angry, disgust, fear, happy, sad, surprise or neutral. Two models "
        "trained on FER2013 do the work: a **shallow** one that is fast and a **deep** one that "
        "is more accurate."
    )
    st.info(
        "Everything runs on this machine: photos, videos and webcam frames are analysed "
        "locally and never uploaded anywhere.",
        icon=":material/lock:",
    )
    st.subheader("Pages")
    for page, text in PAGES:
        st.page_link(page, label=page.title, icon=page.icon)
        st.caption(text)
    st.caption(
        "Choose the model, the face detector, the minimum face size and flip test-time "
        "augmentation in the sidebar; every page uses them."
    )


home_page = st.Page(home, title="Home", icon=":material/home:", url_path="home", default=True)
navigation = st.navigation([home_page, *(page for page, _ in PAGES)])
sidebar()
navigation.run()
