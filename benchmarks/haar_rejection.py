"""The Haar detector's non-face check (``fer.vision.detection.HAAR_VOTE_CASCADE_FILE``) on real
photos: the share of real faces it keeps and of non-face boxes it rejects, beside the eye-only check
it replaced.

    python benchmarks/haar_rejection.py [--photos DIR] [--hands 300] [--fer2013 400]

Faces: the boxes the default cascade alone finds (``check_faces=False``) that lie on a face YuNet
finds (the ground truth; needs the YuNet file). Photos: scikit-image's astronaut, camera and the
astronaut beside her mirror image, and the photos in ``--photos DIR`` (any folder of JPEG/PNG
files, shrunk to 1024 px), each also mirrored, halved, darkened, low in contrast, blurred,
JPEG-compressed at quality 15, noisy, turned by 12 degrees either way, in grey, warm-tinted, and
with a skin-coloured blob over the mouth; and scikit-image's LFW subset's 100 faces (25 px,
enlarged to 100 px). Non-faces: the default cascade's other boxes in those photos, and its boxes
on synthetic hands (``tests/synthetic_hand.py``) and on scikit-image's photos without faces
(each also mirrored and blurred). ``--fer2013 N`` adds N FER2013 test faces (48 px enlarged to
192 px).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fer.vision.detection import HaarDetector, YuNetDetector, yunet_model_path  # noqa: E402
from tests.synthetic_hand import hand  # noqa: E402

SHARED_YUNET = (
    Path(__file__).resolve().parents[2] / "shared/models/face_detection_yunet_2023mar.onnx"
)
NON_FACE_PHOTOS = (
    "coins moon coffee chelsea rocket horse brick grass gravel hubble_deep_field retina page "
    "text cell immunohistochemistry clock logo colorwheel microaneurysms shepp_logan_phantom cat"
).split()


def _variants(image: np.ndarray, faces) -> list[np.ndarray]:
    """The photo and its altered copies (see the module docstring)."""
    h, w = image.shape[:2]
    rng = np.random.default_rng(0)
    ok, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 15])
    grey = cv2.cvtColor(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)
    out = [
        image,
        image[:, ::-1],
        cv2.resize(image, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA),
        255 * (image / 255.0) ** 2.0,
        image * 0.4 + 80,
        cv2.GaussianBlur(image, (0, 0), 2.0),
        cv2.imdecode(jpeg, cv2.IMREAD_UNCHANGED),
        image + rng.normal(0, 14, image.shape),
        grey,
        image * np.array([1.15, 1.0, 0.8]),
    ]
    for angle in (-12, 12):
        turn = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
        out.append(cv2.warpAffine(image, turn, (w, h), borderMode=cv2.BORDER_REFLECT))
    covered = image.copy()
    for face in faces:
        (x1, y1), (x2, y2) = face.landmarks[3], face.landmarks[4]  # the mouth corners
        r = max(4.0, abs(x2 - x1))
        centre = (int((x1 + x2) / 2), int((y1 + y2) / 2 + 0.3 * r))
        axes = (int(1.1 * r), int(0.8 * r))
        cv2.ellipse(covered, centre, axes, 0, 0, 360, (210, 160, 130), -1, cv2.LINE_AA)
    out.append(covered)
    return [np.ascontiguousarray(np.clip(v, 0, 255).astype(np.uint8)) for v in out]


def _on_face(box, faces) -> bool:
    """Whether each box's centre lies in the other and their sizes are within a factor 2."""
    x, y, w, h = box
    for face in faces:
        fx, fy, fw, fh = face.box
        if (
            fx <= x + w / 2 <= fx + fw
            and fy <= y + h / 2 <= fy + fh
            and x <= fx + fw / 2 <= x + w
            and y <= fy + fh / 2 <= y + h
            and 0.5 < w / fw < 2
        ):
            return True
    return False


def _photos(folder: str | None) -> list[np.ndarray]:
    """The photos that get the altered copies of :func:`_variants`."""
    from skimage import data

    astronaut = data.astronaut()
    photos = [
        astronaut,
        np.stack([data.camera()] * 3, -1),
        np.hstack([astronaut, astronaut[:, ::-1]]),
    ]
    for path in sorted(Path(folder).iterdir()) if folder else []:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            continue
        scale = min(1.0, 1024 / max(image.shape[:2]))
        image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        photos.append(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
    return [np.ascontiguousarray(p) for p in photos]


def _lfw_faces() -> list[np.ndarray]:
    """LFW's tight 25 px crops, enlarged and padded (too small to alter further)."""
    from skimage import data

    photos = []
    for face in data.lfw_subset()[:100]:
        big = cv2.resize((face * 255).astype(np.uint8), (100, 100), interpolation=cv2.INTER_CUBIC)
        photos.append(
            np.stack([cv2.copyMakeBorder(big, 30, 30, 30, 30, cv2.BORDER_REPLICATE)] * 3, -1)
        )
    return photos


def _non_face_photos() -> list[np.ndarray]:
    from skimage import data

    out = []
    for name in NON_FACE_PHOTOS:
        image = getattr(data, name)()
        if image.dtype != np.uint8:
            image = (np.clip(image, 0, 1) * 255).astype(np.uint8)
        image = np.stack([image] * 3, -1) if image.ndim == 2 else image[..., :3]
        out += [image, image[:, ::-1], cv2.GaussianBlur(image, (0, 0), 1.5)]
    return [np.ascontiguousarray(p) for p in out]


class Tally:
    """Boxes of the cascade alone, and how many each check keeps."""

    def __init__(self) -> None:
        self.found = self.kept = self.eye_kept = 0

    def add(self, found: int, kept: int, eye_kept: int) -> None:
        self.found, self.kept, self.eye_kept = (
            self.found + found,
            self.kept + kept,
            self.eye_kept + eye_kept,
        )

    def line(self, what: str, keep_is_good: bool) -> str:
        share = (
            (lambda k: k / max(self.found, 1))
            if keep_is_good
            else (lambda k: 1 - k / max(self.found, 1))
        )
        verb = "keeps" if keep_is_good else "rejects"
        return (
            f"{what}: {self.found} boxes; the check {verb} {share(self.kept):.1%} "
            f"(the eye-only check: {share(self.eye_kept):.1%})"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--photos", default=None, help="a folder of photos with faces")
    parser.add_argument("--hands", type=int, default=300)
    parser.add_argument("--fer2013", type=int, default=0, metavar="N")
    args = parser.parse_args()
    path = yunet_model_path(download=False) or (SHARED_YUNET if SHARED_YUNET.is_file() else None)
    if path is None:
        sys.exit("needs the YuNet file (FER_YUNET_MODEL) for the ground truth")
    yunet, raw, checked = YuNetDetector(path), HaarDetector(check_faces=False), HaarDetector()

    def judge(image, faces, on_faces: Tally, off_faces: Tally) -> None:
        kept = set(d.box for d in checked.detect(image))  # same cascade: the same boxes
        plain = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)  # <= 1024 px: detection pixels
        for det in raw.detect(image):
            tally = on_faces if faces is not None and _on_face(det.box, faces) else off_faces
            tally.add(1, det.box in kept, checked.has_eye(plain, det.box))

    faces, false_boxes, hands, objects = Tally(), Tally(), Tally(), Tally()
    photos = _photos(args.photos)
    for photo in photos:
        for image in _variants(photo, yunet.detect(photo, min_face=20)):
            judge(image, yunet.detect(image, min_face=20), faces, false_boxes)
    for image in _lfw_faces():
        judge(image, yunet.detect(image, min_face=20), faces, false_boxes)
    for seed in range(args.hands):
        judge(hand(seed), None, hands, hands)
    for image in _non_face_photos():
        judge(image, None, objects, objects)
    cpu = (
        next(
            (
                line.split(":", 1)[1].strip()
                for line in open("/proc/cpuinfo")
                if "model name" in line
            ),
            platform.processor(),
        )
        if os.path.exists("/proc/cpuinfo")
        else platform.processor()
    )
    print(f"machine: {cpu}, {os.cpu_count()} cores; OpenCV {cv2.__version__}")
    print(f"{len(photos)} photos x 13 forms and 100 LFW faces; ground truth: YuNet ({path.name})")
    print(faces.line("real faces the cascade alone boxes", True))
    print(false_boxes.line("the cascade's other boxes in those photos", False))
    print(hands.line(f"synthetic hands ({args.hands})", False))
    print(objects.line("scikit-image photos without faces", False))
    every = Tally()
    for t in (false_boxes, hands, objects):
        every.add(t.found, t.kept, t.eye_kept)
    print(every.line("all non-face boxes", False))
    if args.fer2013:
        from fer.quality.dataset import fer2013_dir, load_split

        fer = Tally()
        for im in load_split(fer2013_dir(), "test").subset(args.fer2013, seed=0).images:
            big = cv2.resize(im, (192, 192), interpolation=cv2.INTER_CUBIC)
            image = np.ascontiguousarray(cv2.cvtColor(big, cv2.COLOR_GRAY2RGB))
            kept = set(d.box for d in checked.detect(image, min_face=64))
            for det in raw.detect(image, min_face=64):
                fer.add(
                    1,
                    det.box in kept,
                    checked.has_eye(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), det.box),
                )
        print(fer.line(f"FER2013 test faces enlarged to 192 px ({args.fer2013})", True))


if __name__ == "__main__":
    main()
