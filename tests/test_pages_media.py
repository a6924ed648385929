"""The Video and Batch pages through streamlit.testing's AppTest: they render empty, analyse
real uploads (a clip generated from the astronaut photo; photos and a zip), report bad files,
keep partial results of an interrupted run and offer the downloads (untrained weights)."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest
from PIL import Image

from tests.shared_data import ROOT
from tests.test_video import make_face_clip

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

APP = str(ROOT / "streamlit_app.py")
TIMEOUT = 120


@pytest.fixture(autouse=True)
def _navigation(navigation_like_a_server):
    """Pages run as on a server (see conftest.navigation_like_a_server)."""


@pytest.fixture
def app_env(models_env, monkeypatch):
    monkeypatch.delenv("FER_ICE_SERVERS", raising=False)
    return models_env


@pytest.fixture(scope="module")
def clip_bytes(tmp_path_factory) -> bytes:
    from skimage import data

    path = make_face_clip(
        tmp_path_factory.mktemp("page") / "clip.mp4", data.astronaut(), seconds=2.0
    )
    return path.read_bytes()


def _page(page: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def _texts(at, kind: str) -> list[str]:
    return [str(e.value) for e in getattr(at, kind)]


def _jpeg(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def _charts(at) -> list:
    return at.get("vega_lite_chart") + at.get("arrow_vega_lite_chart")


def _downloads(at) -> list:
    return at.get("download_button")


# --------------------------------------------------------------------------------------------
# Video


def test_video_page_renders_empty(app_env):
    at = _page("pages/video.py")
    assert [t for t in _texts(at, "title") if t == "Video"]
    assert any("Choose a video" in t for t in _texts(at, "info"))
    assert not at.error


def test_video_page_analyses_an_upload_and_keeps_partial_results(app_env, clip_bytes):
    at = _page("pages/video.py")
    at.file_uploader(key="video_upload").set_value(("clip.mp4", clip_bytes, "video/mp4"))
    at.run()
    assert not at.exception, at.exception
    assert any("clip.mp4: 2.0 s, 320×240, 10.00 frames/s" in t for t in _texts(at, "caption"))
    at.button(key="video_start").click().run()
    assert not at.exception, at.exception
    assert not at.error, _texts(at, "error")
    job = at.session_state["video_job"]
    result = job["result"]
    assert job["done"] and result.frames_analyzed == 10 and len(result.rows) >= 10
    assert result.annotated and not result.cancelled
    assert at.dataframe and _charts(at)  # summary table and a timeline
    assert at.get("video")
    labels = [d.proto.label for d in _downloads(at)]
    assert labels == ["Per-frame data (CSV)", "Results (JSON)", "Annotated video (MP4)"]
    summary = at.dataframe[0].value
    assert list(summary["face"])[0] == 1 and "Happy" in summary.columns
    assert len(summary) == len(result.faces)

    # a run stopped part-way (Cancel, or any widget used mid-run) leaves an unfinished job:
    # the next run shows what it had analysed instead of starting over
    job["done"], job["cancel"] = False, True
    del result.rows[5:]
    result.frames_read, result.frames_analyzed = 9, 5
    at.run()
    assert not at.exception, at.exception
    assert any("Cancelled after" in t for t in _texts(at, "warning"))
    assert at.session_state["video_job"]["result"].cancelled
    assert len(at.session_state["video_job"]["result"].rows) == 5
    assert _downloads(at)


def test_video_page_bad_upload_is_one_error(app_env):
    at = _page("pages/video.py")
    at.file_uploader(key="video_upload").set_value(
        ("notes.mp4", b"not a video at all", "video/mp4")
    )
    at.run()
    assert not at.exception, at.exception
    errors = _texts(at, "error")
    assert len(errors) == 1 and "notes.mp4" in errors[0] and "not a video file" in errors[0]


def test_video_page_without_a_model(tmp_path, monkeypatch, clip_bytes):
    monkeypatch.setenv("FER_MODELS_DIR", str(tmp_path / "none"))
    at = _page("pages/video.py")
    at.file_uploader(key="video_upload").set_value(("clip.mp4", clip_bytes, "video/mp4"))
    at.run()
    assert not at.exception, at.exception
    assert any("No trained model" in t for t in _texts(at, "info"))
    assert not _has_button(at, "video_start")


def _has_button(at, key: str) -> bool:
    try:
        at.button(key=key)
        return True
    except KeyError:
        return False


# --------------------------------------------------------------------------------------------
# Batch


def test_batch_page_renders_empty(app_env):
    at = _page("pages/batch.py")
    assert [t for t in _texts(at, "title") if t == "Batch"]
    assert any("Choose photos" in t for t in _texts(at, "info"))


def test_batch_page_photos_zip_and_a_bad_file(app_env, astronaut, two_faces):
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("set/two.jpg", _jpeg(two_faces))
        zf.writestr("__MACOSX/set/._two.jpg", b"junk")
    at = _page("pages/batch.py")
    at.file_uploader(key="batch_upload").set_value(
        [
            ("astronaut.jpg", _jpeg(astronaut), "image/jpeg"),
            ("broken.png", b"\x89PNG\r\n\x1a\n not really", "image/png"),
            ("set.zip", archive.getvalue(), "application/zip"),
        ]
    )
    at.run()
    assert not at.exception, at.exception
    at.button(key="batch_start").click().run()
    assert not at.exception, at.exception
    results = at.session_state["batch_job"]["results"]
    assert [r["image"] for r in results] == ["astronaut.jpg", "broken.png", "set.zip/set/two.jpg"]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics == {"Photos": "3", "Faces": "3", "Without a face": "0", "Could not be read": "1"}
    errors = _texts(at, "error")
    assert len(errors) == 1 and "broken.png" in errors[0]
    table = at.dataframe[0].value
    assert len(table) == 4 and list(table["face #"]) == [1, 0, 1, 2]
    assert _charts(at)  # the distribution
    gallery = at.image[0]  # two thumbnails (the broken file has none)
    assert len(gallery.value) == 2
    assert gallery.captions[0] == "astronaut.jpg: " + at.dataframe[0].value["label"][0]
    downloads = _downloads(at)
    assert [d.proto.label for d in downloads] == ["Results (CSV)", "Results (JSON)"]
    from fer.jobs.batch import results_to_json

    assert len(json.loads(results_to_json(results))) == 3

    # a run stopped part-way keeps (and shows) the photos analysed before
    job = at.session_state["batch_job"]
    job["done"] = False
    del job["results"][2:]
    at.run()
    assert not at.exception, at.exception
    assert any("Interrupted after 2 photos" in t for t in _texts(at, "warning"))
    assert {m.label: m.value for m in at.metric}["Photos"] == "2"
