"""What a training run learns from and validates on. FER2013 data: its one-person labels, and
PublicTest to watch. FER+ data: the ten-vote distributions (optionally mixed with FER2013's
label of the same face), the faces fit to learn from, and a fixed held-out slice of
FER2013Train to pick the epoch and fit the temperature on, so PublicTest stays unseen."""

from __future__ import annotations

import numpy as np

from ..quality.dataset import HOLDOUT_SEED, Split, fer2013_dir, ferplus_holdout, load_split
from ..quality.ferplus import match_faces
from .config import TrainConfig


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


def training_targets(cfg: TrainConfig, split: Split) -> np.ndarray:
    """float32 (N, 7): one-hot labels, or the vote distributions with FER2013's label of each
    matched face mixed in with weight ``--fer2013-weight``."""
    targets = split.targets
    if not split.is_ferplus or cfg.fer2013_weight <= 0:
        return targets
    reference = load_split(cfg.fer2013_data or str(fer2013_dir()), "train")
    match = match_faces(split.images, reference.images)
    found = match >= 0
    one_hot = np.eye(targets.shape[1], dtype=np.float32)[reference.labels[match[found]]]
    w = np.float32(cfg.fer2013_weight)
    targets = targets.copy()
    targets[found] = (1 - w) * targets[found] + w * one_hot
    return targets


def label_smoothing(cfg: TrainConfig, split: Split) -> float:
    """Smoothing belongs to one-hot labels; vote distributions are soft already."""
    return 0.0 if split.is_ferplus else cfg.label_smoothing


def card_split(cfg: TrainConfig) -> Split:
    """The split a card reports: PublicTest (FER+ Valid for FER+ data), cut to ``--val-limit``
    as the validation split is (for FER2013 data the two are then the same faces)."""
    split = load_split(cfg.data, "test")
    return split.subset(cfg.val_limit, cfg.seed) if cfg.val_limit else split
