"""FER2013 from the Kaggle folder layout or the original ``fer2013.csv``, cached to ``.npz``.

Both sources give the same thing: ``(images, labels)`` with images ``uint8 (N, 48, 48)``
grayscale and labels ``int64 (N,)`` in the canonical order of :mod:`fer.emotions`.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .emotions import EMOTIONS
from .errors import DatasetError
from .image_io import IMAGE_EXTENSIONS
from .settings import cache_dir

DEFAULT_FER2013_DIR = "../shared/datasets/fer2013"
IMAGE_SIZE = 48

# Split names accepted everywhere, and what they are called in each source.
SPLIT_FOLDERS = {"train": "train", "test": "test"}
SPLIT_CSV_USAGE = {"train": "Training", "test": "PublicTest", "private": "PrivateTest"}


@dataclass(frozen=True)
class Split:
    images: np.ndarray  # uint8 (N, 48, 48)
    labels: np.ndarray  # int64 (N,)

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, n: int, seed: int = 0) -> Split:
        """A fixed, class-stratified-by-chance sample of ``n`` items (all if ``n >= len``)."""
        if n >= len(self):
            return self
        idx = np.sort(np.random.default_rng(seed).choice(len(self), size=n, replace=False))
        return Split(self.images[idx], self.labels[idx])


def fer2013_dir() -> Path:
    """The dataset location: ``$FER2013_DIR`` or the shared default."""
    return Path(os.environ.get("FER2013_DIR", DEFAULT_FER2013_DIR))


def load_split(source: str | os.PathLike, split: str = "train", use_cache: bool = True) -> Split:
    """Load one split from a Kaggle-layout root folder or a ``fer2013.csv`` file."""
    path = Path(source)
    if split not in SPLIT_CSV_USAGE:
        raise DatasetError(f"unknown split {split!r}; use one of {', '.join(SPLIT_CSV_USAGE)}")
    if not path.exists():
        raise DatasetError(
            f"FER2013 not found at {path}: give a folder with train/ and test/ "
            "(Kaggle layout) or the original fer2013.csv"
        )
    cache = _cache_file(path, split) if use_cache else None
    if cache is not None and cache.exists():
        with np.load(cache) as data:
            return Split(data["images"], data["labels"])
    if path.is_dir():
        result = _load_folder_split(path, split)
    elif path.suffix.lower() == ".csv":
        result = _load_csv_split(path, split)
    else:
        raise DatasetError(f"{path} is neither a FER2013 folder nor a .csv file")
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(".tmp.npz")
        np.savez(tmp, images=result.images, labels=result.labels)
        os.replace(tmp, cache)
    return result


def _cache_file(path: Path, split: str) -> Path:
    """A cache name that changes when the source changes (path, size and mtime)."""
    stat = path.stat()
    if path.is_dir():
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
    return cache_dir() / "datasets" / f"fer2013-{split}-{key}.npz"


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
