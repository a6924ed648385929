"""FER2013 from the Kaggle folder layout or the original ``fer2013.csv``, and FER+ from its
FERPlus folder layout (:mod:`fer.quality.ferplus`), cached to ``.npz``.

Every source gives the same thing: images ``uint8 (N, 48, 48)`` grayscale and labels ``int64
(N,)`` in the canonical order of :mod:`fer.emotions`; FER+ adds each face's ten vote counts, from
which its soft targets and strict majority come.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..emotions import EMOTIONS, NUM_CLASSES
from ..errors import DatasetError
from ..settings import cache_dir
from ..vision.image_io import IMAGE_EXTENSIONS
from . import ferplus

DEFAULT_FER2013_DIR = "../shared/datasets/fer2013"
DEFAULT_FERPLUS_DIR = "../shared/datasets/ferplus"
IMAGE_SIZE = 48

# Split names accepted everywhere, and what they are called in each source.
SPLIT_FOLDERS = {"train": "train", "test": "test"}
SPLIT_CSV_USAGE = {"train": "Training", "test": "PublicTest", "private": "PrivateTest"}
SPLIT_ALIASES = {"valid": "test"}  # FER+'s name for PublicTest
SPLIT_CHOICES = (*SPLIT_CSV_USAGE, *SPLIT_ALIASES)
"""The split names every command accepts."""
DATA_HELP = (
    "FER2013 (Kaggle folder layout or fer2013.csv) or FER+ (a folder with FER2013Train/ and "
    "FER2013Valid/; scored against the majority of ten votes) "
    "(default: $FER2013_DIR or ../shared/datasets/fer2013)"
)


@dataclass(frozen=True)
class Split:
    images: np.ndarray  # uint8 (N, 48, 48)
    labels: np.ndarray  # int64 (N,): FER2013's label, or FER+'s most-voted emotion
    votes: np.ndarray | None = None  # int64 (N, 10): FER+ vote counts (fer.quality.ferplus order)

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def is_ferplus(self) -> bool:
        return self.votes is not None

    @property
    def targets(self) -> np.ndarray:
        """float32 (N, 7) training targets: FER+'s vote distribution, else one-hot labels."""
        if self.votes is not None:
            return ferplus.soft_targets(self.votes)
        return np.eye(NUM_CLASSES, dtype=np.float32)[self.labels]

    def take(self, idx: np.ndarray) -> Split:
        """The items at ``idx`` (indices or a boolean mask)."""
        votes = None if self.votes is None else self.votes[idx]
        return Split(self.images[idx], self.labels[idx], votes)

    def subset(self, n: int, seed: int = 0) -> Split:
        """A fixed, class-stratified-by-chance sample of ``n`` items (all if ``n >= len``)."""
        if n >= len(self):
            return self
        return self.take(np.sort(np.random.default_rng(seed).choice(len(self), n, replace=False)))

    def trainable(self) -> Split:
        """The faces fit to learn from (FER+: not mostly unknown or not-a-face votes)."""
        return self if self.votes is None else self.take(ferplus.trainable(self.votes))

    def scored_mask(self) -> np.ndarray:
        """Which faces accuracy is measured on: all with FER2013's labels; FER+'s faces with a
        strict majority of the ten votes."""
        if self.votes is None:
            return np.ones(len(self), dtype=bool)
        return ferplus.majority_labels(self.votes) >= 0

    def scored(self) -> Split:
        """The scored faces, labelled by what they are measured against (FER+: the majority)."""
        if self.votes is None:
            return self
        keep = self.scored_mask()
        return Split(self.images[keep], ferplus.majority_labels(self.votes)[keep], self.votes[keep])

    def holdout(self, share: float, seed: int = 0) -> tuple[Split, Split]:
        """``(rest, held_out)``: a fixed ``share`` of each label's items held out."""
        rng = np.random.default_rng(seed)
        held = np.zeros(len(self), dtype=bool)
        for label in np.unique(self.labels):
            idx = np.flatnonzero(self.labels == label)
            held[rng.choice(idx, size=int(round(share * len(idx))), replace=False)] = True
        return self.take(~held), self.take(held)


HOLDOUT_SEED = 0
"""FER+ runs hold out the same slice of FER2013Train every time (training and calibration)."""


def ferplus_holdout(data: str | os.PathLike, share: float = 0.1) -> tuple[Split, Split]:
    """``(train, held_out)``: FER+ Train's trainable faces with a fixed ``share`` of each
    label held out, to pick a run's epoch and fit its temperature on."""
    return load_split(data, "train").trainable().holdout(share, HOLDOUT_SEED)


def split_name(split: Split, name: str) -> str:
    """How figures name a split: ``PublicTest``, or ``FER+ Valid`` (and so on) for FER+."""
    name = SPLIT_ALIASES.get(name, name)
    if split.is_ferplus:
        return {"train": "FER+ Train", "test": "FER+ Valid", "private": "FER+ Test"}[name]
    return SPLIT_CSV_USAGE[name]


def fer2013_dir() -> Path:
    """The dataset location: ``$FER2013_DIR`` or the shared default."""
    return Path(os.environ.get("FER2013_DIR", DEFAULT_FER2013_DIR))


def ferplus_dir() -> Path:
    """FER+'s location: ``$FERPLUS_DIR`` or the shared default."""
    return Path(os.environ.get("FERPLUS_DIR", DEFAULT_FERPLUS_DIR))


def load_split(source: str | os.PathLike, split: str = "train", use_cache: bool = True) -> Split:
    """Load one split from a Kaggle-layout root folder or a ``fer2013.csv`` file."""
    path = Path(source)
    split = SPLIT_ALIASES.get(split, split)
    if split not in SPLIT_CSV_USAGE:
        raise DatasetError(f"unknown split {split!r}; use one of {', '.join(SPLIT_CHOICES)}")
    if not path.exists():
        raise DatasetError(
            f"FER2013 not found at {path}: give a folder with train/ and test/ "
            "(Kaggle layout), the original fer2013.csv, or a FER+ folder with FER2013Train/ "
            "and FER2013Valid/"
        )
    cache = _cache_file(path, split) if use_cache else None
    if cache is not None and cache.exists():
        with np.load(cache) as data:
            votes = data["votes"] if "votes" in data.files else None
            return Split(data["images"], data["labels"], votes)
    if ferplus.is_ferplus(path):
        images, votes = ferplus.read_split(path, split)
        result = Split(images, ferplus.hard_labels(votes), votes)
    elif path.is_dir():
        result = _load_folder_split(path, split)
    elif path.suffix.lower() == ".csv":
        result = _load_csv_split(path, split)
    else:
        raise DatasetError(f"{path} is neither a FER2013 folder nor a .csv file")
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(".tmp.npz")
        extra = {} if result.votes is None else {"votes": result.votes}
        np.savez(tmp, images=result.images, labels=result.labels, **extra)
        os.replace(tmp, cache)
    return result


def _cache_file(path: Path, split: str) -> Path:
    """A cache name that changes when the source changes (path, size and mtime)."""
    stat = path.stat()
    kind = "ferplus" if ferplus.is_ferplus(path) else "fer2013"
    if kind == "ferplus":
        labels = path / ferplus.SPLIT_FOLDERS[split] / "label.csv"
        stamp = f"{labels.stat().st_size}-{labels.stat().st_mtime_ns}" if labels.exists() else ""
    elif path.is_dir():
        sub = path / SPLIT_FOLDERS.get(split, split)
        stamp = f"{sub.stat().st_mtime_ns if sub.exists() else 0}"
        stamp += (
            "".join(f"{d.name}{d.stat().st_mtime_ns}" for d in sorted(sub.iterdir()) if d.is_dir())
            if sub.exists()
            else ""
        )
    else:
        stamp = f"{stat.st_size}-{stat.st_mtime_ns}"
    key = hashlib.sha256(f"{path.resolve()}|{split}|{stamp}".encode()).hexdigest()[:16]
    return cache_dir() / "datasets" / f"{kind}-{split}-{key}.npz"


def _load_folder_split(root: Path, split: str) -> Split:
    import cv2

    folder_name = SPLIT_FOLDERS.get(split)
    if folder_name is None:
        raise DatasetError(
            f"the {split!r} split exists only in fer2013.csv; the folder layout has "
            f"{', '.join(SPLIT_FOLDERS)}"
        )
    split_dir = root / folder_name
    if not split_dir.is_dir():
        raise DatasetError(
            f"{root} has no {folder_name}/ folder: expected {root}/{folder_name}/<emotion>/*.jpg "
            f"with emotion folders {', '.join(EMOTIONS)}"
        )
    present = {d.name.lower() for d in split_dir.iterdir() if d.is_dir()}
    missing = [e for e in EMOTIONS if e not in present]
    if missing:
        raise DatasetError(
            f"{split_dir} lacks the emotion folders {', '.join(missing)}: expected one folder "
            f"per emotion ({', '.join(EMOTIONS)})"
        )
    images, labels = [], []
    for label, emotion in enumerate(EMOTIONS):
        emotion_dir = next(
            d for d in split_dir.iterdir() if d.is_dir() and d.name.lower() == emotion
        )
        for file in sorted(emotion_dir.iterdir()):
            if file.suffix.lower() not in IMAGE_EXTENSIONS:
                continue
            img = cv2.imdecode(np.fromfile(file, dtype=np.uint8), cv2.IMREAD_GRAYSCALE)
            if img is None:
                raise DatasetError(f"{file} is not a readable image")
            if img.shape != (IMAGE_SIZE, IMAGE_SIZE):
                img = cv2.resize(img, (IMAGE_SIZE, IMAGE_SIZE), interpolation=cv2.INTER_AREA)
            images.append(img)
            labels.append(label)
    if not images:
        raise DatasetError(f"{split_dir} holds no images")
    return Split(np.stack(images).astype(np.uint8), np.asarray(labels, dtype=np.int64))


def _load_csv_split(csv_path: Path, split: str) -> Split:
    import csv

    usage = SPLIT_CSV_USAGE[split]
    images, labels = [], []
    with open(csv_path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        needed = {"emotion", "pixels", "Usage"}
        if reader.fieldnames is None or not needed.issubset(reader.fieldnames):
            raise DatasetError(
                f"{csv_path} must have the columns emotion,pixels,Usage "
                f"(found {', '.join(reader.fieldnames or []) or 'none'})"
            )
        for line_no, row in enumerate(reader, start=2):
            if row["Usage"] != usage:
                continue
            try:
                pixels = np.asarray(row["pixels"].split(), dtype=np.uint8)
                label = int(row["emotion"])
            except ValueError as exc:
                raise DatasetError(f"{csv_path}:{line_no}: bad row ({exc})") from None
            if pixels.size != IMAGE_SIZE * IMAGE_SIZE or not 0 <= label < len(EMOTIONS):
                raise DatasetError(
                    f"{csv_path}:{line_no}: expected {IMAGE_SIZE * IMAGE_SIZE} pixels and a "
                    f"label 0-{len(EMOTIONS) - 1}"
                )
            images.append(pixels.reshape(IMAGE_SIZE, IMAGE_SIZE))
            labels.append(label)
    if not images:
        raise DatasetError(f"{csv_path} has no rows with Usage={usage}")
    return Split(np.stack(images), np.asarray(labels, dtype=np.int64))
