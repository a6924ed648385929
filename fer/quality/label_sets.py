"""Where FER2013's one label per face and FER+'s ten votes disagree: the same faces, matched
across the two copies (:func:`fer.ferplus.match_faces`), for the Models page and the README's
note on why a model trained on the votes loses accuracy against FER2013's labels."""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass

import numpy as np

from ..emotions import EMOTIONS
from .dataset import load_split
from .ferplus import EMOTION_COLUMNS, VOTE_COLUMNS, majority_labels, match_faces


@dataclass(frozen=True)
class Disagreement:
    """One face: FER2013's label, FER+'s majority and the ten votes (FER+'s column names)."""

    face: np.ndarray  # uint8 (48, 48), FER+'s lossless copy
    fer2013_label: str
    majority: str
    votes: dict[str, int]


@dataclass(frozen=True)
class LabelAgreement:
    """How often the two label sets agree on a split's faces with a strict FER+ majority."""

    matched: int  # FER+ faces found in the FER2013 copy
    scored: int  # of them, faces with a strict majority among our seven emotions
    agreement: float  # share of ``scored`` whose FER2013 label is the majority
    commonest: tuple[tuple[str, str, int], ...]  # (FER2013 label, majority, faces), commonest first
    examples: tuple[Disagreement, ...]


def compare_label_sets(
    ferplus_root: str | os.PathLike,
    fer2013_root: str | os.PathLike,
    split: str = "test",
    examples: int = 4,
) -> LabelAgreement:
    """Agreement of FER2013's labels with FER+'s majority on ``split`` (default PublicTest =
    FER+ Valid), and ``examples`` clear disagreements: one face for each of the commonest
    (label, majority) pairs, the one with the most votes for its majority."""
    plus, fer = load_split(ferplus_root, split), load_split(fer2013_root, split)
    match = match_faces(plus.images, fer.images)
    majority = majority_labels(plus.votes)
    keep = (match >= 0) & (majority >= 0)
    theirs = np.where(match >= 0, fer.labels[np.maximum(match, 0)], -1)
    differ = keep & (theirs != majority)
    pairs = Counter(zip(theirs[differ].tolist(), majority[differ].tolist())).most_common()
    strength = plus.votes[np.arange(len(majority)), EMOTION_COLUMNS[np.maximum(majority, 0)]]
    chosen = []
    for (label, voted), _ in pairs[:examples]:
        idx = np.flatnonzero(differ & (theirs == label) & (majority == voted))
        best = int(idx[np.argmax(strength[idx])])  # first of the strongest: deterministic
        chosen.append(
            Disagreement(
                face=plus.images[best],
                fer2013_label=EMOTIONS[label],
                majority=EMOTIONS[voted],
                votes={c: int(v) for c, v in zip(VOTE_COLUMNS, plus.votes[best]) if v},
            )
        )
    scored = int(keep.sum())
    return LabelAgreement(
        matched=int((match >= 0).sum()),
        scored=scored,
        agreement=float((theirs[keep] == majority[keep]).mean()) if scored else 0.0,
        commonest=tuple((EMOTIONS[a], EMOTIONS[b], n) for (a, b), n in pairs[:5]),
        examples=tuple(chosen),
    )
