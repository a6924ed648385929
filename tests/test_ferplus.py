"""FER+ as a dataset: the FERPlus folder layout, its ten votes, soft targets, the strict
majority, the faces left out of training, and matching its faces to FER2013's copy."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from fer.cli import main
from fer.errors import DatasetError
from fer.quality import ferplus
from fer.quality.dataset import ferplus_holdout, load_split

# ten vote counts: neutral, happiness, surprise, sadness, anger, disgust, fear, contempt,
# unknown, NF
ROWS = {
    "happy": [0, 8, 1, 0, 0, 0, 0, 0, 1, 0],  # clear majority: happy
    "tie": [4, 0, 0, 4, 1, 0, 0, 0, 1, 0],  # neutral and sadness tie: no majority
    "not_a_face": [1, 0, 0, 0, 0, 0, 0, 0, 1, 8],  # mostly NF: not trained on
    "unknown": [2, 0, 0, 0, 0, 0, 0, 0, 7, 1],  # mostly unknown: not trained on
    "contempt": [3, 0, 0, 0, 0, 0, 0, 6, 1, 0],  # contempt leads: unscored, neutral target
    "anger": [1, 0, 0, 0, 6, 2, 1, 0, 0, 0],  # majority angry, soft over three emotions
}


def write_ferplus(root, rows=ROWS, folders=("FER2013Train", "FER2013Valid"), seed=0):
    """A FER+ root in microsoft/FERPlus's layout: PNGs and a header-less label.csv."""
    rng = np.random.default_rng(seed)
    for folder in folders:
        (root / folder).mkdir(parents=True)
        lines = []
        for i, votes in enumerate(rows.values()):
            name = f"fer{i:07d}.png"
            cv2.imwrite(str(root / folder / name), rng.integers(0, 256, (48, 48), np.uint8))
            lines.append(f'{name},"(0, 0, 48, 48)",' + ",".join(map(str, votes)))
        (root / folder / "label.csv").write_text("\n".join(lines) + "\n")
    return root


@pytest.fixture
def ferplus_root(tmp_path, monkeypatch):
    monkeypatch.setenv("FER_CACHE_DIR", str(tmp_path / "cache"))
    return write_ferplus(tmp_path / "ferplus")


def test_reader_keeps_votes_in_file_order_and_accepts_valid_for_test(ferplus_root):
    split = load_split(ferplus_root, "train")
    assert split.is_ferplus and len(split) == len(ROWS)
    assert split.votes.tolist() == list(ROWS.values())
    assert split.images.shape == (len(ROWS), 48, 48) and split.images.dtype == np.uint8
    first = cv2.imread(str(ferplus_root / "FER2013Train" / "fer0000000.png"), 0)
    assert np.array_equal(split.images[0], first)
    valid = load_split(ferplus_root, "valid")
    assert np.array_equal(valid.votes, load_split(ferplus_root, "test").votes)
    cached = load_split(ferplus_root, "train")  # from the .npz cache, votes included
    assert np.array_equal(cached.votes, split.votes)


def test_soft_targets_drop_contempt_unknown_and_nf_and_renormalise():
    votes = np.array(list(ROWS.values()))
    t = ferplus.soft_targets(votes)
    assert np.allclose(t.sum(axis=1), 1.0)
    col = {e: i for i, e in enumerate(("angry", "disgust", "fear", "happy", "sad", "surprise"))}
    col["neutral"] = 6
    assert t[0, col["happy"]] == pytest.approx(8 / 9) and t[0, col["surprise"]] == pytest.approx(
        1 / 9
    )
    assert t[1, col["neutral"]] == t[1, col["sad"]] == pytest.approx(4 / 9)
    assert t[4, col["neutral"]] == pytest.approx(1.0)  # contempt's six votes are dropped
    assert t[5, col["angry"]] == pytest.approx(0.6) and t[5, col["disgust"]] == pytest.approx(0.2)


def test_majority_is_strict_and_only_for_emotions():
    labels = ferplus.majority_labels(np.array(list(ROWS.values())))
    # happy -> 3, tie -> none, NF -> none, unknown -> none, contempt -> none, anger -> 0
    assert labels.tolist() == [3, -1, -1, -1, -1, 0]


def test_faces_mostly_unknown_or_not_a_face_are_not_trained_on(ferplus_root):
    split = load_split(ferplus_root, "train")
    kept = split.trainable()
    assert ferplus.trainable(split.votes).tolist() == [True, True, False, False, True, True]
    assert kept.votes.tolist() == [ROWS[k] for k in ("happy", "tie", "contempt", "anger")]
    assert split.scored().labels.tolist() == [3, 0]


def test_majority_report_scores_majority_and_voted_share():
    votes = np.array(list(ROWS.values()))
    probs = np.zeros((len(votes), 7))
    probs[:, 6] = 1.0  # always neutral
    report = ferplus.majority_report(probs, votes)
    assert report["majority_n"] == 2 and report["majority_accuracy"] == 0.0
    # neutral got a vote on happy? no; tie yes; NF yes; unknown yes; contempt yes; anger yes
    assert report["voted_share"] == pytest.approx(5 / 6, abs=1e-4)
    probs[:, :] = 0
    probs[0, 3] = probs[5, 0] = 1.0  # right on both scored faces
    probs[1:5, 4] = 1.0
    assert ferplus.majority_report(probs, votes)["majority_accuracy"] == 1.0


def test_holdout_is_fixed_and_stratified(tmp_path, monkeypatch):
    monkeypatch.setenv("FER_CACHE_DIR", str(tmp_path / "cache"))
    rows = {f"h{i}": ROWS["happy"] for i in range(20)} | {f"a{i}": ROWS["anger"] for i in range(10)}
    root = write_ferplus(tmp_path / "fp", rows, folders=("FER2013Train",))
    train, held = ferplus_holdout(root, 0.1)
    assert len(held) == 3 and len(train) == 27
    assert sorted(held.labels.tolist()) == [0, 3, 3]  # 10 % of each label
    again = ferplus_holdout(root, 0.1)[1]
    assert np.array_equal(again.images, held.images)


def test_layout_errors_say_what_is_missing(tmp_path, monkeypatch):
    monkeypatch.setenv("FER_CACHE_DIR", str(tmp_path / "cache"))
    root = write_ferplus(tmp_path / "fp", folders=("FER2013Train",))
    with pytest.raises(DatasetError, match="FER2013Valid/label.csv"):
        load_split(root, "valid")
    (root / "FER2013Train" / "label.csv").write_text('fer0000000.png,"(0, 0, 48, 48)",1,2\n')
    with pytest.raises(DatasetError, match="10 vote counts"):
        load_split(root, "train", use_cache=False)


def test_match_faces_finds_the_same_face_through_jpeg_and_another_intensity_curve():
    rng = np.random.default_rng(1)
    base = cv2.GaussianBlur(rng.integers(0, 256, (40, 48, 48), np.uint8), (0, 0), 2)
    base = np.stack([cv2.normalize(b, None, 0, 255, cv2.NORM_MINMAX) for b in base])
    other = np.round(255 * (base / 255.0) ** 1.4).astype(np.uint8)  # a different curve
    other = np.stack(
        [
            cv2.imdecode(cv2.imencode(".jpg", im, [cv2.IMWRITE_JPEG_QUALITY, 75])[1], 0)
            for im in other
        ]
    )
    order = rng.permutation(40)
    match = ferplus.match_faces(base[:30], other[order])
    assert np.array_equal(order[match], np.arange(30))
    stranger = cv2.GaussianBlur(rng.integers(0, 256, (3, 48, 48), np.uint8), (0, 0), 2)
    assert (ferplus.match_faces(stranger, other) == -1).all()


def test_evaluate_prints_ferplus_majority_accuracy(ferplus_root, models_env, capsys):
    args = ["evaluate", "--data", str(ferplus_root), "--split", "valid", "--model", "shallow"]
    assert main([*args, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["split"] == "FER+ Valid" and report["n"] == 2
    assert report["ferplus"]["majority_n"] == 2 and report["ferplus"]["n"] == len(ROWS)
    assert report["accuracy"] == report["ferplus"]["majority_accuracy"]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "FER+ majority accuracy" in text and "of 6 faces" in text


def test_evaluate_write_card_stores_the_majority_accuracy_with_its_command(
    ferplus_root, untrained_models_dir, tmp_path, monkeypatch, capsys
):
    import shutil

    models = tmp_path / "models"
    shutil.copytree(untrained_models_dir, models)
    monkeypatch.setenv("FER_MODELS_DIR", str(models))
    args = ["evaluate", "--model", "shallow", "--data", str(ferplus_root), "--flip-tta"]
    assert main(args + ["--write-card"]) == 0
    printed = capsys.readouterr().out
    [entry] = json.loads((models / "shallow.json").read_text())["evaluations"]
    assert entry["split"] == "FER+ Valid" and entry["tta"] == "flip"
    assert f"FER+ majority accuracy {entry['accuracy']:.4f}" in printed
    assert entry["command"] == " ".join(["python -m fer"] + args)
    assert main(args + ["--write-card"]) == 0  # measured again: replaced, not appended
    assert len(json.loads((models / "shallow.json").read_text())["evaluations"]) == 1
    assert "evaluations" not in json.loads((untrained_models_dir / "shallow.json").read_text())
