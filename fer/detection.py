"""Face detection behind one small interface: YuNet (OpenCV Zoo ONNX model) or OpenCV's Haar cascade.

Both detectors take an RGB ``uint8`` image of shape ``(H, W, 3)`` and return :class:`Detection`
objects in original-image pixels, sorted left to right, with boxes clipped to the image.

* :class:`YuNetDetector` is the good one (accurate, gives five landmarks and a real confidence) but
  needs the ``face_detection_yunet_2023mar.onnx`` file; :func:`yunet_model_path` finds it
  (``$FER_YUNET_MODEL``, then the user cache, then a one-off verified download).
* :class:`HaarDetector` ships inside the opencv-python wheel and always works; it is the fallback.

:func:`create_detector` picks one and says, in one line meant for people, when it had to fall back.
Detector objects are meant to be created once and called per frame: they keep the loaded model and
serialise calls with a lock (neither OpenCV object is thread-safe).
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import tempfile
import threading
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import cv2
import numpy as np

from fer.config import MIN_FACE
from fer.errors import FerError
from fer.settings import cache_dir

log = logging.getLogger(__name__)

#: Longest side (pixels) of the image YuNet actually sees; larger inputs are shrunk first.
DETECT_MAX_SIDE = 1280
#: Same for the Haar cascade. detectMultiScale builds its own pyramid, starting at the level where
#: minSize shrinks to its 24-px window, so its cost is set by min_face, not by our shrinking; the
#: cap only saves time when min_face is large (12 MP photo on a busy 2-core CPU: min_face=200
#: ~0.3 s with the cap; min_face=40 needs ~0.8-3 s however we shrink). YuNet has no such
#: pyramid: its cost is the pixel count it is fed (~0.25 s at 1600x1200, ~20 ms at 512x512).
HAAR_MAX_SIDE = 1024
#: Smallest face (in detection-image pixels) each detector finds *reliably*. Haar's window is 24 px,
#: but on real photos its recall is poor below ~40 px (measured on skimage's astronaut pasted at
#: sizes 24-90 px); YuNet still finds 10-12 px faces, 16 px gives it a margin.
HAAR_MIN_FACE_PX = 40
YUNET_MIN_FACE_PX = 16

#: Haar parameters. minNeighbors 5: real faces of 50+ px collect 5-45 neighbours, while most
#: false positives on skimage's non-face photos (coins, hubble, retina, cell) get 4-9.
HAAR_SCALE_FACTOR = 1.1
HAAR_MIN_NEIGHBORS = 5
HAAR_CASCADE_FILE = "haarcascade_frontalface_default.xml"
#: Non-face rejection for Haar boxes (a hand was boxed as a face): a box is kept only when
#: OpenCV's eye cascade finds an eye in its top 70 %, resized to 120 px wide. YuNet is not used
#: for this because Haar runs exactly when YuNet's file is missing. Measured by
#: ``python benchmarks/haar_rejection.py``: it keeps 88 % of Haar's faces on upscaled FER2013
#: test images (blurry 48-px faces: the hard case) and rejects 96 % of Haar's boxes on
#: synthetic hands and skimage's coins and moon.
HAAR_EYE_CASCADE_FILE = "haarcascade_eye.xml"
HAAR_EYE_ROI_TOP = 0.7
HAAR_EYE_ROI_WIDTH = 120
HAAR_EYE_MIN_NEIGHBORS = 1
#: Divisor applied to the cascade's final-stage weight before the logistic squashing (see
#: ``HaarDetector``): real faces score ~2-9, which maps to ~0.75-0.99.
HAAR_WEIGHT_SCALE = 2.0

YUNET_FILENAME = "face_detection_yunet_2023mar.onnx"
YUNET_URL = (
    "https://github.com/opencv/opencv_zoo/raw/main/models/face_detection_yunet/"
    "face_detection_yunet_2023mar.onnx"
)
YUNET_SHA256 = "8f2383e4dd3cfbb4553ea8718107fc0423210dc964f9f4280604804ed2552fa4"
YUNET_SCORE_THRESHOLD = 0.6
YUNET_NMS_THRESHOLD = 0.3
YUNET_TOP_K = 5000
DOWNLOAD_TIMEOUT_S = 15.0
_MAX_DOWNLOAD_BYTES = 10 * 1024 * 1024  # the model is ~230 KB; refuse anything absurd

DETECTOR_CHOICES = ("auto", "yunet", "haar")
YUNET_UNAVAILABLE_NOTICE = (
    "YuNet model not available (set FER_YUNET_MODEL or allow the download); "
    "using the built-in Haar detector."
)


@dataclass(frozen=True)
class Detection:
    """One face: ``box`` is (x, y, w, h) in original-image pixels, clipped to the image.

    ``score`` is in 0..1 (YuNet: the model's confidence; Haar: a squashed cascade weight, see
    :class:`HaarDetector`). ``landmarks`` are YuNet's five points (right eye, left eye, nose tip,
    right and left mouth corner, as seen from the subject) in original-image pixels, else None.
    """

    box: tuple[int, int, int, int]
    score: float
    landmarks: tuple[tuple[float, float], ...] | None = None


@runtime_checkable
class FaceDetector(Protocol):
    """Anything that finds faces in an RGB image."""

    name: str

    def detect(
        self, image_rgb: np.ndarray, min_face: int = MIN_FACE, max_side: int | None = None
    ) -> list[Detection]:
        """Faces at least ``min_face`` px (shorter box side, original pixels), sorted by x.
        ``max_side`` caps the detection resolution (default: the detector's own)."""
        ...


# --------------------------------------------------------------------------------------------
# shared helpers


def _check_image(image_rgb: np.ndarray) -> np.ndarray:
    if not isinstance(image_rgb, np.ndarray):
        raise FerError(f"Face detection needs a numpy image, got {type(image_rgb).__name__}.")
    if image_rgb.ndim != 3 or image_rgb.shape[2] != 3 or image_rgb.dtype != np.uint8:
        raise FerError(
            "Face detection needs an RGB uint8 image of shape (H, W, 3), "
            f"got {image_rgb.dtype} {image_rgb.shape}."
        )
    return np.ascontiguousarray(image_rgb)


def _search_plan(
    image_rgb: np.ndarray, min_face: int, max_side: int, smallest_px: int
) -> tuple[np.ndarray, int, float]:
    """Checked image, clamped ``min_face`` and the scale the detector searches at."""
    image_rgb = _check_image(image_rgb)
    height, width = image_rgb.shape[:2]
    min_face = max(0, int(min_face))
    return image_rgb, min_face, _detection_scale(height, width, max_side, min_face, smallest_px)


def _detection_scale(
    height: int, width: int, max_side: int, min_face: int, min_face_px: int
) -> float:
    """Factor (<= 1) to shrink the image by before detection.

    Trade-off: shrinking so the longest side is ``max_side`` keeps detection time roughly constant
    for big photos, but also shrinks the faces; a face of ``min_face`` original pixels must stay at
    least ``min_face_px`` (what the detector can still find) in the shrunk image. So the scale is
    ``max(max_side / longest, min_face_px / min_face)``: asking for small faces in a huge image
    costs time (up to full resolution), asking only for large faces lets us shrink more. E.g. a
    4000x3000 photo with min_face=40 goes to YuNet at 1600x1200 (not 1280x960) and to Haar at full
    size (Haar then skips the pyramid levels below min_face itself). Never upscales.
    """
    scale = min(1.0, max_side / max(height, width))
    if min_face > 0:
        scale = max(scale, min_face_px / min_face)
    return min(scale, 1.0)


def _resize(image: np.ndarray, scale: float) -> np.ndarray:
    if scale >= 1.0:
        return image
    h, w = image.shape[:2]
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def _to_original_box(
    x: float, y: float, w: float, h: float, scale: float, width: int, height: int, min_face: int
) -> tuple[int, int, int, int] | None:
    """Map a detection-image box back to original pixels; None if too small or outside."""
    x, y, w, h = x / scale, y / scale, w / scale, h / scale
    if (
        min(w, h) < min_face
    ):  # judged on the unclipped size: a face cut by the border is still that big
        return None
    x0, y0 = max(0, int(round(x))), max(0, int(round(y)))
    x1, y1 = min(width, int(round(x + w))), min(height, int(round(y + h)))
    if x1 <= x0 or y1 <= y0:
        return None
    return (x0, y0, x1 - x0, y1 - y0)


def _sorted(detections: list[Detection]) -> list[Detection]:
    return sorted(detections, key=lambda d: (d.box[0], d.box[1]))


# --------------------------------------------------------------------------------------------
# Haar


class HaarDetector:
    """OpenCV's ``haarcascade_frontalface_default.xml`` (ships with the opencv-python wheels).

    Grayscale, optional shrink (see :func:`_detection_scale`), ``equalizeHist``, then
    ``detectMultiScale3`` with ``outputRejectLevels=True`` to get each face's final-stage weight
    ``w``. The score is ``1 / (1 + exp(-w / HAAR_WEIGHT_SCALE))``: monotone in the cascade's own
    certainty and in 0..1, but not a calibrated probability (0.5 sits at a final-stage sum of 0;
    real faces typically land at 0.75-0.99). Where OpenCV cannot give the weights the score is 1.0.
    """

    name = "haar"

    def __init__(
        self, cascade_path: str | os.PathLike[str] | None = None, verify_eyes: bool = True
    ) -> None:
        if cascade_path is None:
            cascade_path = os.path.join(_haar_folder(), HAAR_CASCADE_FILE)
        self.cascade_path = str(cascade_path)
        self._cascade = _load_cascade(self.cascade_path, "face")
        # the non-face check (see HAAR_EYE_CASCADE_FILE); verify_eyes=False turns it off
        self._eyes = (
            _load_cascade(os.path.join(_haar_folder(), HAAR_EYE_CASCADE_FILE), "eye")
            if verify_eyes
            else None
        )
        self._lock = threading.Lock()

    def _has_eye(self, gray: np.ndarray, box: tuple[int, int, int, int]) -> bool:
        """Whether the eye cascade finds an eye in the top of ``box`` (detection pixels)."""
        x, y, w, h = box
        roi = gray[max(0, y) : y + max(1, int(h * HAAR_EYE_ROI_TOP)), max(0, x) : x + w]
        if roi.size == 0:
            return False
        scale = HAAR_EYE_ROI_WIDTH / roi.shape[1]
        roi = cv2.resize(
            roi,
            (HAAR_EYE_ROI_WIDTH, max(1, round(roi.shape[0] * scale))),
            interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR,
        )
        side = HAAR_EYE_ROI_WIDTH
        with self._lock:
            eyes = self._eyes.detectMultiScale(
                cv2.equalizeHist(roi),
                scaleFactor=1.1,
                minNeighbors=HAAR_EYE_MIN_NEIGHBORS,
                minSize=(side // 10, side // 10),
                maxSize=(side // 2, side // 2),
            )
        return len(eyes) > 0

    def detect(
        self, image_rgb: np.ndarray, min_face: int = MIN_FACE, max_side: int | None = None
    ) -> list[Detection]:
        """Faces at least ``min_face`` px wide in original pixels, sorted left to right."""
        image_rgb, min_face, scale = _search_plan(
            image_rgb, min_face, max_side or HAAR_MAX_SIDE, HAAR_MIN_FACE_PX
        )
        height, width = image_rgb.shape[:2]
        plain = _resize(cv2.cvtColor(image_rgb, cv2.COLOR_RGB2GRAY), scale)
        gray = cv2.equalizeHist(plain)
        side = max(1, int(math.floor(min_face * scale)))
        with self._lock:
            try:
                boxes, _levels, weights = self._cascade.detectMultiScale3(
                    gray,
                    scaleFactor=HAAR_SCALE_FACTOR,
                    minNeighbors=HAAR_MIN_NEIGHBORS,
                    minSize=(side, side),
                    outputRejectLevels=True,
                )
                scores = [
                    1.0 / (1.0 + math.exp(-float(w) / HAAR_WEIGHT_SCALE)) for w in np.ravel(weights)
                ]
            except cv2.error:  # pragma: no cover - builds without reject levels
                boxes = self._cascade.detectMultiScale(
                    gray,
                    scaleFactor=HAAR_SCALE_FACTOR,
                    minNeighbors=HAAR_MIN_NEIGHBORS,
                    minSize=(side, side),
                )
                scores = []
        boxes = np.asarray(boxes).reshape(-1, 4)
        if len(scores) != len(boxes):
            scores = [1.0] * len(boxes)
        found = []
        for (x, y, w, h), score in zip(boxes.tolist(), scores):
            box = _to_original_box(x, y, w, h, scale, width, height, min_face)
            if box is not None and (self._eyes is None or self._has_eye(plain, (x, y, w, h))):
                found.append(Detection(box=box, score=float(score)))
        return _sorted(found)


def _haar_folder() -> str:
    folder = getattr(getattr(cv2, "data", None), "haarcascades", None)
    if not folder:
        raise FerError(
            "OpenCV's Haar cascades are not installed (cv2.data.haarcascades is missing); "
            "install opencv-python-headless 4.x."
        )
    return folder


def _load_cascade(path: str, what: str) -> cv2.CascadeClassifier:
    cascade = cv2.CascadeClassifier()
    try:
        loaded = os.path.isfile(path) and cascade.load(path)
    except cv2.error:  # not an XML/YAML file at all
        loaded = False
    if not loaded or cascade.empty():
        raise FerError(
            f"Could not load the Haar {what} cascade from {path} (missing or not a "
            "cascade file); reinstall opencv-python-headless 4.x, which ships the cascade files."
        )
    return cascade


# --------------------------------------------------------------------------------------------
# YuNet


class YuNetDetector:
    """OpenCV Zoo's YuNet (``cv2.FaceDetectorYN``), created once and reused for every call."""

    name = "yunet"

    def __init__(self, model_path: str | os.PathLike[str]) -> None:
        self.model_path = Path(model_path)
        if not self.model_path.is_file():
            raise FerError(f"YuNet model file not found: {self.model_path}")
        try:
            self._net = cv2.FaceDetectorYN.create(
                str(self.model_path),
                "",
                (320, 320),
                score_threshold=YUNET_SCORE_THRESHOLD,
                nms_threshold=YUNET_NMS_THRESHOLD,
                top_k=YUNET_TOP_K,
            )
        except cv2.error as err:
            raise FerError(
                f"Could not load the YuNet model {self.model_path}: {err}".strip()
            ) from err
        self._input_size: tuple[int, int] = (320, 320)
        self._lock = threading.Lock()

    def detect(
        self, image_rgb: np.ndarray, min_face: int = MIN_FACE, max_side: int | None = None
    ) -> list[Detection]:
        """Faces at least ``min_face`` px (shorter box side, original pixels), sorted left to right."""
        image_rgb, min_face, scale = _search_plan(
            image_rgb, min_face, max_side or DETECT_MAX_SIDE, YUNET_MIN_FACE_PX
        )
        height, width = image_rgb.shape[:2]
        bgr = cv2.cvtColor(_resize(image_rgb, scale), cv2.COLOR_RGB2BGR)
        size = (bgr.shape[1], bgr.shape[0])
        with self._lock:
            if size != self._input_size:
                self._net.setInputSize(size)
                self._input_size = size
            _, faces = self._net.detect(bgr)
        if faces is None:
            return []
        found = []
        for row in np.asarray(faces, dtype=np.float64).reshape(-1, 15):
            box = _to_original_box(*row[:4], scale, width, height, min_face)
            if box is None:
                continue
            points = tuple(
                (float(px / scale), float(py / scale)) for px, py in row[4:14].reshape(5, 2)
            )
            found.append(Detection(box=box, score=float(row[14]), landmarks=points))
        return _sorted(found)


# --------------------------------------------------------------------------------------------
# finding the YuNet file


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 16), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _downloads_disabled() -> bool:
    return os.environ.get("FER_NO_DOWNLOAD", "").strip().lower() in {"1", "true", "yes", "on"}


def _download_yunet(target: Path) -> Path | None:
    """Fetch YuNet into ``target`` (atomic, sha256-checked); None on any failure."""
    tmp_name: str | None = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        size = 0
        with urllib.request.urlopen(YUNET_URL, timeout=DOWNLOAD_TIMEOUT_S) as response:
            with tempfile.NamedTemporaryFile(
                dir=target.parent, prefix=target.name + ".", suffix=".part", delete=False
            ) as tmp:
                tmp_name = tmp.name
                while chunk := response.read(1 << 16):
                    size += len(chunk)
                    if size > _MAX_DOWNLOAD_BYTES:
                        raise ValueError(f"download larger than {_MAX_DOWNLOAD_BYTES} bytes")
                    digest.update(chunk)
                    tmp.write(chunk)
        if digest.hexdigest() != YUNET_SHA256:
            log.warning("YuNet download from %s failed its sha256 check; discarded.", YUNET_URL)
            return None
        os.replace(tmp_name, target)
        tmp_name = None
        log.info("Downloaded the YuNet face model to %s", target)
        return target
    except Exception as err:  # network, disk, anything: the caller falls back to Haar
        log.warning("Could not download the YuNet face model from %s: %s", YUNET_URL, err)
        return None
    finally:
        if tmp_name is not None:
            try:
                os.unlink(tmp_name)
            except OSError:
                pass


def yunet_model_path(download: bool = True) -> Path | None:
    """Where the YuNet model is, or None.

    1. ``$FER_YUNET_MODEL`` if set (a missing file there raises :class:`FerError`; not checksummed,
       so other YuNet variants can be used);
    2. ``cache_dir()/models/face_detection_yunet_2023mar.onnx`` if its sha256 is ``YUNET_SHA256``;
    3. if ``download`` and ``$FER_NO_DOWNLOAD`` is not set: download ``YUNET_URL`` into that cache
       path (15 s timeout, checksum verified, atomic). Network failures return None, never raise.
    """
    env = os.environ.get("FER_YUNET_MODEL")
    if env:
        path = Path(env).expanduser()
        if not path.is_file():
            raise FerError(f"FER_YUNET_MODEL is set to {path}, but that file does not exist.")
        return path
    cached = cache_dir() / "models" / YUNET_FILENAME
    try:
        if cached.is_file() and _sha256(cached) == YUNET_SHA256:
            return cached
    except OSError:
        pass
    if cached.is_file():
        log.warning("Ignoring %s: its sha256 does not match the published YuNet model.", cached)
    if not download or _downloads_disabled():
        return None
    return _download_yunet(cached)


# --------------------------------------------------------------------------------------------
# choosing


def available_detectors() -> list[str]:
    """Detectors usable right now without downloading, best first: ``yunet`` (if its file is
    present) and ``haar`` (always)."""
    names = ["haar"]
    try:
        if yunet_model_path(download=False) is not None:
            names.insert(0, "yunet")
    except FerError:
        pass
    return names


def create_detector(name: str = "auto") -> tuple[FaceDetector, str | None]:
    """The detector called ``name`` (``auto``, ``yunet`` or ``haar``) and a one-line notice or None.

    ``yunet`` and ``auto`` give YuNet when its file can be had (possibly downloading it once) and
    otherwise fall back to Haar with a notice saying why. Unknown names raise :class:`FerError`.
    """
    key = (name or "").strip().lower()
    if key not in DETECTOR_CHOICES:
        raise FerError(
            f"Unknown face detector {name!r}; choose one of: {', '.join(DETECTOR_CHOICES)}."
        )
    if key == "haar":
        return HaarDetector(), None
    try:
        path = yunet_model_path(download=True)
        if path is not None:
            return YuNetDetector(path), None
        notice = YUNET_UNAVAILABLE_NOTICE
    except FerError as err:
        notice = f"{err} Using the built-in Haar detector."
    return HaarDetector(), notice


_detectors: dict[tuple, tuple[FaceDetector, str | None]] = {}
_detectors_lock = threading.Lock()


def get_detector(name: str = "auto") -> tuple[FaceDetector, str | None]:
    """:func:`create_detector`'s answer, one per process for each name and YuNet setting
    (``$FER_YUNET_MODEL``, the cache folder, downloads on or off): detectors are thread-safe,
    and asking twice must not download twice."""
    key = (
        (name or "").strip().lower(),
        os.environ.get("FER_YUNET_MODEL"),
        str(cache_dir()),
        _downloads_disabled(),
    )
    with _detectors_lock:
        if key not in _detectors:
            _detectors[key] = create_detector(name)
        return _detectors[key]
