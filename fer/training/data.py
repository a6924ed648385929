"""What a training run learns from and validates on. FER2013 data: its one-person labels, and
PublicTest to watch. FER+ data: the ten-vote distributions (optionally mixed with FER2013's
label of the same face), the faces fit to learn from, and a fixed held-out slice of
FER2013Train to pick the epoch and fit the temperature on, so PublicTest stays unseen."""

from __future__ import annotations

import numpy as np

from ..emotions import EMOTIONS
from ..quality.dataset import HOLDOUT_SEED, Split, fer2013_dir, ferplus_holdout, load_split
from ..quality.ferplus import match_faces
from .config import TrainConfig

NEUTRAL = EMOTIONS.index("neutral")


def training_splits(cfg: TrainConfig) -> tuple[Split, Split, str]:
    """``(train, validation, what the validation is)``, cut to ``--limit``/``--val-limit``."""
    train = load_split(cfg.data, "train")
    if train.is_ferplus:
        train, val = ferplus_holdout(cfg.data, cfg.holdout)
        what = f"FER+ Train hold-out ({cfg.holdout:.0%}, stratified, seed {HOLDOUT_SEED})"
    else:
        val, what = load_split(cfg.data, "test"), "PublicTest"
    train = train.subset(cfg.limit, cfg.seed) if cfg.limit else train
    val = val.subset(cfg.val_limit, cfg.seed) if cfg.val_limit else val
    return train, val, what


def matched_fer2013(cfg: TrainConfig, split: Split) -> tuple[np.ndarray, Split] | None:
    """For FER+ data that mixes in FER2013's label or pixels: the index of each face in
    FER2013's copy of the split (-1 where none is found) and that copy; else None."""
    if not split.is_ferplus or not cfg.reads_fer2013:
        return None
    reference = load_split(cfg.fer2013_data or str(fer2013_dir()), "train")
    return match_faces(split.images, reference.images), reference


def training_targets(
    cfg: TrainConfig, split: Split, matched: tuple[np.ndarray, Split] | None = None
) -> np.ndarray:
    """float32 (N, 7): one-hot labels, or the vote distributions with FER2013's label of each
    matched face (``matched``: :func:`matched_fer2013`) mixed in with weight
    ``--fer2013-weight``."""
    targets = split.targets
    if matched is None or (cfg.fer2013_weight <= 0 and not cfg.fer2013_neutral):
        return targets
    match, reference = matched
    found = match >= 0
    labels = reference.labels[match[found]]
    one_hot = np.eye(targets.shape[1], dtype=np.float32)[labels]
    targets = targets.copy()
    if cfg.fer2013_neutral:
        targets[found] = _neutral_as_fer2013(targets[found], labels, one_hot)
    w = np.float32(cfg.fer2013_weight)
    targets[found] = (1 - w) * targets[found] + w * one_hot
    return targets


def _neutral_as_fer2013(votes: np.ndarray, labels: np.ndarray, one_hot: np.ndarray) -> np.ndarray:
    """FER2013's neutral faces: neutral; its other faces: the votes over the six emotions
    (FER2013's label where no vote names one of them)."""
    emotions = votes.copy()
    emotions[:, NEUTRAL] = 0
    total = emotions.sum(axis=1, keepdims=True)
    emotions = np.where(total > 0, emotions / np.maximum(total, 1e-8), one_hot)
    return np.where((labels == NEUTRAL)[:, None], one_hot, emotions).astype(np.float32)


def training_faces(
    cfg: TrainConfig, split: Split, matched: tuple[np.ndarray, Split] | None = None
) -> np.ndarray:
    """uint8 faces to train on: ``(N, 48, 48)``, or with ``--fer2013-pixels``
    ``(N, 2, 48, 48)``, each face's FER+ copy and its FER2013 copy (the FER+ one again where
    none was matched), for :func:`pick_renderings` to choose from in each batch."""
    if matched is None or cfg.fer2013_pixels <= 0:
        return split.images
    match, reference = matched
    other = split.images.copy()
    other[match >= 0] = reference.images[match[match >= 0]]
    return np.stack([split.images, other], axis=1)


def pick_renderings(faces: np.ndarray, share: float, rng: np.random.Generator) -> np.ndarray:
    """``(n, 48, 48)`` from a batch of :func:`training_faces`: each face's second copy with
    probability ``share`` (a batch of single faces passes through)."""
    if faces.ndim != 4:
        return faces
    second = (rng.random(len(faces)) < share).astype(np.int64)
    return faces[np.arange(len(faces)), second]


def label_smoothing(cfg: TrainConfig, split: Split) -> float:
    """Smoothing belongs to one-hot labels; vote distributions are soft already."""
    return 0.0 if split.is_ferplus else cfg.label_smoothing


def card_split(cfg: TrainConfig) -> Split:
    """The split a card reports: PublicTest (FER+ Valid for FER+ data), cut to ``--val-limit``
    as the validation split is (for FER2013 data the two are then the same faces)."""
    split = load_split(cfg.data, "test")
    return split.subset(cfg.val_limit, cfg.seed) if cfg.val_limit else split
