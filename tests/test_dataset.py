"""FER2013 loading from both layouts, the cache, and the messages for wrong layouts."""

import numpy as np
import pytest
from PIL import Image

from fer.emotions import EMOTIONS
from fer.errors import DatasetError
from fer.quality.dataset import load_split
from tests.shared_data import fer2013_root


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("FER_CACHE_DIR", str(tmp_path / "cache"))


def _make_folder_root(root, per_class=2, size=48):
    rng = np.random.default_rng(1)
    pixels = {}
    for split in ("train", "test"):
        for label, emotion in enumerate(EMOTIONS):
            folder = root / split / emotion
            folder.mkdir(parents=True)
            for i in range(per_class):
                img = rng.integers(0, 256, (size, size), dtype=np.uint8)
                Image.fromarray(img).save(folder / f"{split}_{i}.png")
                pixels[(split, label, i)] = img
    return pixels


def test_folder_layout(tmp_path):
    pixels = _make_folder_root(tmp_path / "fer")
    split = load_split(tmp_path / "fer", "train")
    assert split.images.shape == (14, 48, 48) and split.images.dtype == np.uint8
    assert list(np.bincount(split.labels)) == [2] * 7
    assert np.array_equal(split.images[0], pixels[("train", 0, 0)])
    again = load_split(tmp_path / "fer", "train")  # from the .npz cache
    assert np.array_equal(again.images, split.images)
    assert list((tmp_path / "cache" / "datasets").glob("*.npz"))


def test_csv_layout_matches_folder_semantics(tmp_path):
    rng = np.random.default_rng(2)
    rows = ["emotion,pixels,Usage"]
    expected = {}
    for i, usage in enumerate(["Training", "PublicTest", "PrivateTest", "Training"]):
        img = rng.integers(0, 256, 48 * 48)
        rows.append(f"{i % 7},{' '.join(map(str, img))},{usage}")
        expected.setdefault(usage, []).append((i % 7, img))
    csv = tmp_path / "fer2013.csv"
    csv.write_text("\n".join(rows) + "\n")
    train = load_split(csv, "train")
    assert len(train) == 2 and list(train.labels) == [0, 3]
    assert np.array_equal(train.images[1].ravel(), expected["Training"][1][1])
    assert len(load_split(csv, "test")) == 1 and len(load_split(csv, "private")) == 1


def test_wrong_layouts_say_what_was_expected(tmp_path):
    with pytest.raises(DatasetError, match="train/ and test/"):
        load_split(tmp_path / "missing", "train")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="no train/ folder"):
        load_split(tmp_path / "empty", "train")
    (tmp_path / "partial" / "train" / "happy").mkdir(parents=True)
    with pytest.raises(DatasetError, match="lacks the emotion folders angry, disgust"):
        load_split(tmp_path / "partial", "train")
    bad_csv = tmp_path / "bad.csv"
    bad_csv.write_text("label,data\n1,2\n")
    with pytest.raises(DatasetError, match="emotion,pixels,Usage"):
        load_split(bad_csv, "train")
    short = tmp_path / "short.csv"
    short.write_text("emotion,pixels,Usage\n3,1 2 3,Training\n")
    with pytest.raises(DatasetError, match="2304 pixels"):
        load_split(short, "train")
    with pytest.raises(DatasetError, match="only in fer2013.csv"):
        load_split(tmp_path / "partial", "private")


def test_real_fer2013_counts():
    root = fer2013_root()
    test = load_split(root, "test")
    assert len(test) == 3589
    assert list(np.bincount(test.labels)) == [467, 56, 496, 895, 653, 415, 607]
