"""Shared pytest fixtures."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np
import pytest

from tests.shared_data import yunet_file, yunet_file_or_none

# Tests never touch the network or the user's cache: one throw-away cache for the whole run
# (the TFLite conversions in it are reused between tests).
os.environ["FER_NO_DOWNLOAD"] = "1"
os.environ.setdefault("FER_CACHE_DIR", tempfile.mkdtemp(prefix="fer-test-cache-"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


@pytest.fixture(scope="session")
def yunet_model() -> Path:
    """The YuNet ONNX file (``$FER_YUNET_MODEL`` or ``../shared/models/``); skipped when absent,
    failed under ``CI=true``."""
    return yunet_file()


@pytest.fixture
def face_detector(monkeypatch) -> str:
    """The detector the app picks: ``yunet`` where the YuNet file is found (then pointed to by
    ``$FER_YUNET_MODEL``), else ``haar``, as on a fresh clone (the test cache is empty and
    downloads are off). For tests of features that work with either detector; under
    ``CI=true`` a missing YuNet file still fails."""
    path = yunet_file_or_none()
    if path is None:
        monkeypatch.delenv("FER_YUNET_MODEL", raising=False)
        return "haar"
    monkeypatch.setenv("FER_YUNET_MODEL", str(path))
    return "yunet"


@pytest.fixture(scope="session")
def untrained_models_dir(tmp_path_factory) -> Path:
    """A models folder with untrained shallow and deep networks (each with its float serving
    file) and minimal cards: for tests of
    the plumbing (pages, CLI, video) that must not depend on the shipped weights."""
    import keras

    from fer.training.architectures import build
    from fer.training.export import write_serving_file

    folder = tmp_path_factory.mktemp("models")
    keras.utils.set_random_seed(0)
    for name in ("shallow", "deep"):
        model = build(name)
        model.save(folder / f"{name}.keras")
        write_serving_file(model, folder / f"{name}.keras")
        (folder / f"{name}.json").write_text(
            json.dumps(
                {
                    "name": name,
                    "input_size": [48, 48, 1],
                    "validation": {"accuracy": 0.5},
                    "validation_tta": {"accuracy": 0.51},
                    "speed": {"ms_per_face_batch1": 1.0},
                }
            )
        )
    return folder


@pytest.fixture
def models_env(untrained_models_dir, monkeypatch) -> Path:
    """Point the registry at the untrained models."""
    monkeypatch.setenv("FER_MODELS_DIR", str(untrained_models_dir))
    return untrained_models_dir


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    """A real photo with one frontal face (RGB 512x512), shipped by scikit-image."""
    from skimage import data

    return data.astronaut()


@pytest.fixture(scope="session")
def two_faces(astronaut) -> np.ndarray:
    """The astronaut beside her mirror image: two frontal faces."""
    return np.ascontiguousarray(np.concatenate([astronaut, astronaut[:, ::-1]], axis=1))


@pytest.fixture
def navigation_like_a_server(monkeypatch):
    """Run the entry point (st.navigation) on every AppTest run, as a server does.

    Because a ``pages/`` folder exists, AppTest re-detects Streamlit's old folder-based
    multipage mode before *every* run and then executes a page file on its own, without the
    entry point and its sidebar. A real server does that at most for the first request: the
    entry point's st.navigation call switches the whole process to st.navigation for good
    (``PagesManager.uses_pages_directory = False``). Set that flag as the server has it."""
    from streamlit.runtime.pages_manager import PagesManager

    original = PagesManager.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    monkeypatch.setattr(PagesManager, "__init__", init)
