"""Haar's non-face check (a hand was once boxed as a face): OpenCV's face cascade alone boxes
a synthetic hand; with the check (the default: a vote of the alt2 cascade, then the cascade's
weight or an eye for the doubtful boxes) the box is rejected, while real faces are still found,
also where the eye cascade alone would drop them."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from fer.vision.detection import HaarDetector
from tests.synthetic_hand import hand

EYES = ((200, 102), (247, 103))  # the astronaut's eyes in the 512 px photo (YuNet's landmarks)


def _sunglasses(photo: np.ndarray) -> np.ndarray:
    """The astronaut with dark glasses painted over her eyes."""
    image = photo.copy()
    for centre in EYES:
        cv2.ellipse(image, centre, (16, 10), 0, 0, 360, (20, 20, 20), -1, cv2.LINE_AA)
    cv2.line(image, EYES[0], EYES[1], (20, 20, 20), 3)
    return image


def _mouth_covered(photo: np.ndarray) -> np.ndarray:
    """The astronaut with a skin-coloured blob (a hand) over her mouth."""
    image = photo.copy()
    cv2.ellipse(image, (224, 150), (26, 19), 0, 0, 360, (210, 160, 130), -1, cv2.LINE_AA)
    return image


def test_a_hand_that_haar_alone_boxes_is_rejected():
    image = hand(54)
    assert HaarDetector(check_faces=False).detect(image), "the cascade alone no longer boxes it"
    assert HaarDetector().detect(image) == []


def test_most_hands_haar_boxes_are_rejected():
    raw, checked = HaarDetector(check_faces=False), HaarDetector()
    boxed = [s for s in range(60) if raw.detect(hand(s))]
    assert len(boxed) >= 5, boxed  # the cascade is fooled by some: the check has work to do
    kept = [s for s in boxed if checked.detect(hand(s))]
    assert len(kept) <= len(boxed) // 5, (boxed, kept)


def test_real_faces_are_still_found(astronaut, two_faces):
    detector = HaarDetector()
    (face,) = detector.detect(astronaut)
    x, y, w, h = face.box
    assert 150 < x + w / 2 < 300 and 60 < y + h / 2 < 200  # her face, not the flag or the patch
    assert len(detector.detect(two_faces)) == 2
    small = cv2.resize(astronaut, (256, 256), interpolation=cv2.INTER_AREA)  # a ~46 px face
    assert len(detector.detect(small, min_face=40)) == 1


def test_a_face_in_sunglasses_is_kept_though_no_eye_shows(astronaut):
    image = _sunglasses(astronaut)
    (found,) = HaarDetector(check_faces=False).detect(image)
    detector = HaarDetector()
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    assert not detector.has_eye(gray, found.box)  # the eye-only check dropped this face
    assert [d.box for d in detector.detect(image)] == [found.box]


@pytest.mark.parametrize("cover", [_sunglasses, _mouth_covered])
def test_two_covered_faces_are_both_kept(astronaut, cover):
    image = np.ascontiguousarray(np.hstack([cover(astronaut), cover(astronaut)[:, ::-1]]))
    raw = HaarDetector(check_faces=False).detect(image)
    assert len(raw) == 2
    assert HaarDetector().detect(image) == raw


def test_the_vote_separates_faces_from_hands(astronaut):
    detector = HaarDetector()
    gray = cv2.equalizeHist(cv2.cvtColor(astronaut, cv2.COLOR_RGB2GRAY))
    (face,) = HaarDetector(check_faces=False).detect(astronaut)
    assert detector.votes(gray, face.box) >= 2 * 10
    image = hand(54)
    (boxed,) = HaarDetector(check_faces=False).detect(image)
    gray = cv2.equalizeHist(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY))
    assert detector.votes(gray, boxed.box) < 10


def test_the_check_keeps_most_fer2013_faces():
    """Upscaled FER2013 test faces (48 px blown up to 192: blurry eyes, the hard case): the
    check keeps at least 94 % of what the cascade finds (96.6 % measured on this sample; the
    eye-only check it replaced kept 87 %)."""
    from fer.quality.dataset import load_split
    from tests.shared_data import fer2013_root

    split = load_split(fer2013_root(), "test").subset(400, seed=0)
    raw, checked = HaarDetector(check_faces=False), HaarDetector()
    found = kept = 0
    for img in split.images:
        big = cv2.cvtColor(
            cv2.resize(img, (192, 192), interpolation=cv2.INTER_CUBIC), cv2.COLOR_GRAY2RGB
        )
        found += len(raw.detect(big, min_face=64))
        kept += len(checked.detect(big, min_face=64))
    assert found >= 150
    assert kept / found >= 0.94, (kept, found)
