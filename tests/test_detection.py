"""fer.vision.detection: Haar and YuNet on real photos (skimage's astronaut), scaling, model-file
resolution."""

from __future__ import annotations

import io
import threading
import urllib.error
import urllib.request
from pathlib import Path

import cv2
import numpy as np
import pytest
from skimage import data as skdata

from fer.errors import FerError
from fer.vision import detection
from fer.vision.detection import (
    DETECTOR_CHOICES,
    YUNET_FILENAME,
    YUNET_SHA256,
    YUNET_URL,
    Detection,
    FaceDetector,
    HaarDetector,
    YuNetDetector,
    available_detectors,
    create_detector,
    yunet_model_path,
)

# The astronaut's face in the 512x512 photo (checked by eye): YuNet box (178, 63, 90, 113),
# Haar box (177, 67, 93, 93); centre about (223, 115), face about 90 px wide.
FACE_CENTRE_X = (190, 260)
FACE_CENTRE_Y = (85, 150)
FACE_WIDTH = 91  # px in the 512 photo


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch, tmp_path):
    """No test touches the network or the user's cache; each starts without FER_YUNET_MODEL."""
    monkeypatch.setenv("FER_NO_DOWNLOAD", "1")
    monkeypatch.setenv("FER_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("FER_YUNET_MODEL", raising=False)


@pytest.fixture(scope="module")
def haar() -> HaarDetector:
    return HaarDetector()


@pytest.fixture(scope="module")
def yunet(yunet_model) -> YuNetDetector:
    return YuNetDetector(yunet_model)


@pytest.fixture(params=["haar", "yunet"])
def detector(request) -> FaceDetector:
    return request.getfixturevalue(request.param)


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return skdata.astronaut()


def _centre(det: Detection) -> tuple[float, float]:
    x, y, w, h = det.box
    return x + w / 2, y + h / 2


def _assert_in_bounds(dets: list[Detection], image: np.ndarray) -> None:
    height, width = image.shape[:2]
    for det in dets:
        x, y, w, h = det.box
        assert all(isinstance(v, int) for v in det.box)
        assert 0 <= x and 0 <= y and w > 0 and h > 0, det
        assert x + w <= width and y + h <= height, det
        assert 0.0 <= det.score <= 1.0


def _assert_sorted(dets: list[Detection]) -> None:
    xs = [d.box[0] for d in dets]
    assert xs == sorted(xs)


# ------------------------------------------------------------------------------------ finding faces


def test_detectors_follow_the_protocol(haar, yunet):
    assert isinstance(haar, FaceDetector) and haar.name == "haar"
    assert isinstance(yunet, FaceDetector) and yunet.name == "yunet"


def test_one_face_in_astronaut(detector, astronaut):
    dets = detector.detect(astronaut)
    assert len(dets) == 1
    _assert_in_bounds(dets, astronaut)
    cx, cy = _centre(dets[0])
    assert FACE_CENTRE_X[0] <= cx <= FACE_CENTRE_X[1]
    assert FACE_CENTRE_Y[0] <= cy <= FACE_CENTRE_Y[1]
    assert 70 <= dets[0].box[2] <= 130
    assert dets[0].score > 0.6


def test_haar_gives_no_landmarks(haar, astronaut):
    assert haar.detect(astronaut)[0].landmarks is None


def test_yunet_landmarks_lie_on_the_face(yunet, astronaut):
    det = yunet.detect(astronaut)[0]
    assert det.landmarks is not None and len(det.landmarks) == 5
    x, y, w, h = det.box
    for px, py in det.landmarks:
        assert x <= px <= x + w and y <= py <= y + h
    (rx, ry), (lx, ly) = det.landmarks[0], det.landmarks[1]
    assert rx < lx and abs(ry - ly) < 10  # eyes level, subject's right eye on the image's left
    assert det.landmarks[2][1] > ry  # nose below the eyes


def test_two_faces_side_by_side(detector, astronaut):
    image = np.ascontiguousarray(np.concatenate([astronaut, astronaut[:, ::-1]], axis=1))
    dets = detector.detect(image)
    assert len(dets) == 2
    _assert_in_bounds(dets, image)
    _assert_sorted(dets)
    (lx, ly), (rx, ry) = _centre(dets[0]), _centre(dets[1])
    assert FACE_CENTRE_X[0] <= lx <= FACE_CENTRE_X[1]
    assert 1024 - FACE_CENTRE_X[1] <= rx <= 1024 - FACE_CENTRE_X[0]  # mirrored copy
    assert abs(ly - ry) < 20


@pytest.mark.parametrize("kind", ["black", "white", "noise"])
def test_no_faces_in_blank_or_noise(detector, kind):
    if kind == "noise":
        image = np.random.default_rng(0).integers(0, 256, (480, 640, 3), dtype=np.uint8)
    else:
        image = np.full((480, 640, 3), 0 if kind == "black" else 255, np.uint8)
    assert detector.detect(image) == []


def _big_image_with_small_astronaut(astronaut, x0: int, y0: int) -> tuple[np.ndarray, float, int]:
    """4000x3000 image (smooth diagonal ramp) with the astronaut pasted so her face is ~60 px wide."""
    ramp_x = np.linspace(0, 255, 4000, dtype=np.float32)[None, :]
    ramp_y = np.linspace(0, 255, 3000, dtype=np.float32)[:, None]
    image = np.repeat(((ramp_x + ramp_y) / 2).astype(np.uint8)[:, :, None], 3, axis=2)
    side = round(512 * 60 / FACE_WIDTH)
    image[y0 : y0 + side, x0 : x0 + side] = cv2.resize(
        astronaut, (side, side), interpolation=cv2.INTER_AREA
    )
    return image, side / 512, side


@pytest.mark.parametrize("origin", [(2500, 1700), (400, 300)])
def test_small_face_in_big_image_maps_back(detector, astronaut, origin):
    x0, y0 = origin
    image, scale, side = _big_image_with_small_astronaut(astronaut, x0, y0)
    assert image.shape == (3000, 4000, 3)
    dets = detector.detect(image)  # min_face 40 < the ~60 px face
    _assert_in_bounds(dets, image)
    assert len(dets) == 1
    x, y, w, h = dets[0].box
    assert (
        x0 <= x and y0 <= y and x + w <= x0 + side and y + h <= y0 + side
    )  # inside the pasted photo
    cx, cy = _centre(dets[0])
    assert x0 + FACE_CENTRE_X[0] * scale <= cx <= x0 + FACE_CENTRE_X[1] * scale
    assert y0 + FACE_CENTRE_Y[0] * scale <= cy <= y0 + FACE_CENTRE_Y[1] * scale
    assert 45 <= w <= 85  # original-image pixels, not detection-image pixels


def test_min_face_filters_small_faces(detector, astronaut):
    assert len(detector.detect(astronaut, min_face=60)) == 1
    assert detector.detect(astronaut, min_face=150) == []


def test_min_face_filters_in_original_pixels_on_big_images(detector, astronaut):
    image, _, _ = _big_image_with_small_astronaut(astronaut, 2500, 1700)
    assert detector.detect(image, min_face=120) == []  # the ~60 px face is too small


def test_face_cut_by_the_border_is_clipped(yunet, astronaut):
    for image in (astronaut[:, 200:], astronaut[100:, :]):
        image = np.ascontiguousarray(image)
        dets = yunet.detect(image)
        assert len(dets) == 1
        _assert_in_bounds(dets, image)
        x, y, _, _ = dets[0].box
        assert x == 0 or y == 0


def test_detection_scale_keeps_min_face_findable():
    scale = detection._detection_scale
    assert scale(512, 512, 1280, 40, 16) == 1.0  # small images are never upscaled
    assert scale(3000, 4000, 1280, 400, 16) == pytest.approx(0.32)  # big min_face: cap by size
    assert scale(3000, 4000, 1280, 40, 16) == pytest.approx(0.4)  # 40 px must stay >= 16 px
    assert scale(3000, 4000, 1024, 40, 40) == 1.0


def test_yunet_reuses_one_net_across_sizes_and_threads(yunet, astronaut):
    two = np.ascontiguousarray(np.concatenate([astronaut, astronaut[:, ::-1]], axis=1))
    first = yunet.detect(astronaut)
    assert len(yunet.detect(two)) == 2
    assert yunet.detect(astronaut) == first  # input size switched back correctly

    results: list[list[Detection]] = []

    def work() -> None:
        for _ in range(3):
            results.append(yunet.detect(astronaut))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 12 and all(r == first for r in results)


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((64, 64), np.uint8),
        np.zeros((64, 64, 4), np.uint8),
        np.zeros((64, 64, 3), np.float32),
    ],
)
def test_rejects_non_rgb_uint8_input(haar, bad):
    with pytest.raises(FerError, match="RGB uint8"):
        haar.detect(bad)


def test_haar_missing_cascade_is_a_clear_error(tmp_path):
    with pytest.raises(FerError, match="Haar face cascade"):
        HaarDetector(tmp_path / "missing.xml")
    junk = tmp_path / "junk.xml"
    junk.write_text("not a cascade")
    with pytest.raises(FerError, match="Haar face cascade"):
        HaarDetector(junk)


def test_yunet_bad_model_file_is_a_clear_error(tmp_path):
    with pytest.raises(FerError, match="not found"):
        YuNetDetector(tmp_path / "missing.onnx")
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not onnx")
    with pytest.raises(FerError, match="YuNet"):
        YuNetDetector(junk)


# ------------------------------------------------------------------------------ finding the model


def _cache_file(tmp_path: Path) -> Path:
    return tmp_path / "cache" / "models" / YUNET_FILENAME


def _left_in_cache(tmp_path: Path) -> list[str]:
    """Files in the cache folder besides the remembered failure."""
    folder = _cache_file(tmp_path).parent
    files = sorted(p.name for p in folder.iterdir()) if folder.exists() else []
    return [name for name in files if name != YUNET_FILENAME + ".download-failed"]


@pytest.fixture
def no_network(monkeypatch):
    def fail(*args, **kwargs):
        pytest.fail("urllib.request.urlopen must not be called")

    monkeypatch.setattr(urllib.request, "urlopen", fail)


@pytest.fixture
def fake_urlopen(monkeypatch):
    """Serve ``payload['bytes']`` instead of the network; records the calls."""
    payload: dict = {"bytes": b"", "calls": []}

    def fake(url, *args, timeout=None, **kwargs):
        payload["calls"].append((url, timeout))
        return io.BytesIO(payload["bytes"])

    monkeypatch.setattr(urllib.request, "urlopen", fake)
    return payload


def test_constants():
    assert YUNET_URL == (
        "https://github.com/opencv/opencv_zoo/raw/main/models/face_detection_yunet/"
        "face_detection_yunet_2023mar.onnx"
    )
    assert YUNET_SHA256 == "8f2383e4dd3cfbb4553ea8718107fc0423210dc964f9f4280604804ed2552fa4"
    assert detection.DETECT_MAX_SIDE == 1280


def test_env_var_wins_over_cache(monkeypatch, tmp_path, yunet_model, no_network):
    cached = _cache_file(tmp_path)
    cached.parent.mkdir(parents=True)
    cached.write_bytes(yunet_model.read_bytes())
    other = tmp_path / "elsewhere.onnx"
    other.write_bytes(yunet_model.read_bytes())
    monkeypatch.setenv("FER_YUNET_MODEL", str(other))
    assert yunet_model_path() == other


def test_env_var_to_missing_file_is_an_error(monkeypatch, tmp_path, no_network):
    monkeypatch.setenv("FER_YUNET_MODEL", str(tmp_path / "nope.onnx"))
    with pytest.raises(FerError, match="FER_YUNET_MODEL"):
        yunet_model_path()


def test_cache_with_right_checksum_is_used(tmp_path, yunet_model, no_network):
    cached = _cache_file(tmp_path)
    cached.parent.mkdir(parents=True)
    cached.write_bytes(yunet_model.read_bytes())
    assert yunet_model_path() == cached
    assert yunet_model_path(download=False) == cached


def test_cache_with_wrong_checksum_is_ignored(tmp_path, no_network):
    cached = _cache_file(tmp_path)
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"truncated model")
    assert yunet_model_path() is None


def test_no_download_env_prevents_the_download(no_network):
    assert yunet_model_path(download=True) is None


def test_download_false_prevents_the_download(monkeypatch, no_network):
    monkeypatch.delenv("FER_NO_DOWNLOAD")
    assert yunet_model_path(download=False) is None


def test_download_with_good_checksum_is_cached(monkeypatch, tmp_path, yunet_model, fake_urlopen):
    monkeypatch.delenv("FER_NO_DOWNLOAD")
    fake_urlopen["bytes"] = yunet_model.read_bytes()
    path = yunet_model_path()
    assert path == _cache_file(tmp_path)
    assert path.read_bytes() == yunet_model.read_bytes()
    assert [p.name for p in path.parent.iterdir()] == [YUNET_FILENAME]  # no temp file left
    ((url, timeout),) = fake_urlopen["calls"]
    assert url == YUNET_URL and 0 < timeout <= 5  # a blackholed network costs seconds, once
    assert yunet_model_path() == path  # second time from the cache
    assert len(fake_urlopen["calls"]) == 1


def test_download_with_bad_checksum_is_rejected(monkeypatch, tmp_path, fake_urlopen):
    monkeypatch.delenv("FER_NO_DOWNLOAD")
    fake_urlopen["bytes"] = b"<html>rate limited</html>"
    assert yunet_model_path() is None
    assert _left_in_cache(tmp_path) == []


def test_network_error_returns_none(monkeypatch, tmp_path):
    monkeypatch.delenv("FER_NO_DOWNLOAD")

    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    assert yunet_model_path() is None
    assert _left_in_cache(tmp_path) == []


# ------------------------------------------------------------------------------------- choosing


def test_create_haar(no_network):
    det, notice = create_detector("haar")
    assert isinstance(det, HaarDetector) and notice is None


@pytest.mark.parametrize("name", ["yunet", "auto", "YuNet"])
def test_create_yunet_when_the_file_is_there(monkeypatch, yunet_model, name, no_network):
    monkeypatch.setenv("FER_YUNET_MODEL", str(yunet_model))
    det, notice = create_detector(name)
    assert isinstance(det, YuNetDetector) and notice is None


@pytest.mark.parametrize("name", ["yunet", "auto"])
def test_create_falls_back_to_haar_with_a_notice(name, no_network):
    det, notice = create_detector(name)
    assert isinstance(det, HaarDetector)
    assert notice is not None and "\n" not in notice
    assert (
        "YuNet model not available" in notice and "FER_YUNET_MODEL" in notice and "Haar" in notice
    )


def test_create_falls_back_when_env_points_nowhere(monkeypatch, tmp_path, no_network):
    monkeypatch.setenv("FER_YUNET_MODEL", str(tmp_path / "nope.onnx"))
    det, notice = create_detector("yunet")
    assert isinstance(det, HaarDetector)
    assert "FER_YUNET_MODEL" in notice and "Haar" in notice


def test_create_unknown_name_lists_choices():
    with pytest.raises(FerError) as info:
        create_detector("dlib")
    for choice in DETECTOR_CHOICES:
        assert choice in str(info.value)


def test_available_detectors(monkeypatch, yunet_model, no_network):
    monkeypatch.delenv("FER_NO_DOWNLOAD")  # even so, listing never downloads
    assert available_detectors() == ["haar"]
    monkeypatch.setenv("FER_YUNET_MODEL", str(yunet_model))
    assert available_detectors() == ["yunet", "haar"]


def test_max_side_caps_detection_resolution_and_maps_back(yunet, astronaut):
    from fer.jobs.tracking import iou

    full = yunet.detect(astronaut, min_face=40)
    small = yunet.detect(astronaut, min_face=40, max_side=160)
    assert len(full) == len(small) == 1
    assert iou(full[0].box, small[0].box) > 0.7
