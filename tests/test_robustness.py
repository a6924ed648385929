"""The robustness suite: what each shift does to a face, the accuracy bookkeeping, the command
and the card entry."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from fer.quality.robustness import (
    SHIFTS,
    crop_scale,
    evaluate_robustness,
    gamma,
    low_contrast,
    robustness_rows,
    rotate,
    shift_x,
)
from tests.shared_data import ROOT

ISSUE_SHIFTS = {
    "rotate -30",
    "rotate -20",
    "rotate -10",
    "rotate +10",
    "rotate +20",
    "rotate +30",
    "crop 0.85",
    "crop 1.15",
    "shift 10%",
    "gamma 0.5",
    "gamma 2.0",
    "low contrast",
    "blur 1.5",
    "jpeg 20",
    "downscale 24",
}


def _dot(x: int, y: int) -> np.ndarray:
    img = np.zeros((1, 48, 48), np.uint8)
    img[0, y - 1 : y + 2, x - 1 : x + 2] = 255
    return img


def _centre_of_mass(img: np.ndarray) -> tuple[float, float]:
    ys, xs = np.mgrid[0:48, 0:48]
    w = img[0].astype(float)
    return float((xs * w).sum() / w.sum()), float((ys * w).sum() / w.sum())


def _faces(n=6) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (n, 48, 48)).astype(np.uint8)


def test_the_suite_has_the_issue_s_shifts_and_each_keeps_shape_and_type():
    assert set(SHIFTS) == ISSUE_SHIFTS
    faces = _faces()
    for name, fn in SHIFTS.items():
        out = fn(faces)
        assert out.shape == faces.shape and out.dtype == np.uint8, name
        assert not np.array_equal(out, faces), name
        assert np.array_equal(fn(faces), out), name  # deterministic
        assert fn(faces[:0]).shape == (0, 48, 48)


def test_geometry_moves_pixels_the_stated_way():
    x, y = _centre_of_mass(rotate(90)(_dot(40, 23)))  # right of centre -> above it
    assert abs(x - 23.5) < 1 and y < 10
    x, _ = _centre_of_mass(shift_x(0.10)(_dot(20, 24)))
    assert x == pytest.approx(20 + 4.8, abs=0.3)
    square = np.zeros((1, 48, 48), np.uint8)
    square[0, 14:34, 14:34] = 255
    side = {s: (crop_scale(s)(square)[0, 24] > 127).sum() for s in (0.85, 1.15)}
    assert side[0.85] == pytest.approx(20 / 0.85, abs=1.5)
    assert side[1.15] == pytest.approx(20 / 1.15, abs=1.5)


def test_photometric_shifts():
    faces = _faces()
    assert gamma(0.5)(faces).mean() > faces.mean() > gamma(2.0)(faces).mean()
    assert gamma(2.0)(np.array([[[0, 255]]], np.uint8)).tolist() == [[[0, 255]]]
    low = low_contrast(0.35)(faces).astype(float)
    ratio = low.std(axis=(1, 2)) / faces.std(axis=(1, 2))
    assert np.allclose(ratio, 0.35, atol=0.01)
    assert np.allclose(low.mean(axis=(1, 2)), faces.mean(axis=(1, 2)), atol=0.6)
    checker = np.indices((48, 48)).sum(0) % 2 * 255
    flat = SHIFTS["downscale 24"](checker[None].astype(np.uint8))
    assert flat.std() < 5 and abs(flat.mean() - 127.5) < 2  # 1-px detail is gone
    assert SHIFTS["blur 1.5"](checker[None].astype(np.uint8)).std() < 10


class _ByBrightness:
    """Predicts class 1 for faces brighter than mid-grey, else 0."""

    input_size = 48

    def predict_batched(self, x, tta="off", batch_size=256):
        bright = x.mean(axis=(1, 2, 3)) > 0.5
        return np.eye(7, dtype=np.float32)[bright.astype(int)]


def test_accuracies_and_drops():
    images = np.concatenate([np.full((3, 48, 48), 40), np.full((1, 48, 48), 220)]).astype(np.uint8)
    labels = np.array([0, 0, 0, 1])
    result = evaluate_robustness(
        _ByBrightness(),
        images,
        labels,
        shifts={
            "same": lambda x: x,
            "invert": lambda x: 255 - x,
            "brighten": lambda x: np.full_like(x, 200),
        },
    )
    assert result["clean"] == 1.0
    assert result["shifts"] == {"same": 1.0, "invert": 0.0, "brighten": 0.25}
    assert result["mean_drop"] == pytest.approx((0 + 1 + 0.75) / 3, abs=1e-4)
    assert (result["worst_drop"], result["worst_shift"]) == (1.0, "invert")
    rows = robustness_rows(result)
    assert rows[0] == {"shift": "clean", "accuracy": 1.0, "drop": 0.0} and len(rows) == 4


def test_robustness_command_on_fer2013(tmp_path, monkeypatch, capsys):
    """The shipped shallow model on a sample of PublicTest: the plain accuracy matches
    ``evaluate``, rotating 30 degrees costs more than 10, and --write-card merges one key."""
    from fer.cli import main
    from tests.shared_data import fer2013_root

    data = str(fer2013_root())
    for suffix in (".tflite", ".json"):
        shutil.copy(ROOT / "models" / f"shallow{suffix}", tmp_path / f"shallow{suffix}")
    monkeypatch.setenv("FER_MODELS_DIR", str(tmp_path))
    assert (
        main(["robustness", "--model", "shallow", "--data", data, "--limit", "600", "--json"]) == 0
    )
    result = json.loads(capsys.readouterr().out)
    assert main(["evaluate", "--model", "shallow", "--data", data, "--limit", "600", "--json"]) == 0
    assert result["clean"] == pytest.approx(json.loads(capsys.readouterr().out)["accuracy"])
    assert set(result["shifts"]) == ISSUE_SHIFTS and result["n"] == 600
    shifts = result["shifts"]
    for sign in "+-":
        assert shifts[f"rotate {sign}30"] < shifts[f"rotate {sign}10"]
    assert result["worst_drop"] == pytest.approx(
        max(result["clean"] - a for a in shifts.values()), abs=1e-3
    )
    assert (
        main(["robustness", "--model", "shallow", "--data", data, "--limit", "600", "--write-card"])
        == 2
    )  # a card holds whole-split figures only
    card = json.loads((tmp_path / "shallow.json").read_text())
    card.pop("robustness", None)
    (tmp_path / "shallow.json").write_text(json.dumps(card))
    assert main(["robustness", "--model", "shallow", "--data", data, "--write-card"]) == 0
    written = json.loads((tmp_path / "shallow.json").read_text())
    entry = written.pop("robustness")["off"]
    assert written == card and entry["n"] == 3589
    assert entry["command"].startswith("python -m fer robustness --model shallow")
