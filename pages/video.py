"""Video: a recorded clip analysed frame by frame, faces followed by ID, with a timeline of
each face's expressions, an annotated copy and the per-frame data as CSV and JSON.

The analysis runs inside the script run with a progress bar. Streamlit stops a running script
when any widget is used (the Cancel button included) by raising an exception at its next
``st`` call; the job and its partial result live in ``session_state`` before the analysis
starts, so the next run finds whatever was analysed and shows it: cancelling keeps the rows.
The next run may start while the stopped one still unwinds (closing the annotated video), so
it waits for the job's lock first.
"""

from __future__ import annotations

import hashlib
import io

import streamlit as st

from fer.emotions import DISPLAY_NAMES, EMOTIONS
from fer.errors import VideoError
from fer.jobs.video import VideoResult, analyze_video_bytes, result_to_json
from fer.jobs.video_io import VIDEO_EXTENSIONS, VideoInfo, default_every, probe_video, video_encoder
from fer.output.charts import timeline_chart
from fer.output.progress import Progress, Throttle
from fer.output.results import Results
from fer.serving.analyzer import get_analyzer
from pages._common import (
    analyse_again_button,
    download_row,
    finished_job,
    get_config,
    memo,
    require_model,
    run_job,
    start_and_rerun,
    start_cancellable_job,
    stem,
    stopped_word,
)

VIDEO_TYPES = [ext.lstrip(".") for ext in VIDEO_EXTENSIONS]
JOB = "video_job"
RATES = {
    "1 per second": 1.0,
    "2 per second": 2.0,
    "5 per second": 5.0,
    "10 per second": 10.0,
    "every frame": None,
}
DEFAULT_RATE = "5 per second"


def _timeline(table: Results, face_id: int):
    return timeline_chart(table.timeline(face_id=face_id)[["time", "emotion", "probability"]])


def run_analysis(
    data: bytes, name: str, key: tuple, config, every: int, smoothing: bool, annotate: bool
) -> None:
    """Analyse with a progress bar and a Cancel button; the job (and its partial result) is in
    session_state from the start."""
    analyzer = get_analyzer(config)
    job, bar = start_cancellable_job(
        JOB,
        key,
        "Stop the analysis; what was analysed so far is kept.",
        result=VideoResult(name=name),
    )
    throttle = Throttle(0.25)

    def progress(done: int, total: int | None, elapsed: float) -> None:
        if throttle.due(done, total, elapsed):
            now = Progress(done, total, elapsed, analysed=job["result"].frames_analyzed)
            bar.progress(now.fraction, text=now.sentence())

    run_job(
        job,
        lambda: analyze_video_bytes(
            data,
            analyzer,
            name=name,
            annotate=annotate,
            every=every,
            smoothing=config.smoothing if smoothing else 0.0,
            progress=progress,
            result=job["result"],
        ),
    )
    bar.progress(1.0, text="Done")


def show_results(result: VideoResult, notice: str | None = None) -> None:
    if result.error:
        st.error(result.message, icon=":material/error:")
    elif result.cancelled:
        st.warning(notice or result.message, icon=":material/pause_circle:")
    elif not result.rows:
        st.info(result.message, icon=":material/search_off:")
    step = "every frame" if result.every == 1 else f"1 in {result.every} frames"
    speed = f", {result.analysed_fps:.1f} analysed frames/s" if result.elapsed_s else ""
    n_faces = len(result.faces)
    st.caption(
        f"{result.name}: {result.seconds_read:.1f} s of video, {result.frames_read} "
        f"frames, {result.frames_analyzed} analysed ({step}"
        f"{', smoothed' if result.smoothing else ''}), {n_faces} face "
        f"ID{'s' if n_faces != 1 else ''}, {result.model} model{speed}."
    )

    if result.annotated:
        st.video(result.annotated, format="video/mp4")
        if video_encoder() != "libx264":
            st.caption(
                "This installation has no H.264 encoder: the annotated video is MPEG-4 "
                "Part 2, which browsers may not play; download it to watch it."
            )

    table = Results.from_video(result)
    if result.faces:
        show_faces(result, table)

    base = stem(result.name)
    download_row(
        [
            ("Per-frame data (CSV)", table.to_csv(), f"{base}-faces.csv", "text/csv"),
            ("Results (JSON)", result_to_json(result), f"{base}-faces.json", "application/json"),
            (
                "Annotated video (MP4)",
                result.annotated or None,
                f"{base}-annotated.mp4",
                "video/mp4",
            ),
        ]
    )


def show_faces(result: VideoResult, table: Results) -> None:
    """The summary table, a card with a timeline per face ID, and the per-frame rows."""
    st.subheader("Faces")
    st.dataframe(
        table.summary(display=True),
        hide_index=True,
        column_config={
            DISPLAY_NAMES[e]: st.column_config.NumberColumn(format="%.0f%%") for e in EMOTIONS
        },
    )
    for face in result.faces:
        with st.container(border=True):
            st.markdown(
                f"**Face {face['face_id']}**: mostly "
                f"{DISPLAY_NAMES[face['dominant']].lower()} "
                f"({100 * face['dominant_share']:.0f}% of the time), seen "
                f"{face['first_seen']:.1f}–{face['last_seen']:.1f} s"
            )
            st.altair_chart(_timeline(table, face["face_id"]), width="stretch")
    with st.expander("Per-frame data"):
        st.dataframe(table.to_dataframe(), hide_index=True)


def uploaded_video() -> tuple[bytes, str, str, VideoInfo] | None:
    """The uploaded video's bytes, name, digest and headers (its caption shown); None when there
    is none yet or it cannot be read (said on the page)."""
    uploaded = st.file_uploader(
        "Upload a video",
        type=VIDEO_TYPES,
        key="video_upload",
        help="MP4, MOV, AVI, MKV or WebM. The video is analysed on this "
        "machine; its temporary copy is deleted straight after.",
    )
    if uploaded is None:
        st.info("Choose a video to analyse: MP4, MOV, AVI, MKV or WebM.", icon=":material/upload:")
        return None
    data = uploaded.getvalue()
    name = uploaded.name or "video.mp4"
    digest = hashlib.sha1(data).hexdigest()
    try:
        info = memo("video_probe", (digest,), lambda: probe_video(io.BytesIO(data), name=name))
    except VideoError as exc:
        st.error(str(exc), icon=":material/error:")
        return None
    st.caption(info.describe())
    return data, name, digest, info


def analysis_options(info: VideoInfo) -> tuple[int, bool, bool]:
    """The analysis step, smoothing and annotated-video choices, in one row."""
    c1, c2, c3 = st.columns(3)
    rate = c1.selectbox(
        "Frames analysed",
        list(RATES),
        index=list(RATES).index(DEFAULT_RATE),
        key="video_rate",
        help="Fewer is faster; the annotated video keeps every frame either way.",
    )
    smoothing = c2.toggle(
        "Smooth labels over time",
        value=True,
        key="video_smoothing",
        help="Average each face's scores over the last analysed frames so "
        "that labels do not flicker.",
    )
    annotate = c3.toggle(
        "Annotated video",
        value=True,
        key="video_annotate",
        help="Write a copy of the video with the boxes and labels drawn.",
    )
    return default_every(info.fps, RATES[rate]), bool(smoothing), bool(annotate)


def show_finished(job: dict, stopped: bool) -> None:
    """A finished job's results; a run stopped part-way shows what it analysed."""
    result = job["result"]
    notice = None
    if stopped:
        result.cancelled = True
        notice = (
            f"{stopped_word(job)} after {result.seconds_read:.1f} s of video; showing "
            f"the {result.frames_analyzed} frames analysed before."
        )
    show_results(result, notice)
    analyse_again_button(JOB, "video_again")


def main() -> None:
    st.title("Video")
    st.caption(
        "Upload a recorded video: faces are followed from frame to frame with a stable "
        "ID, and their expressions charted over time."
    )
    config = get_config()
    upload = uploaded_video()
    if upload is None or not require_model(config):
        return
    data, name, digest, info = upload
    every, smoothing, annotate = analysis_options(info)
    key = (digest, config, every, smoothing, annotate)
    finished = finished_job(JOB, key)
    if finished is not None:
        show_finished(*finished)
        return
    if st.button("Analyse video", type="primary", key="video_start", icon=":material/play_arrow:"):
        start_and_rerun(
            JOB, lambda: run_analysis(data, name, key, config, every, smoothing, annotate)
        )


main()
