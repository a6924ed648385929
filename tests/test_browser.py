"""End to end in a real browser: `streamlit run` on a free port, Debian's headless chromium.

The photo page gets a real photo uploaded and must show the analysed faces; the live page gets
a fake camera playing a clip made from a real face photo, is STARTed, and must show a face
label and an FPS figure. Set FER_SCREENSHOT_DIR to keep the screenshots (the README's come
from here: ``FER_SCREENSHOT_DIR=docs/screenshots python -m pytest tests/test_browser.py``)."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from fer.emotions import DISPLAY_NAMES
from tests.browser import CHROMIUM_ARGS, require_chromium, streamlit_server, write_y4m
from tests.shared_data import ROOT, yunet_file_or_none

pytestmark = pytest.mark.browser
LABELS = "|".join(DISPLAY_NAMES.values())


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    require_chromium()
    cache = tmp_path_factory.mktemp("cache")
    env = {
        **os.environ,
        "FER_CACHE_DIR": str(cache),
        "FER_NO_DOWNLOAD": "1",
        "FER_MODELS_DIR": str(ROOT / "models"),
    }
    env.pop("FER_ICE_SERVERS", None)  # localhost: no STUN/TURN, no internet
    yunet = yunet_file_or_none()  # without it the app runs on Haar, as on a fresh clone
    if yunet:
        env["FER_YUNET_MODEL"] = str(yunet)
    else:
        env.pop("FER_YUNET_MODEL", None)
    with streamlit_server(ROOT, env) as url:
        yield url


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    folder = Path(os.environ.get("FER_SCREENSHOT_DIR") or tmp_path_factory.mktemp("shots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _browser(playwright, extra_args=()):
    return playwright.chromium.launch(
        executable_path=require_chromium(), args=[*CHROMIUM_ARGS, *extra_args]
    )


def test_photo_page_shows_every_face(server, shots, two_faces, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    photo = tmp_path / "two_people.jpg"
    Image.fromarray(two_faces).save(photo, quality=92)
    with sync_playwright() as p:
        browser = _browser(p)
        page = browser.new_page(viewport={"width": 1280, "height": 1400})
        page.goto(f"{server}/photo", wait_until="domcontentloaded")
        page.locator("input[type=file]").first.set_input_files(str(photo))
        expect(page.get_by_text(re.compile(r"two_people\.jpg: 2 faces"))).to_be_visible(
            timeout=120_000
        )
        expect(page.get_by_text(re.compile(rf"^2\. ({LABELS})$"))).to_be_visible()
        # one probability chart per face, drawn by vega in the browser
        expect(page.locator(".vega-embed")).to_have_count(2, timeout=60_000)
        page.locator(".vega-embed canvas, .vega-embed svg").first.wait_for(timeout=60_000)
        page.wait_for_timeout(1500)
        page.screenshot(path=str(shots / "photo.png"), full_page=False)
        # a bad upload: one error line, the page keeps working
        bad = tmp_path / "notes.jpg"
        bad.write_text("not a photo")
        page.locator("input[type=file]").first.set_input_files(str(bad))
        expect(page.get_by_text("notes.jpg is not an image file")).to_be_visible(timeout=60_000)
        expect(page.get_by_text("Traceback")).to_have_count(0)
        browser.close()


def _camera_clip(tmp_path: Path, face_rgb: np.ndarray) -> Path:
    frame = np.full((480, 640, 3), 90, np.uint8)
    face = cv2.resize(face_rgb, (420, 420), interpolation=cv2.INTER_AREA)
    frame[30:450, 110:530] = face
    return write_y4m(tmp_path / "camera.y4m", frame, frames=30, fps=15)


def test_live_page_streams_with_a_fake_camera(server, shots, astronaut, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    clip = _camera_clip(tmp_path, astronaut)
    camera = [
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={clip}",
    ]
    with sync_playwright() as p:
        browser = _browser(p, camera)
        page = browser.new_page(viewport={"width": 1280, "height": 1300})
        page.goto(f"{server}/live", wait_until="domcontentloaded")
        # the START button lives in the webrtc component's iframe
        start = None
        deadline = time.time() + 120
        while start is None and time.time() < deadline:
            for frame in page.frames:
                button = frame.get_by_role("button", name="START")
                if button.count():
                    start = button.first
                    break
            else:
                page.wait_for_timeout(500)
        assert start is not None, "the webrtc START button never appeared"
        start.click()
        # .last: while a fragment re-renders, the old element can linger for a moment
        fps = (
            page.locator('[data-testid="stMetric"]')
            .filter(has_text="FPS")
            .locator('[data-testid="stMetricValue"]')
            .last
        )
        expect(fps).to_have_text(re.compile(r"^\d+(\.\d+)?$"), timeout=120_000)
        main_face = (
            page.locator('[data-testid="stMetric"]')
            .filter(has_text="Main face")
            .locator('[data-testid="stMetricValue"]')
            .last
        )
        expect(main_face).to_have_text(re.compile(rf"^({LABELS})$"), timeout=60_000)
        assert float(fps.inner_text()) > 0
        page.wait_for_timeout(6000)  # let the chart and video fill in for the screenshot
        page.screenshot(path=str(shots / "live.png"), full_page=False)
        browser.close()
