"""FER+ (Barsoum et al., 2016): the FER2013 faces relabelled by ten annotators each, in the
layout microsoft/FERPlus's ``generate_training_data.py`` writes: ``FER2013Train/``,
``FER2013Valid/`` (FER2013's PublicTest) and ``FER2013Test/`` (PrivateTest), each holding the
48x48 PNGs and a header-less ``label.csv`` of ``file, face box, 10 vote counts``.

The votes are kept as they are (``(N, 10)`` counts, :data:`VOTE_COLUMNS` order); what training
and evaluation need is derived from them here: the soft targets over our seven emotions, the
strict majority label, and which faces are fit to learn from.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from ..emotions import EMOTIONS
from ..errors import DatasetError

VOTE_COLUMNS: tuple[str, ...] = (
    "neutral",
    "happiness",
    "surprise",
    "sadness",
    "anger",
    "disgust",
    "fear",
    "contempt",
    "unknown",
    "NF",
)
"""The order of the ten vote counts in every ``label.csv``."""

_OUR_NAME = {
    "neutral": "neutral",
    "happiness": "happy",
    "surprise": "surprise",
    "sadness": "sad",
    "anger": "angry",
    "disgust": "disgust",
    "fear": "fear",
}
_THEIR_NAME = {ours: theirs for theirs, ours in _OUR_NAME.items()}
EMOTION_COLUMNS = np.array([VOTE_COLUMNS.index(_THEIR_NAME[e]) for e in EMOTIONS])
"""For each of our emotions (canonical order), its column among the ten votes."""
NOT_A_FACE_COLUMNS = np.array([VOTE_COLUMNS.index("unknown"), VOTE_COLUMNS.index("NF")])

SPLIT_FOLDERS = {"train": "FER2013Train", "test": "FER2013Valid", "private": "FER2013Test"}
"""Our split names and FER+'s folders (``valid`` is accepted for ``test`` everywhere)."""


def is_ferplus(path: str | Path) -> bool:
    """Whether ``path`` is a FER+ root: a folder with one of the split folders and its labels."""
    root = Path(path)
    return root.is_dir() and any((root / f / "label.csv").is_file() for f in SPLIT_FOLDERS.values())


def read_split(root: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """``(images uint8 (N, 48, 48), votes int64 (N, 10))`` of one split, in ``label.csv`` order."""
    import cv2

    folder = root / SPLIT_FOLDERS[split]
    labels = folder / "label.csv"
    if not labels.is_file():
        raise DatasetError(
            f"{root} is a FER+ folder without {SPLIT_FOLDERS[split]}/label.csv: the {split!r} "
            f"split needs {folder}/label.csv and its images"
        )
    images, votes = [], []
    with open(labels, newline="", encoding="utf-8") as fh:
        for line_no, row in enumerate(csv.reader(fh), start=1):
            if not row:
                continue
            if len(row) != 2 + len(VOTE_COLUMNS):
                raise DatasetError(
                    f"{labels}:{line_no}: expected a file name, a face box and "
                    f"{len(VOTE_COLUMNS)} vote counts ({', '.join(VOTE_COLUMNS)})"
                )
            try:
                counts = [int(v) for v in row[2:]]
            except ValueError:
                raise DatasetError(f"{labels}:{line_no}: vote counts must be integers") from None
            file = folder / row[0]
            img = cv2.imread(str(file), cv2.IMREAD_GRAYSCALE) if file.is_file() else None
            if img is None:
                raise DatasetError(f"{labels}:{line_no}: {file} is missing or not an image")
            if img.shape != (48, 48):
                img = cv2.resize(img, (48, 48), interpolation=cv2.INTER_AREA)
            images.append(img)
            votes.append(counts)
    if not images:
        raise DatasetError(f"{labels} lists no faces")
    return np.stack(images).astype(np.uint8), np.asarray(votes, dtype=np.int64)


def soft_targets(votes: np.ndarray) -> np.ndarray:
    """The vote distribution over our seven emotions: contempt, unknown and NF votes dropped,
    the rest renormalised (a row with no emotion votes is all zeros)."""
    counts = votes[:, EMOTION_COLUMNS].astype(np.float32)
    total = counts.sum(axis=1, keepdims=True)
    return np.divide(counts, total, out=np.zeros_like(counts), where=total > 0)


def majority_labels(votes: np.ndarray) -> np.ndarray:
    """Each face's majority emotion (canonical index), or -1 where the largest of the ten counts
    is shared or belongs to contempt, unknown or NF: the faces FER+ accuracy is scored on."""
    top = votes.max(axis=1, keepdims=True)
    unique = (votes == top).sum(axis=1) == 1
    column = votes.argmax(axis=1)
    ours = np.full(len(VOTE_COLUMNS), -1)
    ours[EMOTION_COLUMNS] = np.arange(len(EMOTIONS))
    return np.where(unique & (top[:, 0] > 0), ours[column], -1)


def trainable(votes: np.ndarray) -> np.ndarray:
    """Faces to learn from: most votes are not unknown or NF, and one at least is an emotion."""
    not_face = votes[:, NOT_A_FACE_COLUMNS].sum(axis=1)
    return (2 * not_face < votes.sum(axis=1)) & (votes[:, EMOTION_COLUMNS].sum(axis=1) > 0)


def hard_labels(votes: np.ndarray) -> np.ndarray:
    """The most-voted of our emotions (first in canonical order on a tie): a face's one label
    where a single one is needed, such as stratified sampling."""
    return soft_targets(votes).argmax(axis=1).astype(np.int64)


def majority_report(probabilities: np.ndarray, votes: np.ndarray) -> dict:
    """FER+ scores of predictions: ``majority_accuracy`` over the faces with a strict emotion
    majority (:func:`majority_labels`), and ``voted_share``, the share of faces with an emotion
    vote whose predicted emotion got at least one."""
    predicted = np.asarray(probabilities).argmax(axis=1)
    majority = majority_labels(votes)
    scored = majority >= 0
    emotion_votes = votes[:, EMOTION_COLUMNS]
    voted = emotion_votes.sum(axis=1) > 0
    got_vote = emotion_votes[np.arange(len(predicted)), predicted] > 0
    return {
        "majority_accuracy": round(float((predicted[scored] == majority[scored]).mean()), 4)
        if scored.any()
        else 0.0,
        "majority_n": int(scored.sum()),
        "voted_share": round(float(got_vote[voted].mean()), 4) if voted.any() else 0.0,
        "n": int(len(predicted)),
    }


def match_faces(faces: np.ndarray, reference: np.ndarray, chunk: int = 4096) -> np.ndarray:
    """For each face, the index of the same face in ``reference`` (another copy of FER2013,
    such as its JPEG folder layout, whose file names do not give FER+'s row order), or -1
    where none is close. Faces are compared as histogram-equalised, mean-removed 16x16
    thumbnails: the two copies differ by JPEG noise and by their intensity curves (FER+'s PNGs
    are not FER2013's pixel values), and the search is one matrix product per chunk."""
    a, b = _thumbnails(faces), _thumbnails(reference)
    match = np.full(len(a), -1, dtype=np.int64)
    for start in range(0, len(a), chunk):
        block = a[start : start + chunk]
        similarity = block @ b.T  # cosine similarity: the thumbnails are unit vectors
        best = similarity.argmax(axis=1)
        close = similarity[np.arange(len(block)), best] > 0.95
        match[start : start + chunk] = np.where(close, best, -1)
    return match


def _thumbnails(images: np.ndarray) -> np.ndarray:
    import cv2

    images = np.stack([cv2.equalizeHist(im) for im in images])
    small = images.reshape(len(images), 16, 3, 16, 3).mean(axis=(2, 4), dtype=np.float32)
    flat = small.reshape(len(images), -1)
    flat -= flat.mean(axis=1, keepdims=True)
    norm = np.linalg.norm(flat, axis=1, keepdims=True)
    return flat / np.maximum(norm, 1e-6)
