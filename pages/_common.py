"""Shared UI of the dashboard pages: the sidebar (which builds the session's
:class:`fer.config.AnalysisConfig`), photo input, and the messages shown when something is
missing.

Imported by the pages as ``from pages._common import ...`` (Streamlit puts the app's folder on
``sys.path``). Models, detectors and analyzers are not cached here: :func:`fer.get_analyzer`
keeps one of each per process, shared by all sessions (they are thread-safe).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import streamlit as st

from fer.config import DEFAULT_MODEL, MIN_FACE, AnalysisConfig
from fer.errors import ImageLoadError, ModelNotFoundError
from fer.serving.registry import ModelInfo, available_models, get_model_info
from fer.serving.tta import TTA_LABELS, TTA_MODES
from fer.vision.detection import (
    available_detectors,
    current_notice,
    downloads_disabled,
    get_detector,
    retry_yunet_download,
)
from fer.vision.image_io import IMAGE_EXTENSIONS, load_image, shrink_to_side

#: File types the photo uploaders accept (without dots).
IMAGE_TYPES = [ext.lstrip(".") for ext in IMAGE_EXTENSIONS]
#: Longest side of images sent to the browser; downloads keep full resolution.
DISPLAY_MAX_SIDE = 1600

DETECTOR_LABELS = {
    "yunet": "YuNet (accurate, landmarks)",
    "haar": "Haar cascade (built in)",
    "auto": "Automatic",
}

# session_state keys of the sidebar widgets
K_MODEL, K_DETECTOR, K_MIN_FACE, K_TTA = "fer_model", "fer_detector", "fer_min_face", "fer_tta"


# --------------------------------------------------------------------------------------------
# sidebar


def installed_models() -> dict[str, ModelInfo]:
    """The installed models by name, in canonical order (shallow first)."""
    return {m.name: m for m in available_models()}


def _repair_state(installed: dict[str, ModelInfo], detectors: list[str]) -> None:
    """Valid values for every sidebar widget in session_state: defaults on a first run, and a
    replacement for a value that went away (a model was removed)."""
    state = st.session_state
    if state.get(K_MODEL) not in installed:
        state[K_MODEL] = (
            DEFAULT_MODEL if DEFAULT_MODEL in installed else next(iter(installed), None)
        )
    if state.get(K_DETECTOR) not in detectors:
        state[K_DETECTOR] = detectors[0]  # available_detectors() lists the best first
    if not isinstance(state.get(K_MIN_FACE), int):
        state[K_MIN_FACE] = MIN_FACE
    if state.get(K_TTA) not in TTA_MODES:
        state[K_TTA] = "off"


def _config_from_state() -> AnalysisConfig | None:
    """The configuration the sidebar's widgets hold; None when no model is installed."""
    state = st.session_state
    if state.get(K_MODEL) is None:
        return None
    return AnalysisConfig(
        model=state[K_MODEL],
        detector=state[K_DETECTOR],
        tta=state[K_TTA],
        min_face=state[K_MIN_FACE],
    )


def sidebar() -> AnalysisConfig | None:
    """Draw the shared settings in the sidebar and return the session's configuration."""
    installed = installed_models()
    detectors = available_detectors(download=True)  # at most one attempt a day
    _repair_state(installed, detectors)
    with st.sidebar:
        st.subheader("Settings")
        if installed:
            st.selectbox(
                "Model",
                list(installed),
                key=K_MODEL,
                format_func=lambda name: installed[name].summary(),
                help="shallow: small and fast; deep: more accurate, slower. Accuracy is on "
                "FER2013's PublicTest split; ms/face is one face at a time on the machine "
                "that measured it.",
            )
        else:
            st.warning("No trained model is installed yet: see the Models page.")
        detector = st.selectbox(
            "Face detector",
            detectors,
            key=K_DETECTOR,
            format_func=lambda name: DETECTOR_LABELS.get(name, name),
            help="YuNet finds smaller, turned and partly hidden faces; the Haar cascade ships "
            "with OpenCV and always works.",
        )
        _detector_caption(detector, detectors)
        st.slider(
            "Minimum face size (px)",
            16,
            200,
            step=4,
            key=K_MIN_FACE,
            help="Smaller faces are ignored (shorter side of the face box, in image pixels).",
        )
        st.selectbox(
            "Test-time augmentation",
            TTA_MODES,
            key=K_TTA,
            format_func=TTA_LABELS.get,
            help=_tta_help(installed.get(st.session_state[K_MODEL])),
        )
        st.caption("Everything runs on this machine; no image leaves it.")
    return _config_from_state()


def _detector_caption(detector: str, detectors: list[str]) -> None:
    """Why YuNet is missing, or why the chosen detector fell back, under the selectbox."""
    if "yunet" not in detectors:
        st.caption(current_notice(how="the button below"))
        if not downloads_disabled() and st.button(
            "Try the YuNet download again", icon=":material/download:"
        ):
            retry_yunet_download()  # its outcome shows in the caption or the list after the rerun
            st.rerun()
        return
    try:
        notice = get_detector(detector)[1]
    except Exception as exc:  # a broken detector file must not break every page
        notice = f"Face detector unavailable: {exc}"
    if notice:
        st.caption(notice)


def _tta_help(model: ModelInfo | None) -> str:
    text = (
        "Classify several views of each face and average them: the mirrored face (twice "
        "the work), or also 2-pixel shifts of both (ten times the work). More accurate, "
        "slower."
    )
    if model is None:
        return text
    measured = [
        f"{TTA_LABELS[m].split(' (')[0].lower()} {100 * a:.1f} %"
        for m, a in model.accuracy_by_tta().items()
    ]
    return text + f" {model.name} on PublicTest: " + ", ".join(measured) + "."


def ensure_entry_point() -> None:
    """Make the entry point run when a page file was run on its own.

    Because the app has a ``pages/`` folder, a fresh server answers its very first request in
    Streamlit's old folder-based multipage mode; if that request is for a page URL (a bookmark
    of /photo), the page file runs without streamlit_app.py: no sidebar, and a navigation
    listing every file in ``pages/``. The entry point's ``st.navigation`` ends that mode for
    the whole process; do what it does and rerun, so the entry point runs now."""
    try:
        from streamlit.runtime.pages_manager import PagesManager
    except ImportError:  # pragma: no cover - other Streamlit versions
        return
    if getattr(PagesManager, "uses_pages_directory", None):
        PagesManager.uses_pages_directory = False
        st.rerun()


def get_config() -> AnalysisConfig | None:
    """The session's configuration, as the sidebar holds it (None: no model installed). Pages
    call this first: it also makes sure the entry point (navigation, sidebar) ran."""
    ensure_entry_point()
    _repair_state(installed_models(), available_detectors())
    return _config_from_state()


# --------------------------------------------------------------------------------------------
# streamlit-webrtc


class WebRtcUnavailable(RuntimeError):
    """streamlit-webrtc cannot be used in this process."""


def import_webrtc():
    """The ``streamlit_webrtc`` module, or WebRtcUnavailable saying how to install it."""
    try:
        import streamlit_webrtc
    except ImportError as exc:
        raise WebRtcUnavailable(
            f"streamlit-webrtc is not installed ({exc}); `pip install streamlit-webrtc`."
        ) from None
    return streamlit_webrtc


# --------------------------------------------------------------------------------------------
# messages


def show_model_missing(exc: BaseException | None = None, name: str | None = None) -> None:
    """Say, without a traceback, that a model is missing and how to train it: ``st.info`` when
    no model is installed yet (the normal state before training), ``st.error`` when a model
    that should be there cannot be found or loaded."""
    if exc is None:
        try:
            get_model_info(name)
            return
        except ModelNotFoundError as err:
            exc = err
    text = str(exc)
    text = text[:1].upper() + text[1:]
    if not available_models():
        st.info(f"**No trained model is installed yet.** {text}.", icon=":material/info:")
    else:
        st.error(f"**Model not available.** {text}.", icon=":material/error:")


def require_model(config: AnalysisConfig | None) -> bool:
    """True when a model is installed; otherwise shows why and returns False."""
    if config is None:
        show_model_missing(name=None)
        return False
    return True


# --------------------------------------------------------------------------------------------
# photo input and display


@dataclass(frozen=True)
class Photo:
    image: np.ndarray  # RGB uint8
    name: str
    digest: str  # sha1 of the file: a cache key for results


def photo_input(key: str, label: str = "Upload a photo") -> Photo | None:
    """An uploaded photo or a camera snapshot, decoded; None when there is none yet. A file
    that is not a readable image gives one ``st.error`` line and None."""
    source = st.radio(
        "Source",
        ["Upload a file", "Camera snapshot"],
        key=f"{key}_source",
        horizontal=True,
        label_visibility="collapsed",
    )
    if source == "Camera snapshot":
        uploaded = st.camera_input("Take a snapshot", key=f"{key}_camera")
    else:
        uploaded = st.file_uploader(
            label,
            type=IMAGE_TYPES,
            key=f"{key}_upload",
            help="JPEG, PNG, WebP, BMP or TIFF, up to 50 MB. The photo "
            "is analysed on this machine and never stored.",
        )
    if uploaded is None:
        return None
    data = uploaded.getvalue()
    name = getattr(uploaded, "name", None) or "snapshot.jpg"
    try:
        image = load_image(data, name=name)
    except ImageLoadError as exc:
        st.error(str(exc))
        return None
    return Photo(image=image, name=name, digest=hashlib.sha1(data).hexdigest())


def memo(slot: str, key: tuple, compute):
    """``compute()`` once per ``key`` for this session's ``slot`` (only the last key is kept):
    reruns caused by other widgets do not analyse the same photo again."""
    entry = st.session_state.get(f"_memo_{slot}")
    if entry is not None and entry[0] == key:
        return entry[1]
    value = compute()
    st.session_state[f"_memo_{slot}"] = (key, value)
    return value


def for_display(image: np.ndarray, max_side: int = DISPLAY_MAX_SIDE) -> np.ndarray:
    """A copy shrunk so its longest side is at most ``max_side`` (what the browser gets)."""
    return shrink_to_side(image, max_side)[0]


def face_crop(image: np.ndarray, box, margin: float = 0.15) -> np.ndarray:
    """The face box with a small margin, clipped to the image (thumbnails)."""
    x, y, w, h = (int(v) for v in box)
    m = int(round(margin * max(w, h)))
    height, width = image.shape[:2]
    return image[max(0, y - m) : min(height, y + h + m), max(0, x - m) : min(width, x + w + m)]


def stem(name: str) -> str:
    return Path(name).stem or "photo"


def download_row(files: list[tuple[str, Any, str, str]]) -> None:
    """One row of download buttons, ``(label, data, file_name, mime)`` each; ``data`` None
    leaves its column empty. Downloads never rerun the page."""
    for column, (label, data, file_name, mime) in zip(st.columns(len(files)), files):
        if data is not None:
            column.download_button(
                label,
                data=data,
                file_name=file_name,
                mime=mime,
                icon=":material/download:",
                on_click="ignore",
            )


FAILED = object()


def run_or_report(spinner: str, compute):
    """``compute()`` under a spinner; a missing model or bad input is shown as one message and
    :data:`FAILED` is returned instead of raising."""
    from fer.errors import FerError

    try:
        with st.spinner(spinner):
            return compute()
    except ModelNotFoundError as exc:
        show_model_missing(exc)
    except FerError as exc:
        st.error(str(exc))
    return FAILED


# --------------------------------------------------------------------------------------------
# long jobs (video, batch) whose partial results survive a Cancel or an interrupted run


def start_job(slot: str, key: tuple, **payload: Any) -> dict:
    """A new job in ``session_state[slot]``: the caller's result containers (``payload``) are
    filled as the work goes, so a run that Streamlit stops part-way still leaves them."""
    import threading

    job = {"key": key, "done": False, "cancel": False, "running": threading.Lock(), **payload}
    st.session_state[slot] = job
    return job


def start_cancellable_job(slot: str, key: tuple, cancel_help: str, **payload: Any):
    """:func:`start_job` with a Cancel button and a progress bar (returned with the job)."""
    job = start_job(slot, key, **payload)
    st.button(
        "Cancel",
        key=f"{slot}_cancel",
        on_click=request_cancel,
        args=(slot,),
        icon=":material/stop:",
        help=cancel_help,
    )
    return job, st.progress(0.0, text="Starting…")


def request_cancel(slot: str) -> None:
    """``on_click`` of a Cancel button: the work polls ``job["cancel"]``."""
    job = st.session_state.get(slot)
    if job is not None:
        job["cancel"] = True


def run_job(job: dict, work) -> None:
    """Run ``work()`` holding the job's lock; ``done`` only when it completed."""
    job["running"].acquire()  # released below whatever happens: no st call in between
    try:
        work()
        job["done"] = True
    finally:
        job["running"].release()  # also when Streamlit stops this run part-way


def finished_job(slot: str, key: tuple, timeout_s: float = 30.0) -> tuple[dict, bool] | None:
    """The job for ``key`` if one ran, and whether it was stopped part-way. A stopped run may
    still be unwinding in another thread (closing the annotated video, collecting the partial
    result): wait for it before its results are shown."""
    job = st.session_state.get(slot)
    if job is None or job["key"] != key:
        return None
    stopped = not job["done"]
    if stopped:
        if job["running"].acquire(timeout=timeout_s):
            job["running"].release()
        job["done"] = True
    return job, stopped


def stopped_word(job: dict) -> str:
    """How a job that did not finish ended: ``Cancelled`` (its Cancel button) or
    ``Interrupted`` (any other widget used mid-run)."""
    return "Cancelled" if job["cancel"] else "Interrupted"


def start_and_rerun(slot: str, work) -> None:
    """Run ``work()``, which starts the job in ``session_state[slot]`` and fills it, then rerun
    to draw its results without the progress bar and the Cancel button. A missing model or
    input that cannot be analysed at all drops the job and is shown as one message."""
    from fer.errors import FerError

    try:
        work()
    except ModelNotFoundError as exc:
        st.session_state.pop(slot, None)
        show_model_missing(exc)
        return
    except FerError as exc:  # e.g. a VideoError: nothing could be read
        st.session_state.pop(slot, None)
        st.error(str(exc), icon=":material/error:")
        return
    st.rerun()


def analyse_again_button(slot: str, key: str) -> None:
    if st.button("Analyse again", key=key, icon=":material/refresh:"):
        st.session_state.pop(slot, None)
        st.rerun()
