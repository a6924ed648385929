"""Face detection behind one small interface: YuNet (OpenCV Zoo ONNX model) or OpenCV's Haar cascade.

Both detectors take an RGB ``uint8`` image of shape ``(H, W, 3)`` and return :class:`Detection`
objects in original-image pixels, sorted left to right, with boxes clipped to the image.

* :class:`YuNetDetector` is the good one (accurate, gives five landmarks and a real confidence) but
  needs the ``face_detection_yunet_2023mar.onnx`` file; :func:`yunet_model_path` finds it
  (``$FER_YUNET_MODEL``, then the user cache, then a verified download, tried at most once a day:
  see :mod:`fer.vision.yunet_file`).
* :class:`HaarDetector` ships inside the opencv-python wheel and always works; it is the fallback.

:func:`create_detector` picks one and says, in one line meant for people, when it had to fall back.
Detector objects are meant to be created once and called per frame: they keep the loaded model and
serialise calls with a lock (neither OpenCV object is thread-safe).
"""

from __future__ import annotations

import logging
import math
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import cv2
import numpy as np

from fer.config import MIN_FACE
from fer.errors import FerError
from fer.settings import cache_dir
from fer.vision.yunet_file import (  # noqa: F401 - re-exported: the detectors' one import
    YUNET_FILENAME,
    YUNET_SHA256,
    YUNET_URL,
    current_notice,
    download_failure_notice,
    downloads_disabled,
    forget_download_failure,
    missing_notice,
    yunet_model_path,
)

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
#: Non-face rejection for Haar boxes (a hand was boxed as a face). YuNet is not used for it
#: because Haar runs exactly when YuNet's file is missing. Each box the default cascade finds is
#: searched again, in and around it, by the ``alt2`` frontal cascade at a fine scale step; a real
#: face collects many of its windows (median 74 on real photos), a false box few (median 1).
#: Boxes with at least ``HAAR_VOTES_SURE`` windows are kept, with fewer than ``HAAR_VOTES_MIN``
#: dropped; in between a box is kept when the default cascade's final-stage weight is at least
#: ``HAAR_SURE_WEIGHT`` or OpenCV's eye cascade finds an eye in its top 70 % (resized to 120 px
#: wide). Measured by ``python benchmarks/haar_rejection.py --photos DIR`` (29 public photos in
#: 13 altered forms and 100 LFW faces, YuNet as the ground truth): it keeps 98.8 % of the real
#: faces the cascade alone finds (the eye-only check it replaced: 79.1 %) and rejects 78 % of
#: its non-face boxes (eye-only: 82 %), 90 % of those on synthetic hands.
HAAR_VOTE_CASCADE_FILE = "haarcascade_frontalface_alt2.xml"
HAAR_VOTE_SCALE_FACTOR = 1.05
HAAR_VOTE_PAD = 0.3  # search the box widened by this share of its width on each side
HAAR_VOTES_SURE = 10
HAAR_VOTES_MIN = 2
HAAR_SURE_WEIGHT = 3.0
HAAR_EYE_CASCADE_FILE = "haarcascade_eye.xml"
HAAR_EYE_ROI_TOP = 0.7
HAAR_EYE_ROI_WIDTH = 120
HAAR_EYE_MIN_NEIGHBORS = 1
#: Divisor applied to the cascade's final-stage weight before the logistic squashing (see
#: ``HaarDetector``): real faces score ~2-9, which maps to ~0.75-0.99.
HAAR_WEIGHT_SCALE = 2.0

YUNET_SCORE_THRESHOLD = 0.6
YUNET_NMS_THRESHOLD = 0.3
YUNET_TOP_K = 5000

DETECTOR_CHOICES = ("auto", "yunet", "haar")


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
    Then each box must pass the non-face check (:meth:`is_face`, see ``HAAR_VOTE_CASCADE_FILE``)
    unless ``check_faces`` is False.
    """

    name = "haar"

    def __init__(
        self, cascade_path: str | os.PathLike[str] | None = None, check_faces: bool = True
    ) -> None:
        if cascade_path is None:
            cascade_path = os.path.join(_haar_folder(), HAAR_CASCADE_FILE)
        self.cascade_path = str(cascade_path)
        self._cascade = _load_cascade(self.cascade_path, "face")
        # the non-face check (see HAAR_VOTE_CASCADE_FILE); check_faces=False turns it off
        self.check_faces = check_faces
        if check_faces:
            folder = _haar_folder()
            self._votes = _load_cascade(os.path.join(folder, HAAR_VOTE_CASCADE_FILE), "face")
            self._eyes = _load_cascade(os.path.join(folder, HAAR_EYE_CASCADE_FILE), "eye")
        self._lock = threading.Lock()

    def is_face(self, gray: np.ndarray, plain: np.ndarray, box: tuple, weight: float) -> bool:
        """The non-face check on a ``box`` (detection pixels) of the equalised (``gray``) and
        plain grayscale image; ``weight`` is the default cascade's final-stage weight."""
        votes = self.votes(gray, box)
        if votes >= HAAR_VOTES_SURE:
            return True
        if votes < HAAR_VOTES_MIN:
            return False
        return weight >= HAAR_SURE_WEIGHT or self.has_eye(plain, box)

    def votes(self, gray: np.ndarray, box: tuple) -> int:
        """How many windows of the second frontal cascade centre inside ``box``."""
        x, y, w, h = box
        pad = int(HAAR_VOTE_PAD * w)
        x0, y0 = max(0, x - pad), max(0, y - pad)
        roi = gray[y0 : y + h + pad, x0 : x + w + pad]
        with self._lock:
            windows = self._votes.detectMultiScale(
                roi,
                scaleFactor=HAAR_VOTE_SCALE_FACTOR,
                minNeighbors=0,
                minSize=(int(w * 0.6), int(w * 0.6)),
                maxSize=(int(w * 1.6), int(w * 1.6)),
            )
        windows = np.asarray(windows, dtype=np.float64).reshape(-1, 4)
        cx = x0 + windows[:, 0] + windows[:, 2] / 2
        cy = y0 + windows[:, 1] + windows[:, 3] / 2
        return int(np.sum((cx >= x) & (cx <= x + w) & (cy >= y) & (cy <= y + h)))

    def has_eye(self, gray: np.ndarray, box: tuple[int, int, int, int]) -> bool:
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
                weights = [float(w) for w in np.ravel(weights)]
            except cv2.error:  # pragma: no cover - builds without reject levels
                boxes = self._cascade.detectMultiScale(
                    gray,
                    scaleFactor=HAAR_SCALE_FACTOR,
                    minNeighbors=HAAR_MIN_NEIGHBORS,
                    minSize=(side, side),
                )
                weights = []
        boxes = np.asarray(boxes).reshape(-1, 4)
        known = len(weights) == len(boxes)
        found = []
        for i, (x, y, w, h) in enumerate(boxes.tolist()):
            box = _to_original_box(x, y, w, h, scale, width, height, min_face)
            weight = weights[i] if known else 0.0
            if box is None or (
                self.check_faces and not self.is_face(gray, plain, (x, y, w, h), weight)
            ):
                continue
            score = 1.0 / (1.0 + math.exp(-weight / HAAR_WEIGHT_SCALE)) if known else 1.0
            found.append(Detection(box=box, score=score))
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
# choosing


def available_detectors(download: bool = False) -> list[str]:
    """Detectors usable now, best first: ``yunet`` (if its file is present, or, with
    ``download``, could be downloaded: at most one attempt a day) and ``haar`` (always)."""
    names = ["haar"]
    try:
        if yunet_model_path(download=download) is not None:
            names.insert(0, "yunet")
    except FerError:
        pass
    return names


def create_detector(name: str = "auto") -> tuple[FaceDetector, str | None]:
    """The detector called ``name`` (``auto``, ``yunet`` or ``haar``) and a one-line notice or None.

    ``yunet`` and ``auto`` give YuNet when its file can be had (possibly downloading it) and
    otherwise fall back to Haar with a notice saying why and what to do. After a failed download
    the notice comes once per process, and in the day after it only when ``yunet`` is asked for
    by name. Unknown names raise :class:`FerError`.
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
        notice = (
            missing_notice("downloads are off")
            if downloads_disabled()
            else download_failure_notice(explicit=key == "yunet")
        )
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
        downloads_disabled(),
    )
    with _detectors_lock:
        if key not in _detectors:
            _detectors[key] = create_detector(name)
        return _detectors[key]


def retry_yunet_download() -> str | None:
    """Forget a failed download and try again now (the CLI's ``--retry-download``, the
    sidebar's button): None once the file is there, else the one-line notice saying why not."""
    forget_download_failure()
    with _detectors_lock:
        _detectors.clear()
    try:
        if yunet_model_path(download=True) is not None:
            return None
    except FerError as err:
        return str(err)
    return download_failure_notice(explicit=True) or current_notice()
