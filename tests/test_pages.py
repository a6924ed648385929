"""The Streamlit app through streamlit.testing's AppTest: every page renders, the photo and
compare pages handle real photos and bad files, and nothing crashes without a model
(untrained weights: plumbing only)."""

import enum
import io
import json
import sys
import types

import numpy as np
import pytest
from PIL import Image

from tests.shared_data import ROOT, copy_model

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

APP = str(ROOT / "streamlit_app.py")
TIMEOUT = 90  # TensorFlow's import and the first model load take a while on 2 cores


def _png(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture(autouse=True)
def _navigation(request):
    if "pages_folder_mode" not in request.fixturenames:  # that mode: AppTest's own behaviour
        request.getfixturevalue("navigation_like_a_server")


@pytest.fixture
def app_env(models_env, face_detector, monkeypatch):
    monkeypatch.delenv("FER_ICE_SERVERS", raising=False)
    return models_env


def _app(page: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    assert not at.exception, at.exception
    if page:
        at.switch_page(page).run()
    return at


def _texts(at, kind: str) -> list[str]:
    return [str(e.value) for e in getattr(at, kind)]


def _charts(at) -> list:
    return at.get("vega_lite_chart")


def _upload(at, image_bytes: bytes, name: str, mime: str = "image/png") -> AppTest:
    at.file_uploader[0].set_value((name, image_bytes, mime))
    return at.run()


# --------------------------------------------------------------------------------------------
# a stand-in for streamlit-webrtc: AppTest has no browser to stream from (and the real module's
# libsrtp must not be loaded after TensorFlow in this process)


class FakeWebRtc:
    def __init__(self):
        self.playing = False
        self.calls = []
        self.module = types.ModuleType("streamlit_webrtc")

        class WebRtcMode(enum.Enum):
            RECVONLY = "RECVONLY"
            SENDONLY = "SENDONLY"
            SENDRECV = "SENDRECV"

        def webrtc_streamer(key, **kwargs):
            self.calls.append({"key": key, **kwargs})
            state = types.SimpleNamespace(playing=self.playing, signalling=False)
            return types.SimpleNamespace(state=state)

        self.module.WebRtcMode = WebRtcMode
        self.module.webrtc_streamer = webrtc_streamer


@pytest.fixture
def fake_webrtc(monkeypatch):
    fake = FakeWebRtc()
    monkeypatch.setitem(sys.modules, "streamlit_webrtc", fake.module)
    return fake


# --------------------------------------------------------------------------------------------
# every page


def test_home_and_sidebar(app_env, face_detector):
    at = _app()
    assert any("Facial expression recognition" in t for t in _texts(at, "title"))
    assert any("never uploaded" in t for t in _texts(at, "info"))
    model = at.sidebar.selectbox(key="fer_model")
    assert model.value == "shallow" and model.options[:2] == [
        "shallow: 50.0 % on PublicTest, 1.00 ms/face",
        "deep: 50.0 % on PublicTest, 1.00 ms/face",
    ]
    assert at.sidebar.selectbox(key="fer_detector").value == face_detector
    assert at.sidebar.slider(key="fer_min_face").value == 40
    tta = at.sidebar.selectbox(key="fer_tta")
    assert tta.value == "off" and tta.options == [
        "Off",
        "Mirror (2 views)",
        "Mirror + shifts (10 views)",
    ]
    links = at.get("page_link")
    assert [link.proto.label for link in links] == [
        "Photo",
        "Live",
        "Video",
        "Batch",
        "Compare",
        "Models",
    ]


PAGES = ["pages/photo.py", "pages/live.py", "pages/compare.py", "pages/models.py"]


@pytest.mark.parametrize("page", PAGES)
def test_page_renders(app_env, fake_webrtc, page):
    at = _app(page)
    assert not at.exception, at.exception
    assert at.title and not at.error, [e.value for e in at.error]
    # the shared sidebar is on every page
    assert at.sidebar.selectbox(key="fer_model").value == "shallow"


@pytest.mark.parametrize("page", [None, *PAGES])
def test_pages_without_any_model(tmp_path, monkeypatch, fake_webrtc, page):
    monkeypatch.setenv("FER_MODELS_DIR", str(tmp_path))
    at = _app(page)
    assert not at.exception, at.exception
    if page in ("pages/live.py", "pages/compare.py", "pages/models.py"):
        (info,) = at.info
        assert (
            "No trained model is installed yet" in info.value
            and "python -m fer train" in info.value
        )
    assert any("No trained model" in w.value for w in at.sidebar.warning)


@pytest.fixture
def pages_folder_mode():
    """Marks a test that runs AppTest without ``navigation_like_a_server``."""


@pytest.mark.parametrize("page", PAGES)
def test_page_opened_directly_still_gets_the_sidebar(app_env, fake_webrtc, pages_folder_mode, page):
    """A fresh server's first request for a page URL runs the page file on its own (Streamlit's
    pages/ folder mode); the page must bring the entry point, and so the sidebar, back."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.switch_page(page).run()
    assert not at.exception, at.exception
    assert at.sidebar.selectbox(key="fer_model").value == "shallow"
    assert (
        at.title[0].value
        == {
            "pages/photo.py": "Photo",
            "pages/live.py": "Live",
            "pages/compare.py": "Compare models",
            "pages/models.py": "Models",
        }[page]
    )


# --------------------------------------------------------------------------------------------
# photo


def test_photo_one_face(app_env, astronaut):
    at = _app("pages/photo.py")
    _upload(at, _png(astronaut), "astronaut.png")
    assert not at.exception, at.exception
    assert not at.error
    assert len(_charts(at)) == 1  # one probability chart per face
    (table,) = at.dataframe
    assert len(table.value) == 1 and table.value["label"].iloc[0] in {
        e.capitalize() for e in ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
    }
    assert len(at.image) >= 2  # annotated photo + face thumbnail
    assert len(at.get("download_button")) == 3


def test_photo_two_faces_and_explain_toggle(app_env, two_faces):
    at = _app("pages/photo.py")
    _upload(at, _png(two_faces), "two.png")
    assert not at.exception, at.exception
    assert len(_charts(at)) == 2
    assert len(at.dataframe[0].value) == 2
    assert list(at.dataframe[0].value["face"]) == [1, 2]
    at.checkbox(key="photo_explain").check().run()
    assert not at.exception, at.exception
    assert len(_charts(at)) == 2  # the analysis is kept, not lost on rerun
    texts = [i.value for i in at.info] + [w.value for w in at.warning]
    has_heatmaps = any("Warmer" in c.value for c in at.caption)
    assert has_heatmaps or any("not available" in t for t in texts), texts


def test_photo_bad_file_shows_error(app_env):
    at = _app("pages/photo.py")
    _upload(at, b"this is not an image at all", "broken.png")
    assert not at.exception, at.exception
    (error,) = at.error
    assert "broken.png" in error.value or "image" in error.value.lower()
    assert not _charts(at)


def test_photo_without_face(app_env):
    at = _app("pages/photo.py")
    _upload(at, _png(np.full((300, 400, 3), 200, np.uint8)), "wall.png")
    assert not at.exception, at.exception
    assert any("No face found" in w.value for w in at.warning)
    assert len(at.image) == 1 and not _charts(at)


# --------------------------------------------------------------------------------------------
# compare


def test_compare_shows_both_models(app_env, astronaut):
    at = _app("pages/compare.py")
    _upload(at, _png(astronaut), "astronaut.png")
    assert not at.exception, at.exception
    assert [h.value for h in at.main.subheader] == ["shallow", "deep"]
    metrics = at.main.metric
    assert len(metrics) == 2 and all(m.value.endswith(" ms") for m in metrics)
    assert len(at.image) == 2
    assert len(at.main.success) + len(at.main.warning) == 1  # agree or disagree, for the one face
    (chart,) = _charts(at)
    spec = json.loads(chart.proto.spec)
    assert spec["encoding"]["yOffset"]["field"] == "model"


def test_compare_with_one_model(app_env, astronaut, tmp_path, monkeypatch):
    copy_model(app_env, "shallow", tmp_path)
    monkeypatch.setenv("FER_MODELS_DIR", str(tmp_path))
    at = _app("pages/compare.py")
    assert any("deep model is not installed" in w.value for w in at.main.warning)
    _upload(at, _png(astronaut), "astronaut.png")
    assert not at.exception, at.exception
    assert [h.value for h in at.main.subheader] == ["shallow"]
    assert len(_charts(at)) == 1


# --------------------------------------------------------------------------------------------
# models


def _full_card(name: str, per_class_f1: float) -> dict:
    from fer.emotions import EMOTIONS

    report = {
        "accuracy": 0.6,
        "n": 3589,
        "confusion_matrix": (np.eye(7, dtype=int) * 50 + 3).tolist(),
        "per_class": {
            e: {"precision": 0.6, "recall": 0.6, "f1": per_class_f1, "support": 500}
            for e in EMOTIONS
        },
    }
    return {
        "name": name,
        "parameters": 123456,
        "file_bytes": 1_500_000,
        "input_size": [48, 48, 1],
        "labels": list(EMOTIONS),
        "augmentation": "horizontal flip",
        "preprocessing": "gray 48x48",
        "validation_split": "PublicTest (3589 images)",
        "validation": report,
        "validation_tta": {**report, "accuracy": 0.62},
        "speed": {
            "engine": "tflite",
            "ms_per_face_batch1": 0.4,
            "faces_per_s_batch1": 2500,
            "faces_per_s_batch64": 9000,
            "ms_per_face_batch64": 0.11,
        },
        "training": {
            "epochs": 2,
            "wall_seconds": 4000,
            "optimizer": "AdamW (weight decay 0.0001)",
            "schedule": "cosine",
            "machine": "x86_64, 2 cores, Linux",
            "history": [
                {"epoch": 1, "accuracy": 0.3, "val_accuracy": 0.35},
                {"epoch": 2, "accuracy": 0.5, "val_accuracy": 0.55},
            ],
            "command": f"python -m fer train --arch {name} --data DATA --epochs 2",
        },
    }


def test_models_page_full_cards(app_env, tmp_path, monkeypatch):
    for name in ("shallow", "deep"):
        copy_model(app_env, name, tmp_path)
        (tmp_path / f"{name}.json").write_text(json.dumps(_full_card(name, 0.5)))
    monkeypatch.setenv("FER_MODELS_DIR", str(tmp_path))
    at = _app("pages/models.py")
    assert not at.exception, at.exception
    overview = at.dataframe[0].value
    assert list(overview["model"]) == ["shallow", "deep"]
    assert (
        overview["accuracy"].iloc[0] == "60.0 %" and overview["with flip TTA"].iloc[0] == "62.0 %"
    )
    assert overview["training time"].iloc[0] == "1 h 07 min"
    assert len(_charts(at)) == 6  # per model: F1, confusion matrix, training history
    assert any("python -m fer train --arch deep" in c.value for c in at.code)
    labels = [m.label for m in at.metric]
    assert "Validation accuracy" in labels and "With flip TTA" in labels and "Parameters" in labels


def test_models_page_shows_ensemble_members(app_env, tmp_path, monkeypatch):
    for name in ("shallow", "deep"):
        copy_model(app_env, name, tmp_path)
        card = _full_card(name, 0.5)
        if name == "deep":
            card["members"] = [
                {
                    "architecture": "deep",
                    "augmentation": f"recipe {i}",
                    "accuracy": {"off": 0.6 + i / 100, "flip": 0.62, "shift": 0.63},
                    "training": {**card["training"], "command": f"python -m fer train member {i}"},
                }
                for i in (1, 2)
            ]
        (tmp_path / f"{name}.json").write_text(json.dumps(card))
    monkeypatch.setenv("FER_MODELS_DIR", str(tmp_path))
    at = _app("pages/models.py")
    assert not at.exception, at.exception
    text = " ".join(m.value for m in at.markdown)
    assert "Member 1**: deep, 61.0 % alone" in text and "Member 2**: deep, 62.0 % alone" in text
    assert len(_charts(at)) == 8  # two more training histories, one per member
    codes = [c.value for c in at.code]
    assert "python -m fer train member 1" in codes and "python -m fer train member 2" in codes


def test_models_page_minimal_and_missing_cards(app_env, tmp_path, monkeypatch):
    copy_model(app_env, "shallow", tmp_path)  # no card, no deep
    monkeypatch.setenv("FER_MODELS_DIR", str(tmp_path))
    at = _app("pages/models.py")
    assert not at.exception, at.exception
    infos = " ".join(i.value for i in at.info)
    assert "no model card" in infos and "deep model is not installed" in infos


# --------------------------------------------------------------------------------------------
# live


def test_live_page_streams_with_processor(
    app_env, face_detector, fake_webrtc, astronaut, monkeypatch
):
    monkeypatch.setenv("FER_ICE_SERVERS", '[{"urls": ["stun:stun.example.org:3478"]}]')
    at = _app("pages/live.py")
    assert not at.exception, at.exception
    call = fake_webrtc.calls[-1]
    processor = call["video_frame_callback"]
    from fer.jobs.live import LiveProcessor

    assert isinstance(processor, LiveProcessor)
    assert call["mode"].name == "SENDRECV" and call["async_processing"] is True
    assert call["media_stream_constraints"] == {"video": True, "audio": False}
    assert call["rtc_configuration"] == {"iceServers": [{"urls": ["stun:stun.example.org:3478"]}]}
    assert processor.request.config.model == "shallow"
    assert processor.request.config.detector == face_detector

    # frames arrive while playing: the page shows FPS, latency and the rolling chart
    for _ in range(3):
        processor.process_bgr(np.ascontiguousarray(astronaut[:, :, ::-1]))
    fake_webrtc.playing = True
    at.run()
    assert not at.exception, at.exception
    assert fake_webrtc.calls[-1]["video_frame_callback"] is processor  # kept across reruns
    fps = next(m for m in at.metric if "FPS" in m.label)
    assert float(fps.value) > 0
    latency = next(m for m in at.metric if m.label == "Latency")
    assert latency.value.endswith(" ms")
    (chart,) = _charts(at)
    spec = json.loads(chart.proto.spec)
    assert spec["mark"]["type"] == "line"

    # a sidebar change reaches the running processor, and so does the both-models toggle
    at.sidebar.selectbox(key="fer_model").set_value("deep")
    at.toggle(key="live_both_models").set_value(True)
    at.run()
    assert not at.exception, at.exception
    assert processor.request.config.model == "deep" and processor.request.both_models


def test_live_page_default_ice_servers(app_env, fake_webrtc):
    at = _app("pages/live.py")
    assert not at.exception
    assert fake_webrtc.calls[-1]["rtc_configuration"] == {"iceServers": []}
    assert any("Press START" in i.value for i in at.info)
