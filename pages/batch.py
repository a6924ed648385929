"""Batch: many photos (or a zip of them) in one go, summarised in one table with a gallery,
the distribution of expressions over the batch, and CSV / JSON downloads.

A file that cannot be read is reported in its own row and the others go on. Results are kept
in ``session_state``, filled as the batch runs: cancelling (or any widget used mid-run, which
stops the script run) keeps the photos analysed so far.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from fer.jobs.batch import (
    analyze_batch,
    batch_summary,
    items_digest,
    results_to_json,
    thumbnail_caption,
)
from fer.output.charts import distribution_chart
from fer.output.progress import Progress
from fer.output.results import Results
from fer.serving.analyzer import get_analyzer
from pages._common import (
    IMAGE_TYPES,
    analyse_again_button,
    download_row,
    finished_job,
    get_config,
    require_model,
    run_job,
    start_and_rerun,
    start_cancellable_job,
    stopped_word,
)

JOB = "batch_job"
GALLERY_MAX = 60


def rows_table(table: Results) -> pd.DataFrame:
    """One row per face (and per photo without a face or with an error)."""
    return table.to_dataframe(display=True).rename(columns={"image": "file", "face": "face #"})


def run_batch(items: list[tuple[str, bytes]], key: tuple, config) -> None:
    analyzer = get_analyzer(config)
    job, bar = start_cancellable_job(
        JOB, key, "Stop; the photos analysed so far are kept.", results=[]
    )

    def progress(done: int, total: int, elapsed: float) -> None:
        figures = Progress(done, total, elapsed, analysed=done)
        bar.progress(figures.fraction, text=figures.sentence("photos"))

    run_job(job, lambda: analyze_batch(items, analyzer, progress=progress, results=job["results"]))


def show_results(results: list[dict], notice: str | None = None) -> None:
    if notice:
        st.warning(notice, icon=":material/pause_circle:")
    counts = batch_summary(results)
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Photos", counts["photos"])
    c2.metric("Faces", counts["faces"])
    c3.metric("Without a face", counts["no_face"])
    c4.metric("Could not be read", counts["errors"])
    for result in results:
        if result.get("error"):
            st.error(result["error"], icon=":material/broken_image:")

    table = Results.from_images(results)
    if counts["faces"]:
        st.subheader("Expressions in the batch")
        st.altair_chart(distribution_chart(table.distribution()), width="stretch")

    st.subheader("All faces")
    st.dataframe(rows_table(table), hide_index=True)

    gallery = [r for r in results if r.get("thumbnail")]
    if gallery:
        st.subheader("Gallery")
        if len(gallery) > GALLERY_MAX:
            st.caption(f"The first {GALLERY_MAX} of {len(gallery)} photos.")
        gallery = gallery[:GALLERY_MAX]
        st.image(
            [r["thumbnail"] for r in gallery],
            caption=[thumbnail_caption(r) for r in gallery],
            width=200,
        )

    download_row(
        [
            ("Results (CSV)", table.to_csv(), "batch-faces.csv", "text/csv"),
            ("Results (JSON)", results_to_json(results), "batch-faces.json", "application/json"),
        ]
    )


def main() -> None:
    st.title("Batch")
    st.caption(
        "Many photos at once, or a zip of them: every face in one table, a gallery and "
        "the mix of expressions over the whole batch."
    )
    config = get_config()
    uploads = st.file_uploader(
        "Upload photos or a zip",
        type=[*IMAGE_TYPES, "zip"],
        accept_multiple_files=True,
        key="batch_upload",
        help="JPEG, PNG, WebP, BMP or TIFF photos, or .zip archives of them (folders inside are "
        "fine). Everything is analysed on this machine and nothing is stored.",
    )
    if not uploads:
        st.info("Choose photos or a zip archive to analyse.", icon=":material/upload:")
        return
    if not require_model(config):
        return
    items = [(u.name, u.getvalue()) for u in uploads]
    key = (items_digest(items), config)

    finished = finished_job(JOB, key)
    if finished is not None:
        job, stopped = finished
        notice = (
            f"{stopped_word(job)} after {len(job['results'])} photos; showing those."
            if stopped
            else None
        )
        show_results(job["results"], notice)
        analyse_again_button(JOB, "batch_again")
        return

    n = len(items)
    if st.button(
        f"Analyse {n} file{'s' if n != 1 else ''}",
        type="primary",
        key="batch_start",
        icon=":material/play_arrow:",
    ):
        start_and_rerun(JOB, lambda: run_batch(items, key, config))


main()
