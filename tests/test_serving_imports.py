"""Serving never loads TensorFlow or Keras: ``import fer``, the CLI's ``predict``, ``video`` and
``evaluate``, and every page (the Photo and Compare pages with a real photo analysed), each run in
one fresh process that then lists what it imported. The Photo page's "Why this label?" is
included: Grad-CAM needs TensorFlow, and must get it in a worker process, not in the server's."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from PIL import Image

from tests.shared_data import ROOT
from tests.test_video import make_face_clip

SCRIPT = r"""
import io, json, sys
from pathlib import Path

photo, video, data = sys.argv[1:4]
app = str(Path(sys.argv[4]) / "streamlit_app.py")

def heavy():
    return sorted(m for m in sys.modules
                  if m.split(".")[0] in ("tensorflow", "keras") or m.startswith("fer.training"))

seen = {}
import fer  # noqa
seen["import fer"] = heavy()
from fer.cli import main
assert main(["predict", photo, "--json", "--detector", "haar"]) == 0
seen["predict"] = heavy()
assert main(["video", video, "--detector", "haar", "--no-progress", "--every", "5"]) == 0
seen["video"] = heavy()
assert main(["evaluate", "--data", data]) == 0
seen["evaluate"] = heavy()
assert main(["robustness", "--data", data, "--limit", "7"]) == 0
seen["robustness"] = heavy()
assert main(["calibrate", "--data", data, "--fit-limit", "7"]) == 0
seen["calibrate"] = heavy()

from streamlit.runtime.pages_manager import PagesManager
from streamlit.testing.v1 import AppTest

original = PagesManager.__init__
def init(self, *args, **kwargs):  # as a server runs: the entry point's navigation for good
    original(self, *args, **kwargs)
    PagesManager.uses_pages_directory = False
PagesManager.__init__ = init

png = Path(photo).read_bytes()
for page in ("pages/photo.py", "pages/live.py", "pages/video.py", "pages/batch.py",
             "pages/compare.py", "pages/models.py"):
    at = AppTest.from_file(app, default_timeout=120)
    at.run()
    at.switch_page(page).run()
    assert not at.exception, (page, at.exception)
    if page in ("pages/photo.py", "pages/compare.py"):
        at.file_uploader[0].set_value(("two.png", png, "image/png"))
        at.run()
        assert not at.exception, (page, at.exception)
        assert at.get("vega_lite_chart"), page  # a photo was analysed and charted
    if page == "pages/photo.py":
        at.checkbox(key="photo_explain").check().run()
        assert not at.exception, (page, at.exception)
        assert not at.warning, [w.value for w in at.warning]
        assert any("Warmer areas" in str(c.value) for c in at.caption), "no heatmaps drawn"
    seen[page] = heavy()
print("SEEN " + json.dumps(seen))
"""


def _fake_fer2013(folder, face) -> str:
    """Kaggle-layout test and train splits of real face crops: enough for ``evaluate``,
    ``robustness`` and ``calibrate`` to run."""
    from fer.emotions import EMOTIONS

    for split in ("test", "train"):
        for i, emotion in enumerate(EMOTIONS):
            (folder / split / emotion).mkdir(parents=True)
            img = Image.fromarray(face).convert("L").resize((48, 48)).rotate(5 * i)
            img.save(folder / split / emotion / f"{split}_{i}.jpg")
    return str(folder)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX paths")
def test_serving_path_imports_neither_tensorflow_nor_keras(
    models_env, two_faces, astronaut, tmp_path, monkeypatch
):
    pytest.importorskip("streamlit")
    photo = tmp_path / "two.png"
    Image.fromarray(two_faces).save(photo)
    video = make_face_clip(tmp_path / "clip.mp4", astronaut)
    data = _fake_fer2013(tmp_path / "fer2013", astronaut[60:280, 170:330])
    env = {
        **os.environ,
        "FER_MODELS_DIR": str(models_env),
        "FER_YUNET_MODEL": "/nonexistent",
        "FER_NO_DOWNLOAD": "1",
        "FER_ICE_SERVERS": "",
    }
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(photo), str(video), data, str(ROOT)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=900,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("SEEN ")]
    assert done.returncode == 0 and lines, done.stderr[-3000:]
    seen = json.loads(lines[-1][5:])
    assert set(seen) >= {
        "import fer",
        "predict",
        "video",
        "evaluate",
        "robustness",
        "calibrate",
        "pages/photo.py",
        "pages/live.py",
        "pages/compare.py",
        "pages/models.py",
    }
    assert {step: mods for step, mods in seen.items() if mods} == {}
